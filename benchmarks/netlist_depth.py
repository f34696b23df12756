"""Every long path of a synthesised iCE40 or ECP5 netlist at once, before placement: a crude
arrival-time estimate per endpoint (flip-flop, block RAM, SPRAM and DSP inputs) on the yosys JSON
that a board build leaves behind (build/boards/NAME/top.json), worst first, one line per pair of
(source unit, endpoint unit).

    python benchmarks/netlist_depth.py build/boards/NAME/top.json [--threshold 20.8] [--json out.json] [--trace N]
    python benchmarks/netlist_depth.py build/boards/ulx3s-x2-base/top.json --threshold 8   # ECP5 at 125 MHz

nextpnr's report names one critical path per clock after a place and route of minutes; this
lists all paths over the threshold in seconds, so that one round of register cuts can address
them together. The delay model (ns) is rough and only ranks paths: clock-to-out 1.4 (FF) or 3.0
(RAM), LUT 1.0 + 2.4 routing, carry 0.28 per bit, a carry's entry 2.8, setup 0.5 + routing,
SPRAM inputs +4 (the SPRAMs lie in the corners), an unregistered SB_MAC16 7.0 from its inputs.
Calibrated on row 59 of docs/boards.md: estimate 64 ns for nextpnr's 65 ns critical path.
ECP5 (synth_ecp5 cells; ECP5_* constants below): clock-to-out 0.5 (FF) or 4.3 (DP16KD without
output register), LUT 0.25 + 1.0 routing (PFUMX / L6MUX21 0.2 from their LUTs), a CCU2C carry 0.1
per cell, an unregistered MULT18X18D 4.0, setup 0.1 + routing: row 71's nextpnr critical path
(16.8 ns) is mostly long routes, which no netlist estimate sees, so on ECP5 the list ranks logic
depth only (`--summary` counts the endpoints over the threshold per unit).
"""
from __future__ import annotations

import argparse
import json
import re
import sys

LUT, ROUTE = 1.0, 2.4
ECP5_LUT, ECP5_ROUTE, ECP5_CARRY, ECP5_MUL, ECP5_EBR = 0.25, 1.0, 0.1, 4.0, 4.3


def _param(cell: dict, key: str) -> int:
    v = cell["parameters"].get(key, "0")
    return int(v, 2) if isinstance(v, str) else int(v)


