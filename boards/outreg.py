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

DSP output registers (absorb_dsp_output_registers, run by absorb_file after the block RAMs): yosys
maps a product onto a MULT18X18D with every REG_* "NONE", and nextpnr's speed-6 data give the
combinational multiplier ~3.9 ns from A/B to P, so operand register -> route -> multiplier -> route
-> product register did not fit 8 ns (x4-base, docs/boards.md row 128: a scale unit's constant ROM
-> DSP -> product register, 10.26 ns). A MULT18X18D whose used P bits each drive exactly one
flip-flop with the rules above (one clock, not inverted, no reset, one enable) gets its output
register instead: REG_OUTPUT_CLK "CLK0" with CLK0 = that clock, REG_OUTPUT_CE "CE0" with CE0 = the
enable (a LUT4 inverter for CEMUX "INV", "1" for none), RST0 tied low, GSR as the flip-flops' (the
block has no other register in use); the P bits take the
flip-flops' output nets and the flip-flops go. Equivalence: flip-flop Q(t+1) = CE ? A*B(t) : Q(t);
output register P(t+1) = CE0 ? A*B(t) : P(t). nextpnr then times A/B as the register's inputs
(its MULT18X18D_REGS_OUTPUT data) and P from the clock.
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


class _Netlist:
    """The top module of a yosys JSON netlist with what both passes need: each net's loads, the
    module ports' nets, and new nets / LUT4 inverters for enables with CEMUX "INV"."""

    def __init__(self, netlist: dict):
        self.mod = _top(netlist)
        self.cells = self.mod["cells"]
        self.sinks: dict[int, list] = defaultdict(list)
        for name, c in self.cells.items():
            dirs = c.get("port_directions", {})
            for port, bits in c["connections"].items():
                if dirs.get(port) != "output":
                    for b in bits:
                        if isinstance(b, int):
                            self.sinks[b].append((name, port))
        self.port_bits = {b for p in self.mod.get("ports", {}).values() for b in p["bits"] if isinstance(b, int)}
        self.next_bit = 1 + max((b for c in self.cells.values() for bits in c["connections"].values() for b in bits
                                 if isinstance(b, int)), default=1)
        self.inverters: dict = {}
        self.dead: set[int] = set()

    def flip_flop(self, bit, clk, gsr: str):
        """(flip-flop name, its enable) if net `bit` drives exactly one thing, the DI of a TRELLIS_FF
        that can be a hard block's register (clock `clk`, not inverted; no reset; set value 0; the
        block's GSR setting); its enable: ("1",), (net bits), or ("INV", net bits) for CEMUX "INV".
        Else the reason it cannot (a string)."""
        if bit in self.port_bits:
            return "module port"
        s = self.sinks[bit]
        if len(s) != 1 or s[0][1] != "DI" or self.cells[s[0][0]]["type"] != "TRELLIS_FF":
            return "not one flip-flop"
        ff = self.cells[s[0][0]]
        p, fc = ff["parameters"], ff["connections"]
        if fc.get("CLK") != clk or p.get("CLKMUX", "CLK") != "CLK":
            return "other clock"
        lsrmux = p.get("LSRMUX", "LSR").strip()
        if not ((lsrmux == "LSR" and _const(fc.get("LSR"), "0")) or (lsrmux == "INV" and _const(fc.get("LSR"), "1"))):
            return "reset"
        if p.get("GSR", "ENABLED") != gsr:
            return "global reset"
        if p.get("REGSET", "RESET") != "RESET":
            return "set value"
        cemux = p.get("CEMUX", "CE").strip()
        if cemux == "1" or _const(fc.get("CE"), "1"):
            return s[0][0], ("1",)
        if cemux == "CE":
            return s[0][0], tuple(fc["CE"])
        if cemux == "INV":
            return s[0][0], ("INV",) + tuple(fc["CE"])
        return "enable mux"

    def enable_net(self, enable: tuple) -> list:
        """The connection of a hard block's (active-high) enable pin for a flip_flop() enable: an
        inverted one through one LUT4 per net (the DP16KD's OCE and the MULT18X18D's CE have no
        inversion)."""
        if enable[0] != "INV":
            return list(enable)
        bit = enable[1]
        if bit not in self.inverters:
            self.inverters[bit] = self.next_bit
            self.cells[f"$outreg_oce_inv{self.next_bit}"] = {
                "hide_name": 1, "type": "LUT4", "parameters": {"INIT": format(0x5555, "016b")}, "attributes": {},
                "port_directions": {"A": "input", "B": "input", "C": "input", "D": "input", "Z": "output"},
                "connections": {"A": [bit], "B": ["0"], "C": ["0"], "D": ["0"], "Z": [self.next_bit]}}
            self.next_bit += 1
        return [self.inverters[bit]]

    def take(self, block: dict, pin: str, ffname: str):
        """The block's output `pin` takes flip-flop `ffname`'s output net; the flip-flop goes."""
        ff = self.cells.pop(ffname)
        self.dead.add(block["connections"][pin][0])
        block["connections"][pin] = list(ff["connections"]["Q"])

    def forget_dead_nets(self):
        """The outputs that fed the flip-flops are nets of nothing now: their names go."""
        for nn in self.mod.get("netnames", {}).values():
            if self.dead.intersection(b for b in nn["bits"] if isinstance(b, int)):
                nn["bits"] = ["x" if b in self.dead else b for b in nn["bits"]]
        self.dead.clear()


