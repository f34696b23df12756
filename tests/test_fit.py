"""The resource model behind --fold auto (boards/fit.py) and its calibration (boards/calibration.json)."""
import json

import pytest

from boards import fit
from boards.fit import (AVAILABLE, CALIBRATION, FILL, RESOURCES, choose_fold, estimate_raw, fit_line, overflows,
                        predict, resolve_fold_choice)
from hw.fold import auto_fold, throughput
from sw.compiler import compile_model
from sw.config import ModelConfig

from conftest import random_network


def _prog(**kw):
    import torch
    cfg = ModelConfig(**kw)
    return compile_model(random_network(cfg, seed=1), [torch.rand(1, cfg.colors, 12, 12)])


def test_fit_line_recovers_a_line_and_reports_its_error():
    f = fit_line([100, 200, 400], [250, 450, 850])
    assert f["a"] == pytest.approx(2.0) and f["b"] == pytest.approx(50.0) and f["max_rel_err"] == 0
    g = fit_line([100, 200, 400], [250, 500, 850])
    assert 0 < g["max_rel_err"] < 0.1 and g["n"] == 3
    # relative errors: the small point counts as much as the large one
    h = fit_line([100, 1000, 10000], [150, 1000, 10000])
    assert h["max_rel_err"] < 0.25


def test_estimate_grows_with_lanes_and_network_size():
    from hw.fold import FoldConfig, LayerFold
    small = _prog(task="sr", scale=2, channels=8, units=2)
    big = _prog(task="sr", scale=2, channels=16, units=4)
    bal = auto_fold(small)
    wide = FoldConfig([LayerFold(9 * l.cin, 1) for l in small.binary_layers], bal.head_macs)   # a window per cycle
    e_fast = estimate_raw(small, bal, "ulx3s", 32)
    e_wide = estimate_raw(small, wide, "ulx3s", 32)
    e_big = estimate_raw(big, auto_fold(big), "ulx3s", 32)
    assert e_fast["logic"] < e_wide["logic"] and e_fast["ff"] < e_wide["ff"]
    assert e_fast["logic"] < e_big["logic"] and e_fast["bram"] < e_big["bram"] and e_fast["dsp"] <= e_big["dsp"]
    # fewer lanes, fewer popcount flip-flops (logic: the fold multiplexer grows as the lanes shrink)
    assert estimate_raw(small, auto_fold(small, max_lanes=1), "ulx3s", 32)["ff"] < e_fast["ff"]
    # memory is counted in the family's blocks: 4 Kbit EBR vs 18 Kbit DP16KD
    e_ice = estimate_raw(small, bal, "icebreaker", 32)
    assert e_ice["bram"] == pytest.approx(e_fast["bram"] * 18432 / 4096, rel=0.01)


@pytest.fixture
def fake_cal(monkeypatch):
    cal = {"ice40": {"logic": {"a": 1.5, "b": 500}, "ff": {"a": 1.0, "b": 0}, "bram": {"a": 1.3, "b": 2},
                     "dsp": {"a": 0.8, "b": 0}},
           "ecp5": {r: {"a": 1.0, "b": 0} for r in RESOURCES}}
    monkeypatch.setattr(fit, "calibration", lambda: cal)
    return cal


def test_choose_fold_is_the_fastest_candidate_that_fits(fake_cal, monkeypatch):
    prog = _prog(task="sr", scale=2, channels=16, units=4)
    # a device whose flip-flops are too few for the balanced (fastest) fold but not for slower ones
    fastest = predict(estimate_raw(prog, auto_fold(prog), "ulx3s", 32), "ecp5", fake_cal)
    slowest = predict(estimate_raw(prog, auto_fold(prog, max_lanes=1), "ulx3s", 32), "ecp5", fake_cal)
    assert slowest["ff"] < fastest["ff"]
    limit = (fastest["ff"] + slowest["ff"]) // 2
    monkeypatch.setitem(AVAILABLE, "ecp5", {"logic": 10 ** 6, "ff": int(limit / FILL["ecp5"]["ff"]) + 1,
                                            "bram": 1000, "dsp": 1000})
    f, choice = choose_fold(prog, "ulx3s", 32, scale_mult="dsp")   # (shift-add scale units have fewer FFs)
    assert choice["fits"] and choice["predicted"]["ff"] <= limit
    assert not overflows(choice["predicted"], "ecp5")
    chosen = throughput(prog, f)["cycles_per_lr_pixel"]
    assert chosen > throughput(prog, auto_fold(prog))["cycles_per_lr_pixel"]
    # maximality: every faster candidate is predicted not to fit
    for t in fit._candidate_targets(prog, None):
        if t >= chosen:
            break
        g = auto_fold(prog, target=t)
        assert overflows(predict(estimate_raw(prog, g, "ulx3s", 32), "ecp5", fake_cal), "ecp5")


