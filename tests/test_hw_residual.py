"""ResidualAdd in cocotb (Icarus) against golden.residual_add: saturation both ways, independent
bubbles on v and x, back-pressure, cycle model."""
import numpy as np
import pytest
import torch

from hw.residual import ResidualAdd
from sim.runner import run_cocotb
from sw import golden
from sw.formats import FeatureFormat


def _vectors(fmt, n, seed):
    rng = np.random.default_rng(seed)
    v = rng.integers(fmt.y_lo, fmt.y_hi + 1, n)
    x = rng.integers(fmt.lo, fmt.hi + 1, n)
    small = rng.integers(fmt.lo // 4, fmt.hi // 4 + 1, (2, n // 2))      # mostly in range
    v[: n // 2], x[: n // 2] = small
    corner_v = [fmt.y_hi, fmt.y_lo, fmt.y_hi, fmt.y_lo, fmt.hi, fmt.lo, fmt.hi - 5, fmt.lo + 5, 0, -1, fmt.hi, fmt.lo]
    corner_x = [fmt.hi, fmt.lo, fmt.lo, fmt.hi, 0, 0, 5, -5, fmt.hi, fmt.lo, 1, -1]
    v[-len(corner_v):], x[-len(corner_x):] = corner_v, corner_x
    return v.astype(np.int64), x.astype(np.int64)


@pytest.mark.parametrize("bits,p_bubble,p_stall", [(16, 0.0, 0.0), (16, 0.4, 0.3), (8, 0.2, 0.6)])
def test_residual_unit(bits, p_bubble, p_stall):
    fmt = FeatureFormat(bits, 4)
    w, h, c = 6, 5, 8
    v, x = _vectors(fmt, w * h * c, bits + int(10 * p_bubble))
    out = golden.residual_add(torch.from_numpy(v), torch.from_numpy(x), fmt).numpy()
    s = v + x
    assert (s > fmt.hi).sum() > 3 and (s < fmt.lo).sum() > 3            # both saturations exercised
    dut = ResidualAdd(fmt)
    res = run_cocotb(dut, "residual", "sim.tb_residual", {"v": v, "x": x, "out": out},
                     {"y_bits": fmt.y_bits, "bits": bits, "p_bubble": p_bubble, "p_stall": p_stall, "seed": 7})
    if p_bubble == 0 and p_stall == 0:
        model = dut.cycle_model(w, h, c)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)


def test_sum_is_registered_before_the_saturation(tmp_path):
    """The sum v + x is a register and the saturation reads it: no carry chain in front of the
    output register, and the inputs reach only the sum (adder, overflow test and clamp in one cycle
    were x4-base's ECP5 critical path, docs/boards.md row 135: 10.2 ns)."""
    from conftest import carry_cells_between, port_to_register_depth, synth_cell_counts
    synth_cell_counts(tmp_path, "ecp5", ResidualAdd(FeatureFormat(16, 4)), None)
    assert port_to_register_depth(tmp_path, "v__payload", "o__payload") == -1
    assert port_to_register_depth(tmp_path, "x__payload", "o__payload") == -1
    assert 0 < port_to_register_depth(tmp_path, "x__payload", "s1") <= 2
    assert carry_cells_between(tmp_path, "s1", "o__payload") == 0
    assert 0 < port_to_register_depth(tmp_path, "s1", "o__payload") <= 3
