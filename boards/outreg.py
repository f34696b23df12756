"""ECP5 block-RAM output registers: a netlist pass between synth_ecp5 and nextpnr.

A DP16KD read without its output register (REGMODE "NOREG", what yosys' memory mapping produces)
has a clock-to-out of about 5.8 ns in nextpnr's speed-6 timing data, about 0.95 ns from the output
register (REGMODE "OUTREG"). At 125 MHz (8 ns) a NOREG read leaves ~2 ns for the route to the next
flip-flop: x4-base (docs/boards.md row 112) had 490 endpoints fed straight by a block RAM over 8 ns,
every one of them the data input of a flip-flop.

yosys does not use the output register, so this pass moves such flip-flops into the block RAM
after synthesis (yosys JSON netlist in, the same out): for each port (DOA / DOB) of a DP16KD whose
used data bits each drive exactly one flip-flop, all of them with

  * the block RAM's clock, not inverted (TRELLIS_FF CLKMUX "CLK"),
  * no reset (LSR tied to 0; the pass never connects RSTx, whose effect on the read latch in
    OUTREG mode the netlist simulation model could not be checked against),
  * one clock enable for all (a net with CEMUX "CE", or none: CEMUX "1"; CEMUX "INV", loading
    when the net is low, gets a LUT4 inverter in front of OCE),

the port gets REGMODE "OUTREG" with that enable on OCEx, its DO bits take the flip-flops' output
nets, and the flip-flops are deleted. The block RAM's output register then is what the flip-flops
were: loaded from the read latch at a clock edge when OCE is high. Equivalence, port by port:
flip-flop Q(t+1) = CE ? DO(t) : Q(t) with DO the latch; OUTREG(t+1) = OCE ? latch(t) : OUTREG(t).
In the pseudo-dual-port 36-bit mode (DATA_WIDTH 36, port B reads the two halves onto DOA and DOB)
the two halves are one read: both ports are converted together, with the same enable on OCEA and
OCEB, or neither is.

The post-synthesis proof (sim/postsynth.py) simulates the netlist after this pass, with OUTREG in
sim/cells/ecp5_bram_dsp.v, so the pass is covered by the same bit-exact end-to-end tile test.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path


def _top(netlist: dict) -> dict:
    mods = netlist["modules"]
    tops = [m for m in mods.values() if str(m.get("attributes", {}).get("top", "0")).strip("0") != ""]
    if len(tops) != 1:
        if len(mods) == 1:
            return next(iter(mods.values()))
        raise ValueError(f"netlist has {len(tops)} top modules, expected one (synth_ecp5 flattens)")
    return tops[0]


def _width(param) -> int:
    return int(param, 2) if isinstance(param, str) and set(param) <= {"0", "1"} else int(param)


def _const(bits, value: str) -> bool:
    return bits is None or (len(bits) == 1 and bits[0] == value)


def absorb_output_registers(netlist: dict, details: bool = False) -> dict:
    """Apply the pass to a yosys JSON netlist in place; returns {ports, flip_flops, skipped: {reason:
    n}} (details: also "cells": {block RAM: {side: "OUTREG" or the reason it stays}})."""
    mod = _top(netlist)
    cells = mod["cells"]
    sinks: dict[int, list] = defaultdict(list)
    for name, c in cells.items():
        dirs = c.get("port_directions", {})
        for port, bits in c["connections"].items():
            if dirs.get(port) != "output":
                for b in bits:
                    if isinstance(b, int):
                        sinks[b].append((name, port))
    port_bits = {b for p in mod.get("ports", {}).values() for b in p["bits"] if isinstance(b, int)}
    skipped: dict[str, int] = defaultdict(int)

    def candidate(ram: dict, side: str, read: str):
        """(enable bits, [(DO port, flip-flop name)]) or a reason string; `read`: the side whose
        clock reads onto DO`side` (x36: B for both)."""
        conn = ram["connections"]
        if ram["parameters"].get("REGMODE_" + side, "NOREG") != "NOREG":
            return "already OUTREG"
        if ram["parameters"].get(f"CLK{read}MUX", f"CLK{read}") != f"CLK{read}":
            return "clock mux"
        clk = conn.get("CLK" + read)
        pairs, enables = [], set()
        for i in range(18):
            bits = conn.get(f"DO{side}{i}")
            if not bits or not isinstance(bits[0], int) or not sinks.get(bits[0]):
                continue
            b = bits[0]
            if b in port_bits:
                return "module port"
            s = sinks[b]
            if len(s) != 1 or s[0][1] != "DI" or cells[s[0][0]]["type"] != "TRELLIS_FF":
                return "not one flip-flop"
            ff = cells[s[0][0]]
            p, fc = ff["parameters"], ff["connections"]
            if fc.get("CLK") != clk or p.get("CLKMUX", "CLK") != "CLK":
                return "other clock"
            lsrmux = p.get("LSRMUX", "LSR").strip()
            if not ((lsrmux == "LSR" and _const(fc.get("LSR"), "0")) or (lsrmux == "INV" and _const(fc.get("LSR"), "1"))):
                return "reset"
            if p.get("GSR", "ENABLED") != ram["parameters"].get("GSR", "ENABLED"):
                return "global reset"
            if p.get("REGSET", "RESET") != "RESET":
                return "set value"
            cemux = p.get("CEMUX", "CE").strip()
            if cemux == "1" or _const(fc.get("CE"), "1"):
                enables.add(("1",))
            elif cemux == "CE":
                enables.add(tuple(fc["CE"]))
            elif cemux == "INV":
                enables.add(("INV",) + tuple(fc["CE"]))
            else:
                return "enable mux"
            pairs.append((f"DO{side}{i}", s[0][0]))
        if not pairs:
            return "unused"
        if len(enables) != 1:
            return "several enables"
        return next(iter(enables)), pairs

    next_bit = 1 + max((b for c in cells.values() for bits in c["connections"].values() for b in bits
                        if isinstance(b, int)), default=1)
    inverters: dict = {}

    def inverted(bit):
        """[the net ~bit]: one LUT4 per inverted enable (an enable with CEMUX "INV": the
        flip-flops load when the net is low; the DP16KD's OCE has no inversion)."""
        nonlocal next_bit
        if bit not in inverters:
            inverters[bit] = next_bit
            cells[f"$outreg_oce_inv{next_bit}"] = {
                "hide_name": 1, "type": "LUT4", "parameters": {"INIT": format(0x5555, "016b")}, "attributes": {},
                "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
                "connections": {"A": [bit], "B": ["0"], "C": ["0"], "D": ["0"], "Z": [next_bit]}}
            next_bit += 1
        return [inverters[bit]]

    ports = flops = 0
    dead: set[int] = set()
    per_cell: dict[str, dict] = {}
    for name, ram in list(cells.items()):
        if ram["type"] != "DP16KD":
            continue
        pdp = _width(ram["parameters"].get("DATA_WIDTH_A", 18)) == 36
        found = {side: candidate(ram, side, "B" if pdp else side) for side in "AB"}
        if details:
            per_cell[name] = {side: f if isinstance(f, str) else "OUTREG" for side, f in found.items()}
        if pdp:
            got = [f for f in found.values() if not isinstance(f, str)]
            bad = [f for f in found.values() if isinstance(f, str) and f != "unused"]
            if bad or not got or len({g[0] for g in got}) != 1:
                skipped[bad[0] if bad else ("several enables" if got else "unused")] += 1
                continue
            enable = got[0][0]
            todo = {side: (f[1] if not isinstance(f, str) else []) for side, f in found.items()}
            sides = {"A": enable, "B": enable}
        else:
            todo, sides = {}, {}
            for side, f in found.items():
                if isinstance(f, str):
                    skipped[f] += 1
                else:
                    todo[side], sides[side] = f[1], f[0]
        for side, enable in sides.items():
            ram["parameters"]["REGMODE_" + side] = "OUTREG"
            ram["connections"]["OCE" + side] = inverted(enable[1]) if enable[0] == "INV" else list(enable)
        for side, pairs in todo.items():
            if pairs:
                ports += 1
            for do, ffname in pairs:
                ff = cells.pop(ffname)
                dead.add(ram["connections"][do][0])
                ram["connections"][do] = list(ff["connections"]["Q"])
                flops += 1
    # the latch outputs that fed the flip-flops are nets of nothing now: their names go
    for nn in mod.get("netnames", {}).values():
        if dead.intersection(b for b in nn["bits"] if isinstance(b, int)):
            nn["bits"] = ["x" if b in dead else b for b in nn["bits"]]
    out = {"ports": ports, "flip_flops": flops, "skipped": dict(skipped)}
    if details:
        out["cells"] = per_cell
    return out


def absorb_file(src: Path, dst: Path | None = None) -> dict:
    """The pass on a yosys JSON file (rewritten in place when dst is None)."""
    src = Path(src)
    netlist = json.loads(src.read_text())
    stats = absorb_output_registers(netlist)
    Path(dst or src).write_text(json.dumps(netlist))
    return stats


if __name__ == "__main__":
    import sys

    print(json.dumps(absorb_file(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)))
