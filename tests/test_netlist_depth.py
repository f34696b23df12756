"""benchmarks/netlist_depth.py: path estimates on hand-built yosys netlists (a flip-flop through a
chain of LUTs into a flip-flop, a carry chain, an SPRAM address), worst first, one per unit pair."""
import json

import pytest

from benchmarks.netlist_depth import (ECP5_CARRY, ECP5_LUT, ECP5_MUL, ECP5_ROUTE, LUT, ROUTE, analyse,
                                      main)


def _netlist(cells: dict, netnames: dict) -> dict:
    return {"modules": {"top": {"attributes": {"top": 1}, "cells": cells,
                                "netnames": {n: {"bits": b} for n, b in netnames.items()}}}}


def _ff(d, q, t="SB_DFF"):
    return {"type": t, "parameters": {}, "connections": {"C": [1], "D": [d], "Q": [q]}}


def _lut(ins, o):
    return {"type": "SB_LUT4", "parameters": {},
            "connections": {"I0": [ins[0]], "I1": [ins[1]], "I2": ["0"], "I3": [ins[2] if len(ins) > 2 else "0"],
                            "O": [o]}}


def test_lut_chain_and_grouping():
    # u.a -> 3 LUTs -> v.b ; u.a -> 1 LUT -> v.c (same unit pair: only the worse is listed)
    cells = {"ffa": _ff(99, 10), "l1": _lut([10, 10], 11), "l2": _lut([11, 10], 12), "l3": _lut([12, 11], 13),
             "ffb": _ff(13, 20), "l4": _lut([10, 10], 14), "ffc": _ff(14, 21)}
    rows = analyse(_netlist(cells, {"u.a": [10], "u.m": [12], "v.b": [20], "v.c": [21]}), 0.0)
    # (u, v) once (the one-LUT path to v.c is the same unit pair), and the undriven D of u.a
    assert [r["endpoint"] for r in rows] == ["SB_DFF.D -> v.b[0]", "SB_DFF.D -> u.a[0]"]
    top = rows[0]
    assert top["from"] == "u.a[0]" and "v.b" in top["endpoint"]
    # the path's named nets, source first (l1's and l3's outputs have no name)
    assert top["path"] == ["u.a[0]", "u.m[0]"]
    assert top["estimate_ns"] == pytest.approx(1.4 + 3 * (ROUTE + LUT) + ROUTE + 0.5, abs=0.05)


def test_carry_chain_and_spram_endpoint():
    carry = {f"c{i}": {"type": "SB_CARRY", "parameters": {},
                       "connections": {"CI": [30 + i], "I0": [10], "I1": ["0"], "CO": [31 + i]}} for i in range(8)}
    cells = {"ffa": _ff(99, 10), **carry,
             "sp": {"type": "SB_SPRAM256KA", "parameters": {},
                    "connections": {"ADDRESS": [38], "DATAIN": [], "DATAOUT": [50]}}}
    rows = analyse(_netlist(cells, {"u.a": [10], "u.cin": [30]}), 0.0)
    sp = [r for r in rows if r["endpoint"].startswith("SPRAM")][0]
    # every stage takes u.a: the worst path enters at the first stage and ripples through 7 more
    assert sp["estimate_ns"] == pytest.approx(1.4 + ROUTE + 0.4 + 7 * 0.28 + ROUTE + 4.0, abs=0.05)


def test_cli(tmp_path, capsys):
    p = tmp_path / "top.json"
    p.write_text(json.dumps(_netlist({"ffa": _ff(99, 10), "l1": _lut([10, 10], 11), "ffb": _ff(11, 20)},
                                     {"u.a": [10], "v.b": [20]})))
    assert main([str(p), "--threshold", "5", "--json", str(tmp_path / "o.json")]) == 0
    assert "from u.a[0]" in capsys.readouterr().out
    assert json.loads((tmp_path / "o.json").read_text())[0]["from"] == "u.a[0]"
    assert main([str(tmp_path / "missing.json")]) == 2
    # --trace lists the named nets of the worst paths
    assert main([str(p), "--threshold", "5", "--trace", "1"]) == 0
    out = capsys.readouterr().out
    assert "ns to SB_DFF.D -> v.b[0]:" in out and "    u.a[0]" in out


def _tff(d, q, ce=None):
    con = {"CLK": [1], "DI": [d], "LSR": ["0"], "Q": [q]}
    if ce is not None:
        con["CE"] = [ce]
    return {"type": "TRELLIS_FF", "parameters": {}, "connections": con}


def test_ecp5_cells_and_endpoint_summary(tmp_path, capsys):
    """ECP5: FF -> LUT4 -> MULT18X18D -> CCU2C chain -> FF, and an enable through two LUT4s; the
    per-unit endpoint counts (--summary)."""
    lut = lambda i, o: {"type": "LUT4", "parameters": {},  # noqa: E731
                        "connections": {"A": [i], "B": ["0"], "C": ["0"], "D": ["0"], "Z": [o]}}
    mul = {"type": "MULT18X18D", "parameters": {},
           "connections": {**{f"A{k}": [11] for k in range(18)}, **{f"B{k}": ["0"] for k in range(18)},
                           "P0": [12]}}
    ccu = {f"c{i}": {"type": "CCU2C", "parameters": {},
                     "connections": {"A0": [12], "B0": ["0"], "C0": ["0"], "D0": ["0"], "A1": ["0"], "B1": ["0"],
                                     "C1": ["0"], "D1": ["0"], "CIN": [40 + i], "COUT": [41 + i], "S0": [60 + i],
                                     "S1": [80 + i]}} for i in range(4)}
    cells = {"ffa": _tff(99, 10), "l1": lut(10, 11), "m": mul, **ccu, "ffb": _tff(63, 20),
             "l2": lut(10, 13), "l3": lut(13, 14), "ffc": _tff(98, 21, ce=14)}
    net = _netlist(cells, {"u.a": [10], "v.b": [20], "w.c": [21]})
    counts = {}
    rows = analyse(net, 0.0, counts)
    b = [r for r in rows if r["endpoint"] == "TRELLIS_FF.DI -> v.b[0]"][0]
    hop = ECP5_ROUTE + ECP5_LUT
    assert b["estimate_ns"] == pytest.approx(0.5 + hop + ECP5_ROUTE + ECP5_MUL + hop + 0.2 + 3 * ECP5_CARRY
                                             + ECP5_ROUTE + 0.1, abs=0.05)
    c = [r for r in rows if r["endpoint"] == "TRELLIS_FF.CE -> w.c[0]"][0]
    assert c["estimate_ns"] == pytest.approx(0.5 + 2 * hop + ECP5_ROUTE + 0.1, abs=0.05)
    assert counts["v"] == 1 and counts["w"] == 2          # (w.c: its CE and its undriven DI)
    p = tmp_path / "top.json"
    p.write_text(json.dumps(net))
    assert main([str(p), "--threshold", "3", "--summary", "5", "--json", str(tmp_path / "o.json")]) == 0
    assert "endpoints over 3.0 ns per endpoint unit" in capsys.readouterr().out
    assert json.loads((tmp_path / "o.json").read_text())["endpoints_per_unit"]["v"] == 1
