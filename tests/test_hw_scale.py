"""ScaleRPReLU (both multiplier variants) in cocotb (Icarus) against golden.scale_rprelu:
dot extremes +-9cin, y saturating both ways, v saturating both ways, the negative (slope) path
with rounding ties, A = 0, negative slopes, wide biases, bubbles and back-pressure, cycle model."""
import numpy as np
import pytest
import torch

from hw.scale import ScaleRPReLU
from sim.runner import run_cocotb
from sw import formats, golden
from sw.formats import FeatureFormat
from sw.program import BinaryLayer


def _layer(cin, mult, bias, shift, slope, ss, zeta):
    cout = len(mult)
    return BinaryLayer(thresh=np.zeros(cin, np.int64), wbits=np.zeros((cout, (9 * cin + 7) // 8), np.uint8),
                       mult=np.array(mult, np.int64), bias=np.array(bias, np.int64), shift=shift,
                       slope=np.array(slope, np.int64), slope_shift=ss, zeta=np.array(zeta, np.int64),
                       cin=cin, cout=cout)


def _config(name):
    """(layer, fmt, frame geometry) of each test configuration."""
    if name == "basic":       # cin 8, FW 16, SA 4, SS 15
        a_max = formats.MULT_MAX
        layer = _layer(8,
                       mult=[3000, a_max, a_max, a_max, 16, 16, 0, 77777],
                       bias=[8 + 1234, 8, 8, 8, 8, 8, -12345 << 4, -(1 << 19)],
                       shift=4,
                       #  0.5    -0.25  0.5    3.0    0.75   0.5    -1/2^15  ~-3.99
                       slope=[16384, -8192, 16384, 98304, 24576, 16384, -1, -a_max],
                       ss=15,
                       zeta=[7, -7, 100000, -50000, 0, 0, 5, 1234])
        return layer, FeatureFormat(16, 6), (5, 4)
    if name == "wide":        # cin 64, FW 12, SA 14, SS 16, biases up to 2^38
        rng = np.random.default_rng(5)
        cout = 5
        mult = rng.integers(0, formats.MULT_MAX + 1, cout)
        bias = rng.integers(-(1 << 24), 1 << 24, cout)
        bias[0], bias[1] = (1 << 38) + 12345, -(1 << 38) + 777
        slope = rng.integers(-formats.MULT_MAX, formats.MULT_MAX + 1, cout)
        zeta = rng.integers(-(1 << 13), 1 << 13, cout)
        return _layer(64, mult, bias, 14, slope, 16, zeta), FeatureFormat(12, 4), (4, 3)
    if name == "tiny":        # cin 1, FW 8, SA 1, SS 1
        return (_layer(1, mult=[5, 1, 100], bias=[1, 1, -3], shift=1, slope=[1, 3, -2], ss=1, zeta=[0, -500, 400]),
                FeatureFormat(8, 2), (4, 4))
    raise KeyError(name)


def _vectors(layer, n, seed):
    rng = np.random.default_rng(seed)
    dmax = 9 * layer.cin
    corner = [-dmax, dmax, -dmax + 1, dmax - 1, 0, 1, -1] + list(range(-2, -14, -1))
    dots, chans = [], []
    for c in range(layer.cout):
        dots += corner
        chans += [c] * len(corner)
    k = max(0, n - len(dots))
    dots += list(rng.integers(-dmax, dmax + 1, k))
    chans += list(rng.integers(0, layer.cout, k))
    perm = rng.permutation(len(dots))
    return np.array(dots, np.int64)[perm][:max(n, 1)], np.array(chans, np.int64)[perm][:max(n, 1)]


def _golden(layer, fmt, dots, chans):
    d = torch.from_numpy(dots).view(1, 1, 1, -1).repeat(1, layer.cout, 1, 1)
    v = golden.scale_rprelu(d, layer, fmt)[0, :, 0, :].numpy()
    return v[chans, np.arange(len(dots))]


def _pre_sat(layer, fmt, dots, chans):
    """Unsaturated y and v (python ints), to check that the corner cases were exercised."""
    ys, vs = [], []
    for d, c in zip(dots.tolist(), chans.tolist()):
        y = (int(layer.mult[c]) * d + int(layer.bias[c])) >> layer.shift
        ys.append(y)
        y = min(max(y, fmt.y_lo), fmt.y_hi)
        q = y if y >= 0 else (y * int(layer.slope[c]) + (1 << (layer.slope_shift - 1))) >> layer.slope_shift
        vs.append(q + int(layer.zeta[c]))
    return np.array(ys, object), np.array(vs, object)


def test_corner_cases_are_exercised():
    layer, fmt, (w, h) = _config("basic")
    dots, chans = _vectors(layer, w * h * layer.cout, 1)
    ys, vs = _pre_sat(layer, fmt, dots, chans)
    assert (ys > fmt.y_hi).any() and (ys < fmt.y_lo).any()
    assert (vs > fmt.y_hi).any() and (vs < fmt.y_lo).any()
    ss = layer.slope_shift
    ties = [(y * int(layer.slope[c])) % (1 << ss) == 1 << (ss - 1) for y, c in zip(ys, chans) if fmt.y_lo <= y < 0]
    assert sum(ties) >= 10
    assert abs(dots).max() == 9 * layer.cin


@pytest.mark.parametrize("mult", ["dsp", "shiftadd"])
@pytest.mark.parametrize("config,p_bubble,p_stall", [
    ("basic", 0.0, 0.0), ("basic", 0.3, 0.4), ("wide", 0.0, 0.0), ("wide", 0.5, 0.2), ("tiny", 0.2, 0.5)])
def test_scale_unit(mult, config, p_bubble, p_stall):
    layer, fmt, (w, h) = _config(config)
    clean = p_bubble == 0 and p_stall == 0
    n = w * h * layer.cout if clean else (120 if mult == "shiftadd" else 300)
    dots, chans = _vectors(layer, n, len(config) * 100 + int(p_bubble * 10))
    exp = _golden(layer, fmt, dots, chans)
    dut = ScaleRPReLU(layer, fmt, mult)
    res = run_cocotb(dut, f"scale_{mult}", "sim.tb_scale", {"dot": dots, "ch": chans, "v": exp},
                     {"dot_bits": formats.dot_bits(layer.cin), "y_bits": fmt.y_bits, "p_bubble": p_bubble,
                      "p_stall": p_stall, "seed": 11})
    if clean:
        model = dut.cycle_model(w, h)
        print(config, mult, res["cycles"], model)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)


def _model_only(*args):
    u = ScaleRPReLU(*args)
    u._MustUse__silence = True      # built for its models only, never elaborated
    return u


def test_shiftadd_rate_follows_operand_width():
    layer, fmt, _ = _config("basic")
    u, d = _model_only(layer, fmt, "shiftadd"), _model_only(layer, fmt, "dsp")
    assert u.k1 == formats.dot_bits(layer.cin) and u.k2 <= fmt.y_bits
    assert u.period() == max(u.k1, u.k2) + 1 and d.period() == 1
    assert u.resource_estimate()["dsp"] == 0 and d.resource_estimate()["dsp"] >= 2


def test_dsp_pipeline_enable_is_split_per_stage_pair(tmp_path):
    """The DSP pipeline's stage pairs each take the enable from their own copy of o.valid: in the
    ECP5 netlist four clock-enable nets, none reaching half of the flip-flops enabled (one net
    enabled all of them, ~200 on x4-base: 10.8 ns, docs/boards.md row 123)."""
    from conftest import clock_enable_fanout, synth_cell_counts
    layer, fmt, _ = _config("wide")
    synth_cell_counts(tmp_path, "ecp5", ScaleRPReLU(layer, fmt, "dsp"), None)
    fanout = clock_enable_fanout(tmp_path)
    total = sum(fanout.values())
    assert total > 60 and len(fanout) == 4 and max(fanout.values()) < total / 2, fanout
