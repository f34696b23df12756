"""Golden-model speed benchmark."""
from __future__ import annotations

import time

import numpy as np
import torch

from . import golden
from .config import PRESETS
from .models import resolve


def golden_speed(model_spec=None, size=256, preset=None) -> dict:
    if preset:
        from .calibration import calibration_images
        from .compiler import compile_model
        from .model import BBCUNet

        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        torch.manual_seed(0)
        model = BBCUNet(PRESETS[preset]).eval()
        prog = compile_model(model, calibration_images(model.cfg, n=2))
        name = f"random {preset}"
    else:
        ref = resolve(model_spec)
        prog = ref.load_program()
        name = ref.name
    cfg = prog.config
    img = np.random.default_rng(0).integers(0, 256, (size, size, cfg.colors), dtype=np.uint8)
    if cfg.colors == 1:
        img = img[:, :, 0]
    golden.run(prog, img[:16, :16])  # warm-up
    t0 = time.perf_counter()
    golden.run(prog, img)
    dt = time.perf_counter() - t0
    return {"model": name, "channels": cfg.channels, "units": cfg.units, "scale": cfg.scale,
            "input": f"{size}x{size}", "seconds": round(dt, 3), "threads": torch.get_num_threads(),
            "input_pixels_per_s": round(size * size / dt, 1)}
