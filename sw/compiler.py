"""Compiler: float BBCUNet -> integer hardware Program (docs/arithmetic.md gives every formula).

The feature word's fraction bits are chosen from calibration statistics: the float model runs on
sample images, the largest feature magnitude (with a headroom margin) sets the integer bits.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from . import formats
from .formats import FeatureFormat
from .model import BBCUNet
from .program import BinaryLayer, HeadLayer, Program, TailLayer

#: headroom over the largest calibrated feature magnitude
CALIB_MARGIN = 1.5
#: shift of the fixed LeakyReLU(0.1) slope
LRELU_SHIFT = 16


def _largest_shift(values: np.ndarray, unit_scale: float, lo: int = 1, hi: int = formats.MAX_SHIFT) -> int:
    """Largest s in [lo, hi] with max |round(values * unit_scale * 2**s)| <= MULT_MAX."""
    vmax = float(np.max(np.abs(values))) * unit_scale if values.size else 0.0
    for s in range(hi, lo - 1, -1):
        if round(vmax * 2.0 ** s) <= formats.MULT_MAX:
            return s
    raise ValueError(f"constant {vmax} does not fit a {formats.MULT_BITS}-bit multiplier at shift {lo}")


def _round_int(a) -> np.ndarray:
    return np.round(np.asarray(a, dtype=np.float64)).astype(np.int64)


def choose_frac(max_abs: float, bits: int) -> int:
    """Fraction bits leaving room for max_abs * CALIB_MARGIN in a signed `bits`-bit word."""
    need = max_abs * CALIB_MARGIN
    int_bits = max(0, math.ceil(math.log2(need))) if need > 1 else 0
    return max(0, bits - 1 - int_bits)


@torch.no_grad()
def calibrate(model: BBCUNet, images: list[torch.Tensor]) -> dict:
    """Largest |feature| per stored feature map over the calibration images ([1,C,H,W] in 0..1)."""
    stats: dict[str, float] = {}
    model.eval()
    for x in images:
        for name, f in model.features(x).items():
            if name == "out":
                continue
            stats[name] = max(stats.get(name, 0.0), float(f.abs().max()))
    return stats


def _lrelu_mult() -> int:
    return int(round(0.1 * 2 ** LRELU_SHIFT))


def _fp_weight_q(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8: w ~ wq * s."""
    s = np.abs(w).reshape(w.shape[0], -1).max(axis=1) / formats.WEIGHT_QMAX
    s = np.where(s > 0, s, 1.0)
    wq = np.clip(np.round(w / s[:, None, None, None]), -formats.WEIGHT_QMAX, formats.WEIGHT_QMAX)
    return wq.astype(np.int8), s


def compile_head(model: BBCUNet, fmt: FeatureFormat) -> HeadLayer:
    cfg = model.cfg
    w = model.head.weight.detach().double().numpy()
    b = model.head.bias.detach().double().numpy()
    wq, s = _fp_weight_q(w)
    unit = 2.0 ** fmt.frac
    m_real = s * cfg.k / formats.PIXEL_MAX * unit          # feature LSBs per acc unit
    sh = _largest_shift(m_real, 1.0)
    return HeadLayer(
        weight=wq, mult=_round_int(m_real * 2.0 ** sh),
        bias=_round_int(b * unit * 2.0 ** sh) + (1 << (sh - 1)), shift=sh,
        act="lrelu" if cfg.task == "sr" else "relu", act_mult=_lrelu_mult(), act_shift=LRELU_SHIFT)


def compile_binary(unit, fmt: FeatureFormat, r: int) -> BinaryLayer:
    conv = unit.conv
    cout, cin = conv.weight.shape[:2]
    unit_lsb = 2.0 ** fmt.frac
    b = unit.move.bias.detach().double().view(-1).numpy()
    thresh = np.ceil(-b * unit_lsb).astype(np.int64)
    thresh = np.clip(thresh, fmt.lo, fmt.hi + 1)
    w = conv.weight.detach()
    bits = (w >= 0).to(torch.uint8).permute(0, 2, 3, 1).reshape(cout, 9 * cin).numpy()  # tap-major, then cin
    wbits = np.packbits(bits, axis=1, bitorder="little")
    alpha = conv.scale().double().numpy()
    sa = _largest_shift(alpha, unit_lsb)
    gamma = unit.act.gamma.detach().double().view(-1).numpy()
    slope = unit.act.slope.detach().double().view(-1).numpy()
    zeta = unit.act.zeta.detach().double().view(-1).numpy()
    ss = _largest_shift(slope, 1.0, lo=1, hi=16)
    return BinaryLayer(
        thresh=thresh, wbits=wbits, mult=_round_int(alpha * unit_lsb * 2.0 ** sa),
        bias=_round_int(gamma * unit_lsb * 2.0 ** sa) + (1 << (sa - 1)), shift=sa,
        slope=_round_int(slope * 2.0 ** ss), slope_shift=ss, zeta=_round_int(zeta * unit_lsb),
        cin=int(cin), cout=int(cout), r=r)


def compile_tail(model: BBCUNet, fmt: FeatureFormat) -> TailLayer:
    cfg = model.cfg
    w = model.tail.weight.detach().double().numpy()
    b = model.tail.bias.detach().double().numpy()
    wq, s = _fp_weight_q(w)
    sign = 1.0 if cfg.task == "sr" else -1.0           # denoise/jpeg: out = input - tail
    px = formats.PIXEL_MAX / cfg.k
    m_real = sign * s * px / 2.0 ** fmt.frac              # pixels per acc unit
    st = _largest_shift(m_real, 1.0, lo=formats.BILINEAR_FRAC)
    return TailLayer(
        weight=wq, mult=_round_int(m_real * 2.0 ** st),
        bias=_round_int(sign * b * px * 2.0 ** st) + (1 << (st - 1)), shift=st,
        in_act="lrelu" if cfg.task == "sr" else "none", act_mult=_lrelu_mult(), act_shift=LRELU_SHIFT,
        skip="bilinear" if cfg.task == "sr" else "identity", r=cfg.scale)


def compile_model(model: BBCUNet, calib_images: list[torch.Tensor], feature_bits: int = 16) -> Program:
    """Fold a trained float model into an integer Program."""
    stats = calibrate(model, calib_images)
    max_abs = max(stats.values())
    fmt = FeatureFormat(bits=feature_bits, frac=choose_frac(max_abs, feature_bits))
    layers: list = [compile_head(model, fmt)]
    for unit in model.body:
        layers.append(compile_binary(unit, fmt, 1))
    for unit in model.up:
        layers.append(compile_binary(unit, fmt, unit.r))
    if model.hr is not None:
        layers.append(compile_binary(model.hr, fmt, 1))
    layers.append(compile_tail(model, fmt))
    calibration = {"max_abs": stats, "margin": CALIB_MARGIN, "images": len(calib_images)}
    prog = Program(model.cfg, fmt, layers, calibration)
    prog.validate()
    return prog
