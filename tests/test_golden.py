"""Golden model units against direct float/reference computations."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sw import formats, golden
from sw.formats import FeatureFormat
from sw.program import BinaryLayer


def _rand_bits(rng, n, c, h, w):
    return torch.from_numpy(rng.integers(0, 2, (n, c, h, w)).astype(np.uint8))


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 3, 1, 7), (2, 5, 6, 1), (1, 8, 5, 9), (1, 17, 4, 4)])
def test_binary_conv_equals_float_conv_of_pm1(rng, shape):
    n, cin, h, w = shape
    cout = 6
    bits = _rand_bits(rng, *shape)
    wbits = rng.integers(0, 2, (cout, 9 * cin)).astype(np.uint8)
    fast = golden.binary_conv(bits, wbits, cin)
    # float64 conv of the same +-1 tensors, zero padding
    a = 2 * bits.double() - 1
    wt = torch.from_numpy(2 * wbits.astype(np.float64) - 1).view(cout, 3, 3, cin).permute(0, 3, 1, 2)
    ref = F.conv2d(a, wt.contiguous(), padding=1).round().long()
    assert torch.equal(fast, ref)
    win, mask = golden.window3x3(bits)
    assert torch.equal(golden.xnor_popcount(win, mask, wbits, cin), ref)


def test_window_border_mask():
    bits = torch.ones(1, 2, 3, 4, dtype=torch.uint8)
    win, mask = golden.window3x3(bits)
    assert mask.shape == (3, 4, 9)
    assert mask[0, 0].tolist() == [False, False, False, False, True, True, False, True, True]
    assert mask[1, 1].all()
    assert mask[2, 3].tolist() == [True, True, False, True, True, False, False, False, False]
    # padded taps hold 0 bits; the all-ones window of an interior pixel holds 1s
    assert int(win[0, 0, 0].sum()) == 2 * 4 and int(win[0, 1, 1].sum()) == 18


def test_all_ones_all_zeros_windows():
    cin, cout = 4, 2
    wbits = np.ones((cout, 9 * cin), np.uint8)
    ones = torch.ones(1, cin, 3, 3, dtype=torch.uint8)
    d = golden.binary_conv(ones, wbits, cin)
    assert int(d[0, 0, 1, 1]) == 9 * cin and int(d[0, 0, 0, 0]) == 4 * cin
    d0 = golden.binary_conv(torch.zeros_like(ones), wbits, cin)
    assert int(d0[0, 0, 1, 1]) == -9 * cin and int(d0[0, 0, 0, 1]) == -6 * cin


def test_threshold_ties():
    x = torch.tensor([[[[-5, -4, -3]], [[10, 11, 9]]]])          # [1, 2, 1, 3]
    bits = golden.threshold(x, np.array([-4, 10]))
    assert bits.tolist() == [[[[0, 1, 1]], [[1, 1, 0]]]]


def test_rshift_round_half_up():
    v = torch.tensor([-6, -5, -3, -2, 2, 3, 5, 6])
    assert golden.rshift_round(v, 1).tolist() == [-3, -2, -1, -1, 1, 2, 3, 3]
    assert golden.rshift_round(v, 0).tolist() == v.tolist()


def _layer(cout, mult, bias, shift, slope, ss, zeta, r=1, cin=1):
    return BinaryLayer(thresh=np.zeros(cin, np.int64), wbits=np.zeros((cout, 2), np.uint8),
                       mult=np.array(mult, np.int64), bias=np.array(bias, np.int64), shift=shift,
                       slope=np.array(slope, np.int64), slope_shift=ss, zeta=np.array(zeta, np.int64),
                       cin=cin, cout=cout, r=r)


def test_scale_rprelu_formula_and_saturation():
    fmt = FeatureFormat(16, 6)
    layer = _layer(2, [3, 100000], [2, 1 << 3], 4, [16384, -8192], 15, [7, -7])
    dot = torch.tensor([-40, -1, 0, 5, 200]).view(1, 1, 1, 5).repeat(1, 2, 1, 1)
    c = golden.SatCounter()
    v = golden.scale_rprelu(dot, layer, fmt, c, "u")
    # channel 0: y = (3d + 2) >> 4
    for j, d in enumerate([-40, -1, 0, 5, 200]):
        y = (3 * d + 2) >> 4
        q = y if y >= 0 else (y * 16384 + (1 << 14)) >> 15
        assert int(v[0, 0, 0, j]) == max(fmt.y_lo, min(fmt.y_hi, q + 7))
    # channel 1 saturates y both ways (|100000 * d| >> 4 > 2^17), then applies slope and zeta
    assert int(v[0, 1, 0, 4]) == fmt.y_hi - 7
    assert int(v[0, 1, 0, 0]) == ((fmt.y_lo * -8192 + (1 << 14)) >> 15) - 7
    assert c["u.y"] == 2 and c["u.v"] == 0
    # v saturates when zeta pushes past the y range
    big = _layer(1, [1], [0], 1, [1], 1, [1 << 20])
    assert int(golden.scale_rprelu(torch.tensor([[[[0]]]]), big, fmt, c, "w")) == fmt.y_hi and c["w.v"] == 1


def test_residual_add_saturates_both_ways():
    fmt = FeatureFormat(8, 2)
    c = golden.SatCounter()
    out = golden.residual_add(torch.tensor([100, -100, 3]), torch.tensor([100, -100, 4]), fmt, c, "r")
    assert out.tolist() == [127, -128, 7] and c["r.out"] == 2


def test_pixel_shuffle_order():
    r, c = 2, 3
    v = torch.arange(c * r * r).view(1, c * r * r, 1, 1)
    s = golden.pixel_shuffle(v, r)
    for ch in range(c):
        for i in range(r):
            for j in range(r):
                assert int(s[0, ch, i, j]) == ch * r * r + i * r + j


@pytest.mark.parametrize("r", [2, 4])
def test_bilinear_skip_exact_vs_torch(rng, r):
    pix = torch.from_numpy(rng.integers(0, 256, (1, 3, 7, 5)))
    ref = F.interpolate(pix.double(), scale_factor=r, mode="bilinear", align_corners=False)
    ours = golden.bilinear_skip(pix, r).double() / 2 ** formats.BILINEAR_FRAC
    assert torch.equal(ours, ref)


def test_bilinear_skip_x3_close(rng):
    pix = torch.from_numpy(rng.integers(0, 256, (1, 1, 6, 6)))
    ref = F.interpolate(pix.double(), scale_factor=3, mode="bilinear", align_corners=False)
    ours = golden.bilinear_skip(pix, 3).double() / 2 ** formats.BILINEAR_FRAC
    assert float((ours - ref).abs().max()) < 0.5
