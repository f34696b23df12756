"""Calibration of the resource model (hw `resource_estimate()`s) against nextpnr, for `--fold auto`.

    python benchmarks/fold_calibration.py [--board icebreaker ulx3s] [--only NAME ...] [--fit-only]

For every configuration below and each board, a random network of that shape is compiled, built
with `boards.build.build(..., pack_only=True)` (yosys + nextpnr `--pack-only`: the device
utilisation after packing, no placement) and its figures are set beside the analytical estimate
of `hw.accelerator.Accelerator.resource_estimate()`. The points and a least-squares line per
family and resource (used = a * estimate + b) go to boards/calibration.json, which
boards/fit.py reads to choose the fold that fits a board. Builds run in build/calibration/.
A run with --only / --board keeps the other points already in the file; --fit-only refits.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=".*created but never used")

from boards.fit import CALIBRATION, RESOURCES, estimate_raw, fit_line, measured  # noqa: E402

# name: (model config, fold, max_width per board); fold "auto" here is hw.fold.auto_fold (balanced)
CONFIGS = {
    "dn_c2n1_g": ({"task": "denoise", "scale": 1, "channels": 2, "units": 1, "colors": 1}, "balanced,shiftadd",
                  {"icebreaker": 32, "ulx3s": 32}),
    "dn_c4n2_g": ({"task": "denoise", "scale": 1, "channels": 4, "units": 2, "colors": 1}, "balanced",
                  {"icebreaker": 32, "ulx3s": 32}),
    "sr2_c8n2": ({"task": "sr", "scale": 2, "channels": 8, "units": 2}, "balanced", {"icebreaker": 32, "ulx3s": 32}),
    "sr2_c8n2_min": ({"task": "sr", "scale": 2, "channels": 8, "units": 2}, "min", {"icebreaker": 32, "ulx3s": 32}),
    "sr4_c8n2": ({"task": "sr", "scale": 4, "channels": 8, "units": 2}, "balanced", {"icebreaker": 32, "ulx3s": 32}),
    "sr2_c16n4": ({"task": "sr", "scale": 2, "channels": 16, "units": 4}, "balanced", {"icebreaker": 32, "ulx3s": 64}),
    "sr2_c32n8": ({"task": "sr", "scale": 2, "channels": 32, "units": 8}, "balanced", {"icebreaker": 32, "ulx3s": 64}),
    "sr2_c32n8_f8": ({"task": "sr", "scale": 2, "channels": 32, "units": 8}, "balanced:8",
                     {"icebreaker": 32, "ulx3s": 64}),
    "sr2_c64n16": ({"task": "sr", "scale": 2, "channels": 64, "units": 16}, "balanced:64", {"ulx3s": 64}),
    # the base shapes (recipes/*-base.yaml), sized for the ULX3S (docs/boards.md "Sizing the base models")
    "sr2_c48n12": ({"task": "sr", "scale": 2, "channels": 48, "units": 12}, "balanced:64", {"ulx3s": 64}),
    "sr4_c48n8": ({"task": "sr", "scale": 4, "channels": 48, "units": 8}, "balanced:64", {"ulx3s": 64}),
    "dn_c64n16": ({"task": "denoise", "scale": 1, "channels": 64, "units": 16}, "balanced:64", {"ulx3s": 64}),
}


def random_program(cfg: dict, seed: int = 0):
    """A random float network of this shape, compiled with the bundled calibration photos."""
    import torch

    from sw.calibration import calibration_images
    from sw.compiler import compile_model
    from sw.config import ModelConfig
    from sw.model import BBCUNet

    mc = ModelConfig(**cfg)
    torch.manual_seed(seed)
    m = BBCUNet(mc).eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "move" in n or "gamma" in n or "zeta" in n:
                p.normal_(0, 2.0)
            if "slope" in n:
                p.uniform_(-0.5, 1.5)
    return compile_model(m, calibration_images(mc, n=2))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--board", nargs="+", default=["icebreaker", "ulx3s"])
    ap.add_argument("--only", nargs="+", choices=list(CONFIGS))
    ap.add_argument("--fit-only", action="store_true")
    args = ap.parse_args(argv)

    from boards.build import build, board_info
    from boards.fit import resolve_fold_spec

    data = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else {"points": [], "fit": {}}
    points = data["points"]
    if not args.fit_only:
        for name in args.only or list(CONFIGS):
            cfg, fold, widths = CONFIGS[name]
            prog = None
            for board in args.board:
                if board not in widths:
                    continue
                prog = prog or random_program(cfg)
                family = board_info(board)["family"]
                foldc = resolve_fold_spec(prog, fold)
                out = ROOT / "build" / "calibration" / f"{board}-{name}"
                t0 = time.monotonic()
                rep = build(board, prog, out, fold=foldc, max_width=widths[board], pack_only=True,
                            raise_on_failure=False, log=lambda m: print(m, flush=True))
                est = estimate_raw(prog, foldc, board, widths[board])
                meas = measured(rep)
                pt = {"name": name, "board": board, "family": family, "model": cfg, "fold": fold,
                      "lanes": rep["fold_lanes"], "max_width": widths[board], "estimate": est, "measured": meas,
                      "lut_mul_width": rep["lut_mul_width"], "seconds": round(time.monotonic() - t0, 1),
                      "tools": rep["tools"], "failure": rep["failure"]}
                print(json.dumps({k: pt[k] for k in ("name", "board", "lanes", "estimate", "measured", "seconds")}),
                      flush=True)
                points = [p for p in points if (p["name"], p["board"]) != (name, board)] + [pt]
                data["points"] = points
                CALIBRATION.write_text(json.dumps(data, indent=1) + "\n")
    fit = {}
    for family in ("ice40", "ecp5"):
        fp = [p for p in points if p["family"] == family and p["measured"]]
        fit[family] = {}
        for r in RESOURCES:
            xs = [p["estimate"][r] for p in fp if p["measured"].get(r) is not None]
            ys = [p["measured"][r] for p in fp if p["measured"].get(r) is not None]
            if len(xs) >= 2:
                fit[family][r] = fit_line(xs, ys)
    data["fit"] = fit
    CALIBRATION.write_text(json.dumps(data, indent=1) + "\n")
    for family, f in fit.items():
        for r, v in f.items():
            print(f"{family:5s} {r:5s} used = {v['a']:.3f} * estimate + {v['b']:.0f}   "
                  f"max |error| {100 * v['max_rel_err']:.1f} % over {v['n']} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
