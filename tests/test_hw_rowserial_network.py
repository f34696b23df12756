"""RowSerialNetwork (hw/rowserial/network.py) in cocotb (Icarus): parameters loaded through its load
port, then whole frames through its pixel streams, against sw.golden.run on every output pixel.
Cases: SR x2 (RGB), denoise, grayscale JPEG, sizes from 1x1 to a few rows, two frames back to back,
input bubbles and output back-pressure."""
import numpy as np
import pytest
import torch

from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig

from conftest import random_network
from hw.rowserial.network import RowSerialNetwork
from sim.runner import run_cocotb


def _program(cfg, seed=11):
    return compile_model(random_network(cfg, seed), [torch.rand(1, cfg.colors, 16, 16)])


def _run(cfg, size, frames=1, p_bubble=0.0, p_stall=0.0, seed=3, max_width=16):
    prog = _program(cfg)
    h, w = size
    rng = np.random.default_rng(seed)
    imgs = [rng.integers(0, 256, (h, w, cfg.colors), dtype=np.uint8) for _ in range(frames)]
    if cfg.colors == 1:
        imgs = [im[:, :, 0] for im in imgs]
    ref = [golden.run(prog, im) for im in imgs]
    dut = RowSerialNetwork(prog, max_width=max_width, max_height=64)
    vec = {"params": dut.param_image().astype(np.int64)}
    for f, im in enumerate(imgs):
        vec[f"in{f}"] = np.asarray(im).astype(np.int64).reshape(-1)    # the pixels' bytes, colour 0 first
    res = run_cocotb(dut, f"rsnet_{cfg.task}_{cfg.colors}", "sim.tb_rowserial_network", vec,
                     {"width": w, "height": h, "frames": frames, "out_pixels": int(ref[0].size),   # (bytes)
                      "p_bubble": p_bubble, "p_stall": p_stall, "seed": seed, "max_cycles": 3_000_000})
    for f in range(frames):
        got = np.asarray(res["out"][f], dtype=np.int64)
        exp = np.asarray(ref[f]).astype(np.int64).reshape(-1)     # the pixels' bytes, colour 0 first
        bad = np.flatnonzero(got != exp)
        assert not len(bad), f"frame {f}: {len(bad)} of {len(exp)} bytes differ, first at {bad[0]}"
    return res, dut


def test_sr_x2_frame_and_cycle_model():
    res, dut = _run(ModelConfig("sr", 2, 4, 2), (5, 6))
    model = dut.cycles_per_frame(6, 5)
    print("cycles", res["cycles"], "model", model)
    assert abs(res["cycles"][0] - model) <= 0.02 * model, (res["cycles"], model)


@pytest.mark.parametrize("name,cfg,size", [
    ("sr-1x1", ModelConfig("sr", 2, 4, 2), (1, 1)),
    ("sr-tall", ModelConfig("sr", 2, 4, 1), (9, 3)),
    ("dn", ModelConfig("denoise", 1, 4, 2), (6, 5)),
    ("jpeg-gray", ModelConfig("jpeg", 1, 4, 1, colors=1), (4, 7)),
    ("dn-n0", ModelConfig("denoise", 1, 2, 0), (3, 4)),
    ("sr3", ModelConfig("sr", 3, 4, 1), (4, 3)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_frames(name, cfg, size):
    _run(cfg, size)


def test_two_frames_with_bubbles_and_back_pressure():
    _run(ModelConfig("sr", 2, 4, 2), (4, 5), frames=2, p_bubble=0.3, p_stall=0.4)


def test_full_stripe_width():
    _run(ModelConfig("sr", 2, 4, 1), (3, 16), max_width=16)
