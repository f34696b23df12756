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


class BoardBackend(Backend):
    """A board (or the virtual board) reached through pyserial: a device path or any pyserial URL."""

    name = "serial"

    def __init__(self, program, url: str, baud: int = 3_000_000, timeout: float = 10.0):
        from .driver import Accelerator

        self.program = program
        self.config = program.config
        self.acc = Accelerator.open(url, baud=baud, timeout=timeout)
        self.acc.check_program(program.content_hash)

    def restore(self, img):
        return self.acc.restore(img)

    def close(self):
        self.acc.close()


class VirtualBackend(BoardBackend):
    """The Verilator virtual board: built on first use (cached by program hash), started on a free
    local port, or reached at `url` if one is already running."""

    name = "virtual"

    def __init__(self, program, url: str | None = None, timeout: float = 60.0):
        self.board = None
        if url is None:
            from sim.vboard import VirtualBoard, build

            self.board = VirtualBoard(build(program, virtual_build_config())).start()
            url = self.board.url
        try:
            super().__init__(program, url, timeout=timeout)
        except Exception:
            self.close()
            raise

    def close(self):
        if hasattr(self, "acc"):
            super().close()
        if self.board is not None:
            self.board.stop()


def virtual_build_config():
    """The virtual board's build: stripes up to 64 LR pixels wide (halo included)."""
    from hw.accelerator import BuildConfig

    return BuildConfig(max_width=64, max_height=2048, max_payload=1024)


def open_backend(name: str, model_ref, port: str | None = None, baud: int = 3_000_000) -> Backend:
    if name == "golden":
        return GoldenBackend(model_ref.load_program())
    if name == "float":
        return FloatBackend(model_ref.load_float())
    if name == "virtual":
        return VirtualBackend(model_ref.load_program(), port)
    if name == "serial":
        if not port:
            raise ValueError("--backend serial needs --port (e.g. /dev/ttyUSB1)")
        return BoardBackend(model_ref.load_program(), port, baud)
    raise ValueError(f"unknown backend {name!r}")
