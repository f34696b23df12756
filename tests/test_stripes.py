"""Stripe tiling is exact: the golden model on a stripe with the receptive halo reproduces the
whole-image output on the stripe's interior (the basis of the host driver's tiling)."""
import numpy as np
import pytest
import torch

from hw.network import receptive_halo
from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig

from conftest import random_network


@pytest.mark.parametrize("cfg", [ModelConfig("sr", 2, 4, 3), ModelConfig("sr", 4, 4, 2), ModelConfig("sr", 3, 4, 2),
                                 ModelConfig("denoise", 1, 4, 3)], ids=lambda c: f"{c.task}x{c.scale}")
def test_stripe_with_halo_is_exact(cfg):
    prog = compile_model(random_network(cfg, 3), [torch.rand(1, 3, 20, 20)])
    img = np.random.default_rng(0).integers(0, 256, (12, 40, 3), dtype=np.uint8)
    full = golden.run(prog, img)
    halo, s = receptive_halo(prog), cfg.scale
    x0, x1 = 15, 25
    out = golden.run(prog, img[:, x0 - halo:x1 + halo])[:, halo * s:(halo + x1 - x0) * s]
    assert np.array_equal(out, full[:, x0 * s:x1 * s])
    # at the image border the stripe needs no halo on that side (zero padding is the true semantics)
    left = golden.run(prog, img[:, :x1 + halo])[:, :x1 * s]
    assert np.array_equal(left, full[:, :x1 * s])
