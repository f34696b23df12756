"""The generated network in cocotb: every output pixel equals the golden model (whole image)."""
import gc
import warnings

import numpy as np
import pytest
import torch
from amaranth.hdl import UnusedElaboratable

from hw.estimate import throwaway
from hw.fold import auto_fold
from hw.network import Network
from sim.runner import run_cocotb
from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig

from conftest import random_network

CASES = [
    ("sr", ModelConfig("sr", 2, 4, 2), (5, 6), 0.0, 0.0),
    ("sr-bp", ModelConfig("sr", 2, 4, 1), (4, 5), 0.3, 0.3),
    ("dn", ModelConfig("denoise", 1, 4, 2), (5, 7), 0.2, 0.2),
    ("jpeg1x1", ModelConfig("jpeg", 1, 4, 1, colors=1), (1, 1), 0.0, 0.0),
    ("x4", ModelConfig("sr", 4, 2, 1), (3, 4), 0.0, 0.0),
    # C = 16: the window generators keep their line buffers in sub-words (hw/bbcu_layer.window_sub:
    # 2 per column at LR and HR, 4 in the BBCU-U units' three-row buffers)
    ("sr-c16", ModelConfig("sr", 2, 16, 1), (4, 5), 0.2, 0.2),
    ("x4-c16", ModelConfig("sr", 4, 16, 1), (3, 4), 0.0, 0.0),
]


@pytest.mark.parametrize("name,cfg,size,p_bubble,p_stall", CASES, ids=[c[0] for c in CASES])
def test_network_bit_exact(name, cfg, size, p_bubble, p_stall):
    prog = compile_model(random_network(cfg, 11), [torch.rand(1, cfg.colors, 16, 16)])
    h, w = size
    img = np.random.default_rng(7).integers(0, 256, (h, w, cfg.colors), dtype=np.uint8)
    img[0, 0] = 0
    if h * w > 2:
        img[-1, -1] = 255
    expected = golden.run(prog, img if cfg.colors == 3 else img[:, :, 0])
    expected = expected.reshape(h * cfg.scale, w * cfg.scale, cfg.colors)
    net = Network(prog, auto_fold(prog), max_width=8, max_height=16)
    model = net.cycle_model(w, h)
    res = run_cocotb(net, f"net_{name}", "sim.tb_network", {"image": img, "expected": expected},
                     {"p_bubble": p_bubble, "p_stall": p_stall, "seed": 1, "max_cycles": 40 * model + 20000})
    assert res["pixels"] == h * w


def test_network_stripe_at_a_non_power_of_two_width_limit():
    """A stripe as wide as a non-power-of-two max_width (6), taller than the pipeline's row
    latency, with bubbles and back-pressure: every line buffer (window generators, replay,
    up-sampler, bilinear skip, feature window) and FIFO at its width limit over many rows.
    (Checked while chasing the virtual board's 96-wide stall, which was in the link, not here.)"""
    cfg = ModelConfig("sr", 2, 4, 2)
    prog = compile_model(random_network(cfg, 11), [torch.rand(1, cfg.colors, 16, 16)])
    h, w = 10, 6
    img = np.random.default_rng(3).integers(0, 256, (h, w, cfg.colors), dtype=np.uint8)
    expected = golden.run(prog, img).reshape(h * cfg.scale, w * cfg.scale, cfg.colors)
    net = Network(prog, auto_fold(prog), max_width=w, max_height=16)
    model = net.cycle_model(w, h)
    res = run_cocotb(net, "net_limit6", "sim.tb_network", {"image": img, "expected": expected},
                     {"p_bubble": 0.2, "p_stall": 0.3, "seed": 2, "max_cycles": 40 * model + 20000})
    assert res["pixels"] == h * w


@pytest.mark.parametrize("cfg,size", [(ModelConfig("sr", 2, 4, 1), (4, 16)), (ModelConfig("sr", 4, 2, 1), (3, 12)),
                                      (ModelConfig("denoise", 1, 4, 1), (4, 16)),
                                      (ModelConfig("sr", 2, 16, 1), (3, 12)),
                                      (ModelConfig("jpeg", 1, 4, 1, colors=1), (16, 16))],
                         ids=["x2", "x4", "dn", "x2-c16", "jpeg-head-bound"])
