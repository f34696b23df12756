"""Combinational fan-out of a top-level input in the flattened RTL netlist (yosys proc + flatten).

`register_fanout(component, port, workdir)` lists the flip-flops (and memory ports) that a change
of `port` reaches through combinational cells only, each with the names of the nets its Q drives.
Tests use it to check structural timing properties that simulation cannot see: the power-on reset
reaching the dataflow network only through its reset-tree copies (tests/test_hw_reset_tree.py), a
skid buffer's data registers enabled without its o.ready (tests/test_hw_skid.py).
"""
from __future__ import annotations

import collections
import json
import shutil
import subprocess
from pathlib import Path

FF_TYPES = {"$dff", "$dffe", "$adff", "$adffe", "$sdff", "$sdffe", "$sdffce", "$aldff", "$aldffe", "$dffsr",
            "$dffsre"}


class NoYosys(RuntimeError):
    pass


def register_fanout(component, port: str, workdir: Path, yosys: str | None = None) -> dict:
    """{cell name: [net names on its Q]} for every register (flip-flop or memory port) reached
    from the top-level input `port` of `component` (or the net whose flattened name ends in
    `port`) through combinational cells. Raises NoYosys if
    the yosys binary (default: the ULX3S flow's, boards.build.tool_env) is not installed."""
    from amaranth.back import rtlil

    from boards.build import tool_env

    yosys = yosys or tool_env("ulx3s")["YOSYS"]
    if not shutil.which(yosys):
        raise NoYosys(f"{yosys} not installed")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "top.il").write_text(rtlil.convert(component, name="top"))
    (workdir / "s.ys").write_text("read_rtlil top.il\nhierarchy -top top\nproc\nflatten\nopt_clean\n"
                                  "write_json top.json\n")
    r = subprocess.run([yosys, "-q", "s.ys"], cwd=workdir, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"yosys failed: {r.stderr[-2000:]}")
    mod = json.loads((workdir / "top.json").read_text())["modules"]["top"]
    cells = mod["cells"]
    readers = collections.defaultdict(list)
    for name, c in cells.items():
        for p, direction in c["port_directions"].items():
            if direction == "input":
                for bit in c["connections"][p]:
                    if isinstance(bit, int):
                        readers[bit].append(name)
    names = collections.defaultdict(list)
    for name, net in mod["netnames"].items():
        for bit in net["bits"]:
            if isinstance(bit, int):
                names[bit].append(name)
    if port in mod["ports"]:
        bits = mod["ports"][port]["bits"]
    else:                                       # an internal net: the one whose name ends in `port`
        found = sorted(n for n in mod["netnames"] if n == port or n.endswith("." + port))
        if len(found) != 1:
            raise KeyError(f"{port!r}: {len(found)} nets match ({found[:5]})")
        bits = mod["netnames"][found[0]]["bits"]
    todo = [b for b in bits if isinstance(b, int)]
    seen, sinks = set(todo), set()
    while todo:
        for name in readers[todo.pop()]:
            c = cells[name]
            if c["type"] in FF_TYPES or c["type"].startswith("$mem"):
                sinks.add(name)
                continue
            for p, direction in c["port_directions"].items():
                if direction == "output":
                    new = [b for b in c["connections"][p] if isinstance(b, int) and b not in seen]
                    seen.update(new)
                    todo.extend(new)
    out = {}
    for name in sorted(sinks):
        q = [b for b in cells[name]["connections"].get("Q", []) if isinstance(b, int)]
        out[name] = sorted({n for b in q for n in names.get(b, [])})
    return out
