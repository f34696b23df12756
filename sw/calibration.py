"""Calibration inputs for the compiler: degraded training images, as the network will see them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from . import data
from .config import ModelConfig

BUNDLED = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry")


def degrade(img: np.ndarray, cfg: ModelConfig, rng: np.random.Generator, sigma: float = 50.0,
            quality: int = 10) -> np.ndarray:
    """The network input for a clean image: bicubic LR (SR), noisy (denoise) or JPEG (jpeg)."""
    if cfg.task == "sr":
        return data.imresize(data.modcrop(img, cfg.scale), 1.0 / cfg.scale)
    if cfg.task == "denoise":
        return data.add_noise(img, sigma, rng)
    return data.jpeg_degrade(img, quality)


def calibration_images(cfg: ModelConfig, folder: str | Path | None = None, n: int = 16) -> list[torch.Tensor]:
    rng = np.random.default_rng(0)
    if folder is None and (data.datasets_dir() / "T91").is_dir():
        folder = data.datasets_dir() / "T91"
    if folder is not None:
        clean = [data.load_image(p, cfg.colors) for p in data.list_images(folder)[:n]]
    else:
        clean = [data.sample_image(name, cfg.colors) for name in BUNDLED[:n]]
    if not clean:
        raise ValueError(f"no calibration images in {folder}")
    out = []
    for img in clean:
        x = degrade(img, cfg, rng)
        a = x[:, :, None] if x.ndim == 2 else x
        out.append(torch.from_numpy(a.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0))
    return out