def test_network_steady_state_meets_the_throughput_model(cfg, size):
    """Whole network at full input rate: from the first to the last output pixel it runs at the
    model's cycles per LR pixel (hw/fold.py) within 2 %, bit-exact. Catches dependency stalls
    between balanced stages, such as the BBCU-U replay stall (+44 % on x2-tiny before the replay
    FIFO in hw/bbcu_layer.py). jpeg-head-bound: the head (36 cycles per pixel, +1 for its half-rate
    input cut) is the bottleneck, so the model's refill cycle (2.7 %) is checked too (16 rows: the
    tail's drain of the last rows at 36 cycles weighs little)."""
    from sim.profile import profile

    prog = compile_model(random_network(cfg, 5), [torch.rand(1, cfg.colors, 16, 16)])
    img = np.random.default_rng(1).integers(0, 256, (*size, cfg.colors), dtype=np.uint8)
    rep = profile(prog, img, monitor=False)
    assert rep["bit_exact"]
    assert abs(rep["model_error"]) <= 0.02, rep


def test_pixel_window_is_decoupled_when_the_head_takes_two_cycles_or_more():
    """The pixel window generator's step logic does not read the head's ready (through cut_head)
    when the head takes >= 2 cycles per pixel, where a decoupled window costs no throughput
    (hw/window.py; the throughput test above runs such networks against the model). The head
    takes one cycle per output channel at least, so every network has it decoupled."""
    for cfg in [ModelConfig("sr", 2, 4, 1), ModelConfig("sr", 4, 2, 1), ModelConfig("denoise", 1, 4, 1)]:
        prog = compile_model(random_network(cfg, 5), [torch.rand(1, cfg.colors, 16, 16)])
        for fold in (auto_fold(prog), auto_fold(prog, 1)):
            net = Network(prog, fold)
            u = net.units()
            throwaway(net, *u.values())
            assert u["head"].cycles_per_pixel() >= 2 and u["pwin"].decoupled, (cfg, fold)


def test_head_input_cut_is_half_rate_when_the_head_takes_many_cycles():
    """cut_head is the half-rate SkidBuffer exactly when the head takes HALF_RATE_HEAD_CYCLES or
    more per pixel, and the throughput model counts its refill cycle (checked in cocotb by the
    steady-state test's head-bound case above; auto_fold's heads take 36-108 cycles here, fully
    folded ones 2-4 and keep the full-rate cut)."""
    from hw.fold import HALF_RATE_HEAD_CYCLES, throughput
    seen = set()
    for cfg in [ModelConfig("sr", 2, 4, 1), ModelConfig("sr", 4, 2, 1), ModelConfig("denoise", 1, 4, 1)]:
        prog = compile_model(random_network(cfg, 5), [torch.rand(1, cfg.colors, 16, 16)])
        for fold in (auto_fold(prog), auto_fold(prog, 1)):
            net = Network(prog, fold, max_width=8, max_height=8)
            u = net.units()
            throwaway(*u.values())
            cyc = u["head"].cycles_per_pixel()
            half = cyc >= HALF_RATE_HEAD_CYCLES
            assert throughput(prog, fold)["stages"]["head"] == cyc + half, (cfg, fold)
            # (elaborated only to look at the cut: its sub-units are never used, no warnings then)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnusedElaboratable)
                net.elaborate(None)
                assert net.cut_head.half_rate == half, (cfg, fold)
                del net, u
                gc.collect()
            seen.add(half)
    assert seen == {False, True}


def test_head_output_is_cut_beside_the_head(tmp_path):
    """The head's output goes through a SkidBuffer of the network's (cut_head_o) before layer 0's
    input cut: layer 0's flags then reach only that cut's registers, not the head's pipeline (its
    enable, ~o.valid | o.ready, is every head stage's clock enable; from layer 0's flag it was
    x4-base's critical path, a 10.7 ns route: docs/boards.md row 133)."""
    from sim.fanout import NoYosys, register_fanout

    cfg = ModelConfig("sr", 2, 4, 1)
    prog = compile_model(random_network(cfg, 5), [torch.rand(1, cfg.colors, 16, 16)])
    try:
        regs = register_fanout(Network(prog, auto_fold(prog), max_width=8, max_height=8),
                               "layer0.cut_in.i__ready", tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    # (flattened cell names: $flatten\\cut_head_o.$48, ...)
    assert regs and all(c.split("\\")[-1].startswith("cut_head_o.") for c in regs), list(regs)
