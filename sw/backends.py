"""Restoration backends behind one interface: golden (integer model) and float (PyTorch model).

The accelerator backends (virtual board, serial board) implement the same `restore` method.
"""
from __future__ import annotations

import numpy as np
import torch

from . import golden
from .config import ModelConfig


class Backend:
    name = "base"
    config: ModelConfig

    def restore(self, img: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self):
        pass


class GoldenBackend(Backend):
    """The bit-exact integer model of the hardware program."""

    name = "golden"

    def __init__(self, program):
        self.program = program
        self.config = program.config
        self.saturations = golden.SatCounter()

    def restore(self, img):
        return golden.run(self.program, img, self.saturations)


class FloatBackend(Backend):
    """The float PyTorch model (for comparison only; the hardware computes the golden model)."""

    name = "float"

    def __init__(self, model):
        self.model = model.eval()
        self.config = model.cfg

    @torch.no_grad()
    def restore(self, img):
        a = img[:, :, None] if img.ndim == 2 else img
        x = torch.from_numpy(a.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0)
        y = self.model(x)
        out = torch.round(y.clamp(0, 1) * 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
        return out[:, :, 0] if img.ndim == 2 else out


def open_backend(name: str, model_ref) -> Backend:
    if name == "golden":
        return GoldenBackend(model_ref.load_program())
    if name == "float":
        return FloatBackend(model_ref.load_float())
    raise ValueError(f"unknown backend {name!r}")
