"""benchmarks/routed_slack.py on a hand-built nextpnr detailed timing report."""
import json

import pytest

from benchmarks.routed_slack import analyse, main, unit_of


def report(arrivals: dict, constraint=125.0, detailed=True) -> dict:
    """arrivals: {endpoint cell: arrival ns}, one net per endpoint."""
    r = {"fmax": {"clk": {"achieved": 70.0, "constraint": constraint}}, "critical_paths": []}
    if detailed:
        r["detailed_net_timings"] = [
            {"net": f"n{i}", "driver": f"drv{i}", "port": "F", "event": "posedge clk", "sources": [],
             "endpoints": [{"cell": c, "port": "DI", "event": "posedge clk", "delay": [t / 2, t]}]}
            for i, (c, t) in enumerate(arrivals.items())]
        r["detailed_net_timings"].append(
            {"net": "btn", "driver": "io", "port": "O", "event": "<async>", "sources": [],
             "endpoints": [{"cell": "a.sync.ff", "port": "DI", "event": "posedge clk", "delay": [20.0, 20.0]}]})
    return r


def test_unit_of():
    assert unit_of("accel.core.net.layer3.win.c0[34]_TRELLIS_FF_Q") == "accel.core.net.layer3.win"
    assert unit_of("top_ff") == "top_ff"


def test_failing_endpoints_per_unit():
    res = analyse(report({"a.b.x_FF": 9.0, "a.b.y_FF": 12.5, "a.c.z_FF": 7.9, "a.c.w_FF": 8.2, "q": 3.0}))
    assert res["period"] == 8.0 and res["endpoints"] == 5        # (the async source is left out)
    assert res["failing"] == 3 and res["worst_arrival"] == 12.5
    assert [(u["unit"], u["failing"], u["worst"]) for u in res["units"]] == [("a.b", 2, 12.5), ("a.c", 1, 8.2)]
    assert res["units"][0]["endpoint"] == "a.b.y_FF.DI" and res["units"][0]["net"] == "n1"
    assert sum(res["histogram"].values()) == 5
    assert analyse(report({"a.b.x_FF": 9.0}), period=10.0)["failing"] == 0


def test_cli(tmp_path, capsys):
    p = tmp_path / "report.json"
    p.write_text(json.dumps(report({"a.b.x_FF": 9.0})))
    assert main([str(p), "--json", str(tmp_path / "o.json")]) == 0
    assert "1 of 1 endpoints later" in capsys.readouterr().out
    assert json.loads((tmp_path / "o.json").read_text())["failing"] == 1
    p.write_text(json.dumps(report({"a.b.x_FF": 9.0}, detailed=False)))
    assert main([str(p)]) == 2
    assert "detailed-timing-report" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.json")]) == 2
