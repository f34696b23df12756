"""Broadcast in cocotb (Icarus): both outputs receive every input item once, in order, under random
input bubbles and independent random back-pressure; cycle model without bubbles."""
import numpy as np
import pytest
from amaranth.hdl import Shape, unsigned

from hw import layouts
from hw.fork import Broadcast
from sim.runner import run_cocotb
from sw.formats import FeatureFormat


@pytest.mark.parametrize("name,shape,p_bubble,p_stall", [
    ("u1", unsigned(1), 0.0, 0.0),
    ("s16", layouts.feature(FeatureFormat(16, 6)), 0.0, 0.0),
    ("s16", layouts.feature(FeatureFormat(16, 6)), 0.3, 0.5),
    ("lanes", layouts.feature_lanes(FeatureFormat(12, 4), 4), 0.5, 0.3),
    ("u7", unsigned(7), 0.1, 0.8),
])
def test_broadcast_unit(name, shape, p_bubble, p_stall):
    w = Shape.cast(shape).width
    rng = np.random.default_rng(w)
    n = 300
    items = [int(x) for x in rng.integers(0, 1 << min(w, 62), n)]
    items[:3] = [0, (1 << w) - 1, 1 << (w - 1)]
    comp = Broadcast(shape)
    res = run_cocotb(comp, f"broadcast_{name}", "sim.tb_fork", {"items": np.array(items, dtype=np.int64)},
                     {"p_bubble": p_bubble, "p_stall": p_stall, "seed": w + 1})
    assert res["a"] == items and res["b"] == items
    if p_stall > 0:     # each output has taken items while the other one held its copy back
        assert res["lead"]["a"] > 0 and res["lead"]["b"] > 0, res["lead"]
    if p_bubble == 0 and p_stall == 0:
        model = comp.cycle_model(n)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)
