"""Print (and write as JSON) the stage profile of a network on one stripe: see sim/profile.py.

  python benchmarks/stage_profile.py --config sr:2:8:1 --size 4x32 [-o profile.json]
  python benchmarks/stage_profile.py --model x2-tiny --size 2x8
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.profile import profile  # noqa: E402
from sw.compiler import compile_model  # noqa: E402
from sw.config import ModelConfig  # noqa: E402
from sw.model import BBCUNet  # noqa: E402
from sw.models import resolve  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="shipped model or program file")
    ap.add_argument("--config", help="random network task:scale:channels:units, e.g. sr:2:8:1")
    ap.add_argument("--size", default="4x16", help="HxW of the stripe (LR)")
    ap.add_argument("-o", "--out")
    a = ap.parse_args()
    if a.model:
        prog = resolve(a.model).load_program()
    else:
        task, scale, ch, units = (a.config or "sr:2:8:1").split(":")
        cfg = ModelConfig(task, int(scale), int(ch), int(units))
        torch.manual_seed(0)
        prog = compile_model(BBCUNet(cfg).eval(), [torch.rand(1, cfg.colors, 16, 16)])
    h, w = (int(v) for v in a.size.split("x"))
    img = np.random.default_rng(0).integers(0, 256, (h, w, prog.config.colors), dtype=np.uint8)
    if prog.config.colors == 1:
        img = img[:, :, 0]
    rep = profile(prog, img)
    for name, s in rep["streams"].items():
        print(f"{name:26s} fire {s['fire']:8d}  back-pressured {s['backpressured']:8d}  starved {s['starved']:8d}")
    summary = {k: v for k, v in rep.items() if k != "streams"}
    print(json.dumps(summary, indent=1))
    if a.out:
        Path(a.out).write_text(json.dumps(rep, indent=1) + "\n")


if __name__ == "__main__":
    main()
