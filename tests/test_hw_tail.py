# amaranth: UnusedElaboratable=no
"""TailConv in cocotb (Icarus) against golden.tail on whole images: realistic constants from compiled
random networks, crafted constants that clamp at 0 and 255 (and a colour with M = 0 that shows the
skip path alone), full-range features, both input activations, colours 3 and 1, identity and
bilinear skips, bubbles and back-pressure, and the cycle model."""
import dataclasses

import numpy as np
import pytest
import torch

from conftest import random_network
from hw.tail import TailConv
from sim.runner import run_cocotb
from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig


def compiled_tail(cfg: ModelConfig, seed: int, feature_bits: int = 16):
    m = random_network(cfg, seed=seed)
    with torch.no_grad():
        m.tail.bias.normal_(0, 0.3)
    prog = compile_model(m, [torch.rand(1, cfg.colors, 12, 12, generator=torch.Generator().manual_seed(seed))],
                         feature_bits)
    return prog.tail, prog.fmt


def clamping(layer):
    """Large |M| at a small shift: outputs hit 0 and 255; the last colour (of 3) has M = 0, so its
    output is the rounded skip alone."""
    colors = len(layer.mult)
    st = 22
    mult = np.array([(1 << 17) - 1, -(1 << 17), 0][:colors], dtype=np.int64)
    bias = np.array([1 << (st - 1)] * colors, dtype=np.int64)
    return dataclasses.replace(layer, mult=mult, bias=bias, shift=st)


