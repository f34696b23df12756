"""The golden model and the float backend on a torch device other than the CPU (a CUDA GPU when
one is present): the integer results must be the same word for word as on the CPU."""
import numpy as np
import pytest
import torch

from conftest import random_network
from sw import golden
from sw.backends import FloatBackend, GoldenBackend, open_backend
from sw.compiler import compile_model
from sw.config import ModelConfig
from sw.models import resolve

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")

CONFIGS = [ModelConfig("sr", 2, 8, 2), ModelConfig("sr", 3, 8, 1), ModelConfig("denoise", 1, 8, 2),
           ModelConfig("jpeg", 1, 8, 2, colors=1)]


def _program(cfg, seed):
    return compile_model(random_network(cfg, seed), [torch.rand(2, cfg.colors, 24, 24)])


def _image(rng, cfg, h, w):
    shape = (h, w) if cfg.colors == 1 else (h, w, 3)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    img[:3] = 255        # saturating rows and columns at the image border
    img[:, -2:] = 0
    return img


def test_explicit_cpu_device_is_the_default(rng):
    cfg = CONFIGS[0]
    prog = _program(cfg, 1)
    img = _image(rng, cfg, 11, 9)
    np.testing.assert_array_equal(golden.run(prog, img, device="cpu"), golden.run(prog, img))


def test_device_is_refused_for_board_backends():
    with pytest.raises(ValueError, match="golden and float"):
        open_backend("virtual", resolve("x2-tiny"), device="cuda")


@cuda
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.task}x{c.scale}c{c.colors}")
def test_golden_on_cuda_equals_cpu(rng, cfg):
    prog = _program(cfg, 3)
    for h, w in [(1, 1), (5, 3), (40, 33)]:
        img = _image(rng, cfg, h, w)
        sat_cpu, sat_gpu = golden.SatCounter(), golden.SatCounter()
        ref = golden.run(prog, img, sat_cpu)
        got = golden.run(prog, img, sat_gpu, device="cuda")
        np.testing.assert_array_equal(got, ref)
        assert dict(sat_gpu) == dict(sat_cpu)


@cuda
def test_shipped_model_on_cuda_equals_cpu():
    from skimage import data as skdata

    ref = resolve("x2-tiny")
    img = skdata.astronaut()[100:196, 150:230]
    cpu, gpu = GoldenBackend(ref.load_program()), GoldenBackend(ref.load_program(), "cuda")
    np.testing.assert_array_equal(gpu.restore(img), cpu.restore(img))
    out = np.zeros(gpu.output_shape(img), np.uint8)
    np.testing.assert_array_equal(gpu.restore(img, out), cpu.restore(img))   # striped path
    f_cpu, f_gpu = FloatBackend(ref.load_float()), FloatBackend(ref.load_float(), "cuda")
    diff = np.abs(f_gpu.restore(img).astype(int) - f_cpu.restore(img).astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01   # float rounding only
