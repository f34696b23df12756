"""Board builds -> docs/boards.json (the list of build reports) and the table in docs/boards.md.

  python benchmarks/boards.py --run ulx3s:x2-tiny --max-width 64 --freq 60 --note "..."   # build, then add
  python benchmarks/boards.py --run ulx3s:x2-base --max-width 64 --freq 125 --router router2 --placer static --note "..."
  python benchmarks/boards.py --add build/boards/ulx_small_skid/build_report.json --note "..."
  python benchmarks/boards.py                                   # only regenerate the table

Every row of the table in docs/boards.md (between the BOARDS-TABLE markers) comes from one
report in docs/boards.json, in order; reports carry a `note` (what was built and why).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boards.build import build, table  # noqa: E402

JSON = ROOT / "docs" / "boards.json"
MD = ROOT / "docs" / "boards.md"
BEGIN, END = "<!-- BOARDS-TABLE BEGIN (benchmarks/boards.py) -->", "<!-- BOARDS-TABLE END -->"


def numbered_table(reports: list[dict]) -> str:
    lines = table(reports).splitlines()
    out = ["| # " + lines[0], "|---" + lines[1]]
    for i, l in enumerate(lines[2:], 1):
        out.append(f"| {i} " + l)
    return "\n".join(out)


def write(reports: list[dict]):
    JSON.write_text(json.dumps(reports, indent=1) + "\n")
    text = MD.read_text()
    block = f"{BEGIN}\n{numbered_table(reports)}\n{END}"
    if BEGIN in text:
        a, rest = text.split(BEGIN, 1)
        text = a + block + rest.split(END, 1)[1]
    else:
        text += "\n" + block + "\n"
    MD.write_text(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", help="BOARD:PROGRAM (program file or shipped model name)")
    ap.add_argument("--add", help="an existing build_report.json")
    ap.add_argument("--note", default="")
    ap.add_argument("--freq", type=float, default=None)
    ap.add_argument("--max-width", type=int, default=None)
    ap.add_argument("--fold", default="auto")
    ap.add_argument("--out", default=None, help="build folder (default build/boards/<board>-<name>)")
    ap.add_argument("--router", default=None, choices=("router1", "router2"),
                    help="nextpnr router (default router1)")
    ap.add_argument("--placer", default=None, choices=("heap", "static", "sa"),
                    help="nextpnr placer (default: the board's: static on the ULX3S, heap on the iCEBreaker)")
    a = ap.parse_args()
    reports = json.loads(JSON.read_text()) if JSON.exists() else []
    rep = None
    if a.run:
        board, prog = a.run.split(":", 1)
        out = a.out or str(ROOT / "build" / "boards" / f"{board}-{Path(prog).stem}")
        rep = build(board, prog, out, fold=a.fold, freq_mhz=a.freq, max_width=a.max_width, raise_on_failure=False,
                    log=lambda s: print(s, file=sys.stderr), router=a.router,
                    placer=a.placer)
    elif a.add:
        rep = json.loads(Path(a.add).read_text())
    if rep is not None:
        rep["note"] = a.note or rep.get("note", "")
        reports.append(rep)
        fmax = min(rep["fmax_mhz"].values()) if rep.get("fmax_mhz") else None
        print(json.dumps({"board": rep["board"], "fits": rep["fits"], "fmax_mhz": fmax,
                          "target_mhz": rep["target_mhz"], "meets_timing": rep["meets_timing"]}))
    write(reports)


if __name__ == "__main__":
    main()