def frame(layer, fmt, h, w, skip, rng, colors):
    """Random full-range features of an h x w output and pixels; -> (vals, skip words, pixels)."""
    c = layer.weight.shape[1]
    feat = rng.integers(fmt.lo, fmt.hi + 1, (1, c, h, w))
    flat = feat.reshape(-1)
    flat[rng.integers(0, flat.size, max(1, flat.size // 8))] = fmt.lo     # extremes
    flat[rng.integers(0, flat.size, max(1, flat.size // 8))] = fmt.hi
    feat = torch.from_numpy(feat.astype(np.int64))
    if skip == "bilinear":
        r = layer.r
        pix = torch.from_numpy(rng.integers(0, 256, (1, colors, h // r, w // r)).astype(np.int64))
        lay = dataclasses.replace(layer, skip="bilinear")
        sk = golden.bilinear_skip(pix, r)
    else:
        pix = torch.from_numpy(rng.integers(0, 256, (1, colors, h, w)).astype(np.int64))
        lay = dataclasses.replace(layer, skip="identity", r=1)
        sk = pix << 16
    counter = golden.SatCounter()
    out = golden.tail(feat, pix, lay, fmt, counter)
    win, _ = golden.window3x3(feat)
    return (win[0].reshape(-1).numpy(), sk[0].permute(1, 2, 0).reshape(-1, colors).numpy(),
            out[0].permute(1, 2, 0).reshape(-1, colors).numpy(), counter["tail.pixel"])


ID_FRAMES = [(1, 1, "identity"), (1, 4, "identity"), (3, 3, "identity")]

CASES = [
    # cfg, constants, frames (output h, w, skip), p_bubble, p_stall, feature bits, serial requantiser
    pytest.param(ModelConfig("sr", 2, 8, 1), "real", ID_FRAMES + [(2, 2, "bilinear"), (2, 4, "bilinear")],
                 0.0, 0.0, 16, False, id="lrelu-c3-real-clean"),
    pytest.param(ModelConfig("sr", 2, 8, 1), "clamp", ID_FRAMES + [(4, 2, "bilinear")],
                 0.3, 0.3, 16, False, id="lrelu-c3-clamp-bubbles"),
    pytest.param(ModelConfig("denoise", 1, 8, 1), "real", ID_FRAMES, 0.2, 0.5, 16, False, id="none-c3-real-bubbles"),
    pytest.param(ModelConfig("jpeg", 1, 4, 1, colors=1), "clamp", ID_FRAMES, 0.0, 0.0, 16, False, id="none-c1-clamp-clean"),
    pytest.param(ModelConfig("sr", 3, 2, 1, colors=1), "clamp", ID_FRAMES + [(3, 3, "bilinear"), (3, 6, "bilinear")],
                 0.5, 0.5, 12, False, id="lrelu-c1-clamp-fw12-bubbles"),
    pytest.param(ModelConfig("sr", 4, 1, 1), "real", ID_FRAMES + [(4, 4, "bilinear")], 0.0, 0.0, 16, False,
                 id="lrelu-c3-C1-clean"),
    pytest.param(ModelConfig("denoise", 1, 1, 1), "clamp", ID_FRAMES, 0.2, 0.7, 16, False, id="none-c3-C1-clamp-stalls"),
    pytest.param(ModelConfig("sr", 2, 8, 1), "real", ID_FRAMES + [(2, 2, "bilinear"), (2, 4, "bilinear")],
                 0.0, 0.0, 16, True, id="lrelu-c3-real-serial-clean"),
    pytest.param(ModelConfig("sr", 2, 8, 1), "clamp", ID_FRAMES + [(4, 2, "bilinear")],
                 0.3, 0.3, 16, True, id="lrelu-c3-clamp-serial-bubbles"),
    pytest.param(ModelConfig("jpeg", 1, 4, 1, colors=1), "clamp", ID_FRAMES, 0.2, 0.5, 16, True,
                 id="none-c1-clamp-serial-bubbles"),
    # (ids with "dspreg": the requantiser's DSP outputs registered once more, as in the dataflow network)
    pytest.param(ModelConfig("sr", 2, 8, 1), "real", ID_FRAMES + [(2, 2, "bilinear")], 0.0, 0.0, 16, False,
                 id="lrelu-c3-real-dspreg-clean"),
    pytest.param(ModelConfig("sr", 3, 2, 1, colors=1), "clamp", ID_FRAMES + [(3, 3, "bilinear")],
                 0.4, 0.4, 12, False, id="lrelu-c1-clamp-fw12-dspreg-bubbles"),
]


@pytest.mark.parametrize("cfg,consts,frames,p_bubble,p_stall,fbits,serial", CASES)
def test_tail_unit(request, cfg, consts, frames, p_bubble, p_stall, fbits, serial):
    dsp_reg = "dspreg" in request.node.callspec.id
    layer, fmt = compiled_tail(cfg, seed=cfg.channels * 3 + cfg.scale, feature_bits=fbits)
    assert layer.in_act == ("lrelu" if cfg.task == "sr" else "none")
    if consts == "clamp":
        layer = clamping(layer)
    rng = np.random.default_rng(cfg.channels + 17 * cfg.colors)
    parts = [frame(layer, fmt, h, w, sk, rng, cfg.colors) for h, w, sk in frames]
    vals = np.concatenate([p[0] for p in parts])
    skip = np.concatenate([p[1] for p in parts])
    pix = np.concatenate([p[2] for p in parts])
    if consts == "clamp":
        assert sum(p[3] for p in parts) > 0 and (pix == 0).any() and (pix == 255).any()
    unit = TailConv(layer, fmt, cfg.channels, cfg.colors, serial_req=serial, dsp_reg=dsp_reg)
    assert unit.dsp_reg == dsp_reg
    if serial:
        assert unit.resource_estimate()["dsp"] == cfg.colors     # no DSP block for the requantiser
    res = run_cocotb(unit, "tail", "sim.tb_tail", {"vals": vals, "skip": skip, "pix": pix},
                     {"bits": fmt.bits, "colors": cfg.colors, "per_pixel": 9 * cfg.channels,
                      "p_bubble": p_bubble, "p_stall": p_stall, "seed": 7})
    if p_bubble == 0 and p_stall == 0:
        model = unit.cycle_model(len(pix), 1)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)


def test_tail_rejects_bad_shapes():
    layer, fmt = compiled_tail(ModelConfig("sr", 2, 4, 1), seed=0)
    with pytest.raises(ValueError):
        TailConv(layer, fmt, 4, 1)
    with pytest.raises(ValueError):
        TailConv(dataclasses.replace(layer, shift=15), fmt, 4, 3)
    one, _ = compiled_tail(ModelConfig("sr", 2, 1, 1), seed=0)
    with pytest.raises(ValueError, match="serial_req"):
        TailConv(one, fmt, 1, 3, serial_req=True)        # 9 cycles per pixel: too few for 3 colours
    est = TailConv(layer, fmt, 4, 3).resource_estimate()
    assert set(est) == {"lut", "ff", "bram_bits", "dsp"} and est["bram_bits"] == 9 * 4 * 8 * 3


def test_leaky_relu_product_spans_two_stages(tmp_path):
    """x * act_mult as shift-and-add: the CSD terms' pair sums are registered from the input
    payload (one adder), their sum goes into q2 (ECP5 netlist: at most 3 logic levels from a
    register to q2, a carry chain counting as one; 4 with the whole product between x_1 and q2,
    x4-base's critical path in docs/boards.md row 119, 13.86 ns)."""
    from conftest import port_to_register_depth, synth_cell_counts
    cfg = ModelConfig("sr", 2, 8, 1)
    layer, fmt = compiled_tail(cfg, seed=1)
    assert layer.in_act == "lrelu"
    synth_cell_counts(tmp_path, "ecp5", TailConv(layer, fmt, cfg.channels, cfg.colors), None)
    assert port_to_register_depth(tmp_path, "i__payload", "am_pair") == 1
    assert max(port_to_register_depth(tmp_path, src, "q2") for src in ("x_1", "am_pair")) <= 3
