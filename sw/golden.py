"""Bit-exact integer golden model of the hardware program (the spec is docs/arithmetic.md).

One function per hardware unit, so each gateware unit can be tested against its golden twin:
  threshold, window3x3 + xnor_popcount (reference) / binary_conv (fast), scale_rprelu,
  residual_add, pixel_shuffle, nearest_up, head, tail (+ bilinear_skip).
All tensors are int64 torch tensors in NCHW layout unless stated otherwise.

The fast convolutions use float32/float64 `conv2d` as an exact integer engine: every operand and
every partial sum is an integer below 2**24 (float32) or 2**53 (float64), so the result is exact;
`_exact_int` asserts that before converting back to int64.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F

from . import formats
from .formats import FeatureFormat
from .program import BinaryLayer, HeadLayer, Program, TailLayer


class SatCounter(defaultdict):
    """Saturation events per layer name."""

    def __init__(self):
        super().__init__(int)


def _exact_int(y: torch.Tensor) -> torch.Tensor:
    r = torch.round(y)
    if y.numel() and float((y - r).abs().max()) > 1e-3:
        raise ArithmeticError("conv2d used as integer engine was not exact")
    return r.to(torch.int64)


def _param(values, like: torch.Tensor) -> torch.Tensor:
    """Per-channel integer parameters as a [1,C,1,1] tensor on `like`'s device."""
    return torch.as_tensor(values, device=like.device).view(1, -1, 1, 1)


def rshift_round(v: torch.Tensor, s: int) -> torch.Tensor:
    """Round half up, then arithmetic shift right: (v + 2**(s-1)) >> s (s = 0: v)."""
    if s == 0:
        return v
    return (v + (1 << (s - 1))) >> s


def saturate(v: torch.Tensor, lo: int, hi: int, counter: SatCounter | None = None, name: str = "") -> torch.Tensor:
    if counter is not None:
        counter[name] += int(((v < lo) | (v > hi)).sum())
    return v.clamp(lo, hi)


# --------------------------------------------------------------------------- binary datapath units
def threshold(x: torch.Tensor, thresh: torch.Tensor) -> torch.Tensor:
    """Binariser: bit = 1 (+1) where x >= T_c, else 0 (-1). x [N,C,H,W] -> uint8 bits."""
    t = torch.as_tensor(thresh, dtype=torch.int64, device=x.device).view(1, -1, 1, 1)
    return (x >= t).to(torch.uint8)