def absorb_output_registers(netlist: dict, details: bool = False) -> dict:
    """Apply the block-RAM pass to a yosys JSON netlist in place; returns {ports, flip_flops,
    skipped: {reason: n}} (details: also "cells": {block RAM: {side: "OUTREG" or the reason it
    stays}})."""
    net = _Netlist(netlist)
    cells, sinks = net.cells, net.sinks
    skipped: dict[str, int] = defaultdict(int)

    def candidate(ram: dict, side: str, read: str):
        """(enable, [(DO port, flip-flop name)]) or a reason string; `read`: the side whose
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
            got = net.flip_flop(bits[0], clk, ram["parameters"].get("GSR", "ENABLED"))
            if isinstance(got, str):
                return got
            enables.add(got[1])
            pairs.append((f"DO{side}{i}", got[0]))
        if not pairs:
            return "unused"
        if len(enables) != 1:
            return "several enables"
        return next(iter(enables)), pairs

    ports = flops = 0
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
            ram["connections"]["OCE" + side] = net.enable_net(enable)
        for side, pairs in todo.items():
            if pairs:
                ports += 1
            for do, ffname in pairs:
                net.take(ram, do, ffname)
                flops += 1
    net.forget_dead_nets()
    out = {"ports": ports, "flip_flops": flops, "skipped": dict(skipped)}
    if details:
        out["cells"] = per_cell
    return out


def absorb_dsp_output_registers(netlist: dict) -> dict:
    """Apply the DSP pass (module docstring) to a yosys JSON netlist in place; returns {blocks,
    flip_flops, skipped: {reason: n}}."""
    net = _Netlist(netlist)
    skipped: dict[str, int] = defaultdict(int)
    blocks = flops = 0
    for name, dsp in list(net.cells.items()):
        if dsp["type"] != "MULT18X18D":
            continue
        par, conn = dsp["parameters"], dsp["connections"]
        if any(par.get(f"REG_{r}_CLK", "NONE") != "NONE" for r in ("INPUTA", "INPUTB", "INPUTC", "PIPELINE", "OUTPUT")):
            skipped["registered"] += 1
            continue
        used = [(f"P{i}", conn[f"P{i}"][0]) for i in range(36)
                if conn.get(f"P{i}") and isinstance(conn[f"P{i}"][0], int) and net.sinks.get(conn[f"P{i}"][0])]
        if not used:
            skipped["unused"] += 1
            continue
        # (the clock and the GSR setting of the first flip-flop, which all must share; the block
        # takes them: its registers are unused so far)
        first = net.cells[net.sinks[used[0][1]][0][0]]
        clk, gsr = first["connections"].get("CLK"), first["parameters"].get("GSR", "ENABLED")
        found = [net.flip_flop(bit, clk, gsr) for _, bit in used]
        bad = [f for f in found if isinstance(f, str)]
        if bad or len({f[1] for f in found}) != 1:
            skipped[bad[0] if bad else "several enables"] += 1
            continue
        par.update({"REG_OUTPUT_CLK": "CLK0", "REG_OUTPUT_CE": "CE0", "REG_OUTPUT_RST": "RST0", "GSR": gsr})
        conn.update({"CLK0": list(clk), "CE0": net.enable_net(found[0][1]), "RST0": ["0"]})
        for d in ("CLK0", "CE0", "RST0"):
            dsp["port_directions"][d] = "input"
        for (pin, _), (ffname, _) in zip(used, found):
            net.take(dsp, pin, ffname)
            flops += 1
        blocks += 1
    net.forget_dead_nets()
    return {"blocks": blocks, "flip_flops": flops, "skipped": dict(skipped)}


def absorb_file(src: Path, dst: Path | None = None) -> dict:
    """The pass on a yosys JSON file (rewritten in place when dst is None)."""
    src = Path(src)
    netlist = json.loads(src.read_text())
    stats = absorb_output_registers(netlist)
    stats["dsp"] = absorb_dsp_output_registers(netlist)
    Path(dst or src).write_text(json.dumps(netlist))
    return stats


if __name__ == "__main__":
    import sys

    print(json.dumps(absorb_file(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)))
