"""Every failing endpoint of a routed design at once, per unit: nextpnr's detailed timing report
(report.json of a build with `detailed_timing=True`, i.e. `--detailed-timing-report`) read back.

    python benchmarks/routed_slack.py build/boards/NAME/report.json [--period 8] [--json out.json] [--top 20]

nextpnr's log names one critical path per clock; after a fix the next build shows the next one, a
quarter of an hour per round on the ECP5 base presets. Its detailed report has, for every endpoint
(a flip-flop, block-RAM or DSP input), the arrival time of its latest signal after routing (nextpnr's
own timing analysis: the same delays as its critical path report). This script lists the endpoints
later than the clock period (default: from the report's constraint), grouped by unit (the cell
name's hierarchy, the last component dropped), worst first, with the net that feeds the worst
endpoint of each unit, and a histogram of arrival times; --json writes the same as data.
Setup times (0 to 0.4 ns on the ECP5) are not in the arrivals, so counts near the period are a
little optimistic.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict


def unit_of(cell: str) -> str:
    """The hierarchy of a cell name: 'a.b.c.reg[3]_TRELLIS_FF_Q' -> 'a.b.c' (block RAM / DSP names
    included); a name without hierarchy is its own unit."""
    head, dot, _ = cell.rpartition(".")
    return head if dot else cell


def endpoints(report: dict) -> list[dict]:
    """[{cell, port, net, driver, arrival}] for every same-clock endpoint of the detailed report."""
    out = []
    for net in report.get("detailed_net_timings", []):
        if net.get("event", "").startswith("<async>"):
            continue
        for ep in net["endpoints"]:
            if ep.get("event", "").startswith("<async>"):
                continue
            d = ep["delay"]
            out.append({"cell": ep["cell"], "port": ep["port"], "net": net["net"], "driver": net["driver"],
                        "arrival": float(max(d) if isinstance(d, list) else d)})
    return out


def analyse(report: dict, period: float | None = None) -> dict:
    """{period, endpoints, failing, units: [{unit, failing, worst, endpoint, net}], histogram}."""
    if period is None:
        fmax = report.get("fmax") or {}
        if not fmax:
            raise ValueError("the report has no fmax constraint; give the period")
        period = 1e3 / max(v["constraint"] for v in fmax.values())
    eps = endpoints(report)
    if not eps:
        raise ValueError("the report has no detailed_net_timings (build with detailed_timing=True, "
                         "nextpnr --detailed-timing-report)")
    units: dict[str, dict] = defaultdict(lambda: {"failing": 0, "worst": -1.0, "endpoint": "", "net": ""})
    for e in eps:
        if e["arrival"] <= period:
            continue
        u = units[unit_of(e["cell"])]
        u["failing"] += 1
        if e["arrival"] > u["worst"]:
            u.update(worst=round(e["arrival"], 3), endpoint=f"{e['cell']}.{e['port']}", net=e["net"])
    rows = sorted(({"unit": k, **v} for k, v in units.items()), key=lambda r: -r["worst"])
    edges = [period * f for f in (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0)]
    hist = {f"<= {edges[0]:.2f}": 0}
    for lo, hi in zip(edges, edges[1:]):
        hist[f"({lo:.2f}, {hi:.2f}]"] = 0
    hist[f"> {edges[-1]:.2f}"] = 0
    keys = list(hist)
    for e in eps:
        i = sum(e["arrival"] > x for x in edges)
        hist[keys[i]] += 1
    worst = max(eps, key=lambda e: e["arrival"])
    return {"period": round(period, 4), "endpoints": len(eps), "failing": sum(r["failing"] for r in rows),
            "worst_arrival": round(worst["arrival"], 3), "units": rows, "histogram": hist}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("report", help="nextpnr report.json written with --detailed-timing-report")
    ap.add_argument("--period", type=float, default=None, help="clock period in ns (default: the constraint)")
    ap.add_argument("--top", type=int, default=25, help="units to print")
    ap.add_argument("--json", default=None, help="write the analysis here")
    a = ap.parse_args(argv)
    try:
        with open(a.report) as f:
            res = analyse(json.load(f), a.period)
    except (OSError, ValueError, KeyError) as e:
        print(f"routed_slack: {e}", file=sys.stderr)
        return 2
    print(f"period {res['period']} ns: {res['failing']} of {res['endpoints']} endpoints later "
          f"(worst arrival {res['worst_arrival']} ns)")
    for k, v in res["histogram"].items():
        print(f"  arrival {k:>16}: {v}")
    print(f"{'failing':>8} {'worst ns':>8}  unit / worst endpoint <- net")
    for r in res["units"][:a.top]:
        print(f"{r['failing']:>8} {r['worst']:>8.2f}  {r['unit']}\n{'':>19}{r['endpoint']} <- {r['net']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