def analyse(netlist: dict, threshold: float, counts: dict | None = None) -> list[dict]:
    """The worst path per (source unit, endpoint unit) over `threshold` ns, worst first; `counts`
    (a dict, if given) gets the number of endpoints over the threshold per endpoint unit."""
    top = next(m for m in netlist["modules"].values() if m.get("attributes", {}).get("top"))
    cells = top["cells"]
    names: dict[int, tuple[str, int]] = {}
    for n, nn in top["netnames"].items():
        if nn.get("hide_name"):
            continue
        for i, b in enumerate(nn["bits"]):
            if isinstance(b, int) and (b not in names or len(n) < len(names[b][0])):
                names[b] = (n, i)

    def nm(b) -> str:
        return f"{names[b][0]}[{names[b][1]}]" if b in names else f"#{b}"

    drivers, starts, ends = {}, {}, []
    for cn, c in cells.items():
        t, con = c["type"], c["connections"]
        if t == "SB_LUT4":
            drivers[con["O"][0]] = (cn, [con[f"I{i}"][0] for i in range(4)], None)
        elif t == "SB_CARRY":
            drivers[con["CO"][0]] = (cn, [con["CI"][0], con["I0"][0], con["I1"][0]], (0.28, ROUTE + 0.4, ROUTE + 0.4))
        elif t.startswith("SB_DFF"):
            starts[con["Q"][0]] = 1.4
            for k in ("D", "E", "R", "S"):
                if k in con:
                    ends.append((con[k][0], ROUTE + 0.5, f"{t}.{k} -> {nm(con['Q'][0])}"))
        elif t == "SB_RAM40_4K":
            for b in con["RDATA"]:
                starts[b] = 3.0
            for k in ("RADDR", "WADDR", "WDATA", "MASK", "RE", "WE", "RCLKE", "WCLKE"):
                for b in con.get(k, []):
                    ends.append((b, ROUTE + 1.0, f"RAM {cn}.{k}"))
        elif t == "SB_SPRAM256KA":
            for b in con["DATAOUT"]:
                starts[b] = 3.0
            for k in ("ADDRESS", "DATAIN", "MASKWREN", "WREN", "CHIPSELECT"):
                for b in con.get(k, []):
                    ends.append((b, ROUTE + 4.0, f"SPRAM {cn}.{k}"))
        elif t == "LUT4":
            drivers[con["Z"][0]] = (cn, [con[k][0] for k in "ABCD"], (ECP5_ROUTE + ECP5_LUT,) * 4)
        elif t == "PFUMX":
            drivers[con["Z"][0]] = (cn, [con["ALUT"][0], con["BLUT"][0], con["C0"][0]],
                                    (0.2, 0.2, ECP5_ROUTE + ECP5_LUT))
        elif t == "L6MUX21":
            drivers[con["Z"][0]] = (cn, [con["D0"][0], con["D1"][0], con["SD"][0]], (0.2, 0.2, ECP5_ROUTE + ECP5_LUT))
        elif t == "CCU2C":
            ins = [con[f"{k}{i}"][0] for i in (0, 1) for k in "ABCD"] + [con["CIN"][0]]
            dl = (ECP5_ROUTE + ECP5_LUT + 0.2,) * 8 + (ECP5_CARRY,)
            for o in ("S0", "S1", "COUT"):
                drivers[con[o][0]] = (cn, ins, dl)
        elif t == "TRELLIS_FF":
            starts[con["Q"][0]] = 0.5
            for k in ("DI", "CE", "LSR"):
                if k in con:
                    ends.append((con[k][0], ECP5_ROUTE + 0.1, f"{t}.{k} -> {nm(con['Q'][0])}"))
        elif t == "DP16KD":
            for k, bits in con.items():
                if k.startswith("DO"):
                    unreg = "NOREG" in str(c["parameters"].get(f"REGMODE_{k[2]}", "NOREG"))
                    starts[bits[0]] = ECP5_EBR if unreg else 1.0
                elif not k.startswith("CLK"):
                    ends.append((bits[0], ECP5_ROUTE + 0.5, f"RAM {cn}.{k}"))
        elif t == "TRELLIS_DPR16X4":
            rad = con["RAD"]
            for b in con["DO"]:
                drivers[b] = (cn, rad, (ECP5_ROUTE + 0.5,) * len(rad))
            for k in ("DI", "WAD", "WRE"):
                for b in con.get(k, []):
                    ends.append((b, ECP5_ROUTE + 0.3, f"LUTRAM {cn}.{k}"))
        elif t == "MULT18X18D":
            ins = [bits[0] for k, bits in con.items() if k[0] in "AB" and k[1:].isdigit()]
            for k, bits in con.items():
                if k[0] == "P" and k[1:].isdigit():
                    drivers[bits[0]] = (cn, ins, (ECP5_ROUTE + ECP5_MUL,) * len(ins))
        elif t == "SB_MAC16":
            outreg = _param(c, "TOPOUTPUT_SELECT") == 1 or _param(c, "PIPELINE_16x16_MULT_REG2")
            ins = [b for k in ("A", "B", "C", "D") for b in con.get(k, [])]
            for k in ("A", "B", "C", "D", "OLOADTOP", "OLOADBOT", "OHOLDTOP", "OHOLDBOT", "ADDSUBTOP",
                      "ADDSUBBOT", "CI"):
                for b in con.get(k, []):
                    ends.append((b, ROUTE + 1.5, f"MAC {cn}.{k}"))
            for b in con["O"]:
                if outreg or _param(c, "A_REG"):
                    starts[b] = 1.5
                else:
                    drivers[b] = (cn, ins, tuple(7.0 for _ in ins))

    arr: dict = {}
    pred: dict = {}

    visiting: set = set()

    def arrival(root) -> float:
        # iterative depth-first evaluation (netlists are deeper than Python's recursion limit)
        stack = [root]
        while stack:
            b = stack[-1]
            if isinstance(b, str) or b in arr:
                stack.pop()
                continue
            if b in starts or b not in drivers:
                arr[b] = starts.get(b, 0.0)
                stack.pop()
                continue
            cn, ins, dl = drivers[b]
            todo = [x for x in ins if not isinstance(x, str) and x not in arr and x not in visiting]
            if todo:
                visiting.add(b)
                stack.extend(todo)
                continue
            best, bi = 0.0, None
            for i, x in enumerate(ins):
                at = 0.0 if isinstance(x, str) else arr.get(x, 0.0)
                if dl is None:      # LUT: I3 from a carry in the same tile is a short hop
                    from_carry = i == 3 and x in drivers and cells[drivers[x][0]]["type"] == "SB_CARRY"
                    step = 0.6 if from_carry else ROUTE + LUT
                else:
                    step = dl[i]
                if at + step > best:
                    best, bi = at + step, x
            arr[b], pred[b] = best, bi
            visiting.discard(b)
            stack.pop()
        return arr.get(root, 0.0)

    def unit(x: str) -> str:
        x = re.sub(r"\[.*", "", x)
        return ".".join(x.split(".")[:-1]) if "." in x else x

    res = sorted(((arrival(b) + extra, b, lab) for b, extra, lab in ends if not isinstance(b, str)),
                 key=lambda r: -r[0])       # (an input tied to a constant is no endpoint)
    out, seen = [], set()
    for a, b, lab in res:
        if a < threshold:
            break
        trace = []
        x = b
        while x is not None and not isinstance(x, str) and len(trace) < 10_000:
            trace.append(x)
            x = pred.get(x)
        src = nm(trace[-1])
        dst_unit = unit(lab.split("->")[-1].strip() if "->" in lab else lab.split()[1])
        if counts is not None:
            counts[dst_unit] = counts.get(dst_unit, 0) + 1
        key = (unit(src), dst_unit)
        if key in seen:
            continue
        seen.add(key)
        # the path's named nets, source first (unnamed intermediate nets left out)
        path = [nm(x) for x in reversed(trace) if x in names]
        out.append({"estimate_ns": round(a, 1), "endpoint": lab, "from": src, "nets": len(trace), "path": path})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("netlist", help="yosys JSON netlist (build/boards/NAME/top.json)")
    ap.add_argument("--threshold", type=float, default=20.8, help="ns (default 20.8: 48 MHz)")
    ap.add_argument("--json", help="write the list here too")
    ap.add_argument("--trace", type=int, default=0, metavar="N", help="also list the named nets of the N worst paths")
    ap.add_argument("--summary", type=int, default=0, metavar="N",
                    help="also list the N endpoint units with the most endpoints over the threshold")
    a = ap.parse_args(argv)
    try:
        with open(a.netlist) as f:
            netlist = json.load(f)
    except (OSError, ValueError) as e:
        print(f"error: cannot read {a.netlist}: {e}", file=sys.stderr)
        return 2
    counts: dict = {}
    rows = analyse(netlist, a.threshold, counts)
    for r in rows:
        print(f"{r['estimate_ns']:6.1f}  {r['endpoint'][:80]}  from {r['from']}  ({r['nets']} nets)")
    print(f"{len(rows)} (source unit, endpoint unit) pairs over {a.threshold} ns")
    for r in rows[:a.trace]:
        print(f"\n{r['estimate_ns']} ns to {r['endpoint']}:")
        for n in r["path"]:
            print(f"    {n}")
    if a.summary:
        print(f"\nendpoints over {a.threshold} ns per endpoint unit ({sum(counts.values())} in all):")
        for u, n in sorted(counts.items(), key=lambda kv: -kv[1])[:a.summary]:
            print(f"{n:8d}  {u}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"paths": rows, "endpoints_per_unit": counts} if a.summary else rows, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:         # (piped into head: the reader has what it wanted)
        sys.stderr.close()
        sys.exit(0)