def window3x3(bits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sliding-window generator reference.

    bits [N,C,H,W] -> (win [N,H,W,9*C] uint8 in formats.weight_bit_index order, zero where the tap
    lies outside the image; mask [H,W,9] bool, True where the tap is inside the image).
    """
    n, c, h, w = bits.shape
    padded = F.pad(bits, (1, 1, 1, 1))
    taps, masks = [], []
    ones = F.pad(torch.ones(h, w, dtype=torch.bool, device=bits.device), (1, 1, 1, 1))
    for ky in range(3):
        for kx in range(3):
            taps.append(padded[:, :, ky:ky + h, kx:kx + w].permute(0, 2, 3, 1))  # N,H,W,C
            masks.append(ones[ky:ky + h, kx:kx + w])
    win = torch.stack(taps, dim=3).reshape(n, h, w, 9 * c)
    return win, torch.stack(masks, dim=-1)


def xnor_popcount(win: torch.Tensor, mask: torch.Tensor, wbits: torch.Tensor, cin: int) -> torch.Tensor:
    """XNOR-popcount engine reference: dot = 2 * matches - valid over in-image taps.

    win [N,H,W,9*cin], mask [H,W,9], wbits [cout, 9*cin] (uint8 0/1) -> dot [N,cout,H,W] int64.
    """
    valid = mask.repeat_interleave(cin, dim=-1).to(torch.int64)          # H,W,9cin
    a = win.to(torch.int64).unsqueeze(3)                                  # N,H,W,1,9cin
    wb = torch.as_tensor(wbits, dtype=torch.int64, device=win.device).view(1, 1, 1, *wbits.shape)
    matches = ((1 - (a ^ wb)) * valid.unsqueeze(2)).sum(-1)               # N,H,W,cout
    nvalid = valid.sum(-1).unsqueeze(-1)                                   # H,W,1
    return (2 * matches - nvalid).permute(0, 3, 1, 2).contiguous()


def binary_conv(bits: torch.Tensor, wbits: np.ndarray | torch.Tensor, cin: int) -> torch.Tensor:
    """Fast equivalent of window3x3 + xnor_popcount (conv of +-1 maps, zero padding)."""
    wb = torch.as_tensor(np.asarray(wbits), dtype=torch.float32, device=bits.device)
    cout = wb.shape[0]
    w = (2 * wb - 1).view(cout, 3, 3, cin).permute(0, 3, 1, 2)          # cout,cin,3,3
    a = 2 * bits.to(torch.float32) - 1
    return _exact_int(F.conv2d(a, w.contiguous(), padding=1))


def scale_rprelu(dot: torch.Tensor, layer: BinaryLayer, fmt: FeatureFormat,
                 counter: SatCounter | None = None, name: str = "") -> torch.Tensor:
    """Scale + RPReLU: y = sat_y((A*dot + B) >> SA); p = y if y >= 0 else (y*S + half) >> SS;
    v = sat_y(p + Z)."""
    a, b, s, z = (_param(v, dot) for v in (layer.mult, layer.bias, layer.slope, layer.zeta))
    y = saturate((a * dot + b) >> layer.shift, fmt.y_lo, fmt.y_hi, counter, name + ".y")
    p = torch.where(y >= 0, y, rshift_round(y * s, layer.slope_shift))
    return saturate(p + z, fmt.y_lo, fmt.y_hi, counter, name + ".v")


def residual_add(v: torch.Tensor, x: torch.Tensor, fmt: FeatureFormat,
                 counter: SatCounter | None = None, name: str = "") -> torch.Tensor:
    """Residual adder: sat_FW(v + x)."""
    return saturate(v + x, fmt.lo, fmt.hi, counter, name + ".out")


def pixel_shuffle(v: torch.Tensor, r: int) -> torch.Tensor:
    """[N, C*r*r, H, W] -> [N, C, H*r, W*r]; channel c*r*r + i*r + j goes to (c, h*r+i, w*r+j)."""
    return F.pixel_shuffle(v, r) if r > 1 else v


def nearest_up(x: torch.Tensor, r: int) -> torch.Tensor:
    return x.repeat_interleave(r, dim=2).repeat_interleave(r, dim=3) if r > 1 else x


def binary_layer(x: torch.Tensor, layer: BinaryLayer, fmt: FeatureFormat,
                 counter: SatCounter | None = None, name: str = "") -> torch.Tensor:
    """One BBCU-B / BBCU-U unit, composed from the unit functions above."""
    bits = threshold(x, layer.thresh)
    dot = binary_conv(bits, layer.weight_bits(), layer.cin)
    v = scale_rprelu(dot, layer, fmt, counter, name)
    return residual_add(pixel_shuffle(v, layer.r), nearest_up(x, layer.r), fmt, counter, name)


# --------------------------------------------------------------------------- full-precision units
def leaky_q(y: torch.Tensor, mult: int, shift: int) -> torch.Tensor:
    """Fixed-point LeakyReLU: y if y >= 0 else (y*S + half) >> SS."""
    return torch.where(y >= 0, y, rshift_round(y * mult, shift))


def head(pix: torch.Tensor, layer: HeadLayer, fmt: FeatureFormat,
         counter: SatCounter | None = None, name: str = "head") -> torch.Tensor:
    """Head conv: u8 pixels [N,colors,H,W] -> features [N,C,H,W].

    acc = sum(Wq * pix) (zero padding); y = sat_y((M*acc + B) >> SH); act; sat_FW.
    """
    w = torch.as_tensor(layer.weight.astype(np.float32), device=pix.device)
    acc = _exact_int(F.conv2d(pix.to(torch.float32), w, padding=1))
    m, b = _param(layer.mult, acc), _param(layer.bias, acc)
    y = saturate((m * acc + b) >> layer.shift, fmt.y_lo, fmt.y_hi, counter, name + ".y")
    if layer.act == "relu":
        y = y.clamp_min(0)
    else:
        y = leaky_q(y, layer.act_mult, layer.act_shift)
    return saturate(y, fmt.lo, fmt.hi, counter, name + ".out")


def bilinear_weights_1d(r: int) -> list[tuple[int, int, int]]:
    """For output phase j of an x r bilinear (align_corners=False) up-sampler: (offset, w0, w1)
    meaning out = (w0 * in[i + offset] + w1 * in[i + offset + 1]) / 2**BILINEAR_FRAC_1D."""
    one = 1 << formats.BILINEAR_FRAC_1D
    res = []
    for j in range(r):
        d = (j + 0.5) / r - 0.5
        if d < 0:
            w0 = int(round(-d * one))
            res.append((-1, w0, one - w0))
        else:
            w1 = int(round(d * one))
            res.append((0, one - w1, w1))
    return res


def _bilinear_1d(x: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    n = x.shape[dim]
    idx = torch.arange(n, device=x.device)
    outs = []
    for off, w0, w1 in bilinear_weights_1d(r):
        i0 = (idx + off).clamp(0, n - 1)
        i1 = (idx + off + 1).clamp(0, n - 1)
        outs.append(w0 * x.index_select(dim, i0) + w1 * x.index_select(dim, i1))
    y = torch.stack(outs, dim=dim + 1)                  # ..., n, r, ...
    shape = list(x.shape)
    shape[dim] = n * r
    return y.reshape(shape)


def bilinear_skip(pix: torch.Tensor, r: int) -> torch.Tensor:
    """Integer bilinear x r up-sampling (edge replicate == PyTorch align_corners=False) of u8 pixels
    [N,C,H,W], in units of 2**-BILINEAR_FRAC."""
    p = pix.to(torch.int64)
    return _bilinear_1d(_bilinear_1d(p, r, 2), r, 3)


def tail_conv(feat: torch.Tensor, layer: TailLayer) -> torch.Tensor:
    """The tail's accumulator: acc = sum(Wq * act(feat)) (3x3, zero padding), int64 [N,colors,H',W']."""
    g = leaky_q(feat, layer.act_mult, layer.act_shift) if layer.in_act == "lrelu" else feat
    w = torch.as_tensor(layer.weight.astype(np.float64), device=feat.device)
    return _exact_int(F.conv2d(g.to(torch.float64), w, padding=1))


def tail_skip(pix: torch.Tensor, layer: TailLayer) -> torch.Tensor:
    """The global skip in units of 2**-ST: bilinear_skip(pix) << (ST - 16) (SR) or pix << ST."""
    if layer.skip == "bilinear":
        return bilinear_skip(pix, layer.r) << (layer.shift - formats.BILINEAR_FRAC)
    return pix.to(torch.int64) << layer.shift


def tail_output(acc: torch.Tensor, skip: torch.Tensor, layer: TailLayer,
                counter: SatCounter | None = None, name: str = "tail") -> torch.Tensor:
    """out = clamp((M*acc + B + skip) >> ST, 0, 255)."""
    m, b = _param(layer.mult, acc), _param(layer.bias, acc)
    out = (m * acc + b + skip) >> layer.shift
    return saturate(out, 0, formats.PIXEL_MAX, counter, name + ".pixel")


def tail(feat: torch.Tensor, pix: torch.Tensor, layer: TailLayer, fmt: FeatureFormat,
         counter: SatCounter | None = None, name: str = "tail") -> torch.Tensor:
    """Tail conv + global skip: features [N,C,H',W'] and input pixels -> u8 pixels [N,colors,H',W'].

    g = act(feat); acc = sum(Wq * g) (zero padding); out = clamp((M*acc + B + skip) >> ST, 0, 255)
    with skip = bilinear_skip(pix) << (ST - 16) (SR) or pix << ST (denoise/jpeg).
    """
    return tail_output(tail_conv(feat, layer), tail_skip(pix, layer), layer, counter, name)


# --------------------------------------------------------------------------- whole network
def binary_layer_names(cfg) -> list[str]:
    """Names of the binary layers in order (same keys as BBCUNet.features)."""
    return ([f"body.{i}" for i in range(cfg.units)] + [f"up.{i}" for i in range(len(cfg.up_factors))]
            + (["hr"] if cfg.task == "sr" else []))


def to_nchw(img: np.ndarray) -> torch.Tensor:
    """uint8 HxWxC or HxW image -> int64 [1,C,H,W]."""
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(a.astype(np.int64)).permute(2, 0, 1).unsqueeze(0)


def to_hwc(t: torch.Tensor) -> np.ndarray:
    a = t[0].permute(1, 2, 0).cpu().numpy().astype(np.uint8)
    return a


def run_features(prog: Program, pix: torch.Tensor, counter: SatCounter | None = None) -> dict:
    """Run the program on u8 pixels [N,colors,H,W]; returns every feature map plus 'out'."""
    fmt = prog.fmt
    feats = {}
    x = head(pix, prog.head, fmt, counter)
    feats["head"] = x
    for name, layer in zip(binary_layer_names(prog.config), prog.binary_layers):
        x = binary_layer(x, layer, fmt, counter, name)
        feats[name] = x
    feats["out"] = tail(x, pix, prog.tail, fmt, counter)
    return feats


def exact_device(device: str | torch.device | None) -> torch.device:
    """The torch device the golden model runs on (default CPU). On a CUDA device the float
    convolutions must be true FP32/FP64: TF32 (10-bit mantissa) would break the exact-integer
    argument above, so it is switched off for cuDNN and matmul."""
    dev = torch.device(device or "cpu")
    if dev.type == "cuda":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return dev


def run(prog: Program, img: np.ndarray, counter: SatCounter | None = None,
        device: str | torch.device | None = None) -> np.ndarray:
    """Restore one uint8 image (HxWxC, or HxW for 1-colour models) with the integer program.

    `device`: where the tensors live (default CPU); the result is the same on every device
    (every convolution is checked exact by `_exact_int`)."""
    pix = to_nchw(img).to(exact_device(device))
    if pix.shape[1] != prog.config.colors:
        raise ValueError(f"image has {pix.shape[1]} colour channels, model expects {prog.config.colors}")
    with torch.no_grad():
        out = run_features(prog, pix, counter)["out"]
    res = to_hwc(out)
    return res[:, :, 0] if np.asarray(img).ndim == 2 else res
