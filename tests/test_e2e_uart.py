"""Issue 4 end-to-end in cocotb: the complete UART top, real image crops and noise, bit-exact."""
import numpy as np
import pytest
import torch

from hw.accelerator import Accelerator, BuildConfig
from hw.fold import auto_fold
from sim.runner import run_cocotb
from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig
from sw.data import load_image

from conftest import need_dataset, random_network

CLK = 100_000_000      # testbench clock (10 ns)


def test_accelerator_uart_end_to_end():
    set5 = need_dataset("Set5")
    cfg = ModelConfig("sr", 2, 4, 1)
    prog = compile_model(random_network(cfg, 5), [torch.rand(1, 3, 16, 16)])
    build = BuildConfig(max_width=12, max_height=64, max_payload=48, clock_hz=CLK, baud=CLK // 4, timeout_ms=0.05)
    crop = load_image(set5 / "butterfly.png")[100:104, 60:75]        # 4 x 15: two stripes
    noise = np.random.default_rng(3).integers(0, 256, (3, 14, 3), dtype=np.uint8)
    vectors = {}
    for name, img in (("crop", crop), ("noise", noise)):
        vectors[name] = img
        vectors[name + "_expected"] = golden.run(prog, img)
    run_cocotb(Accelerator(prog, build, auto_fold(prog)), "accel_uart", "sim.tb_accel_uart", vectors,
               {"baud": CLK // 4, "hash": prog.content_hash, "images": ["crop", "noise"]})