def test_choose_fold_takes_shiftadd_scale_units_when_multipliers_are_short(fake_cal, monkeypatch):
    prog = _prog(task="denoise", scale=1, channels=4, units=2, colors=1)
    dsp = predict(estimate_raw(prog, auto_fold(prog), "icebreaker", 32), "ice40", fake_cal)["dsp"]
    sa = predict(estimate_raw(prog, auto_fold(prog, scale_mult="shiftadd"), "icebreaker", 32), "ice40",
                 fake_cal)["dsp"]
    assert sa < dsp
    monkeypatch.setitem(AVAILABLE, "ice40", {"logic": 10 ** 6, "ff": 10 ** 6, "bram": 1000, "dsp": sa})
    f, choice = choose_fold(prog, "icebreaker", 32)
    assert choice["fits"] and f.scale_mult == "shiftadd"


def test_choose_fold_reports_what_does_not_fit(fake_cal):
    prog = _prog(task="sr", scale=2, channels=32, units=8)       # x2-tiny's shape on the UP5K
    f, choice = choose_fold(prog, "icebreaker", 32)
    assert not choice["fits"] and "logic" in choice["over"]
    assert choice["over"]["logic"]["predicted"] > choice["over"]["logic"]["limit"]
    # it tried every candidate down to one lane per engine and reports the one closest to fitting
    assert choice["candidates"] > 5
    worst = max(choice["predicted"][r] / choice["limits"][r] for r in RESOURCES)
    for ml in (None, 1):
        g = auto_fold(prog, max_lanes=ml)
        p = predict(estimate_raw(prog, g, "icebreaker", 32), "ice40", fake_cal)
        assert worst <= max(p[r] / choice["limits"][r] for r in RESOURCES) + 1e-9


def test_fold_specs():
    prog = _prog(task="sr", scale=2, channels=8, units=2)
    f, c = resolve_fold_choice(prog, "balanced")
    assert c is None and f == auto_fold(prog)
    f, _ = resolve_fold_choice(prog, "balanced:2,shiftadd")
    assert max(l.simd * l.pe for l in f.layers) <= 2 and f.scale_mult == "shiftadd"
    f, _ = resolve_fold_choice(prog, "min")
    assert all(l.simd * l.pe == 1 for l in f.layers)
    f, c = resolve_fold_choice(prog, "auto:4", "ulx3s", 32)
    assert c is not None and max(l.simd * l.pe for l in f.layers) <= 4
    with pytest.raises(ValueError, match="needs a board"):
        resolve_fold_choice(prog, "auto")
    with pytest.raises(ValueError, match="fold must be"):
        resolve_fold_choice(prog, "fastest")


def test_committed_calibration_is_the_fit_of_its_points():
    data = json.loads(CALIBRATION.read_text())
    for family in ("ice40", "ecp5"):
        pts = [p for p in data["points"] if p["family"] == family and p["measured"]]
        assert len(pts) >= 4, f"{family}: too few calibration builds"
        assert {p["model"]["task"] for p in pts} >= {"sr", "denoise"}
        for r in RESOURCES:
            xs = [p["estimate"][r] for p in pts if p["measured"][r] is not None]
            ys = [p["measured"][r] for p in pts if p["measured"][r] is not None]
            assert data["fit"][family][r] == fit_line(xs, ys)
        # the logic and flip-flop lines predict every build they were fitted to within 15 %
        assert data["fit"][family]["logic"]["max_rel_err"] < 0.15
        assert data["fit"][family]["ff"]["max_rel_err"] < 0.15
