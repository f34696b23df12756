"""Restoration backends behind one interface: golden (integer model), float (PyTorch model),
and the accelerator backends (virtual board, serial board).

    bk.restore(img, out=None, progress=None)   # uint8 HxW(xC) -> uint8 (H*r)x(W*r)(xC)

`out`, when given, is an array of `bk.output_shape(img)` (e.g. a numpy memmap) that receives the
result stripe by stripe, so a large output need not fit in memory (golden and board backends;
the float backend computes the whole image, then copies it). `progress` is called as
progress(stripes_done, stripes_total, lr_pixels_done, lr_pixels_total). `link_stats` is the
board link's LinkStats (None for software backends).
"""
from __future__ import annotations

import numpy as np
import torch

from . import golden
from .config import ModelConfig
from .tiling import image_shape, plan_stripes


#: the golden backend computes outputs given as `out` in stripes of this many LR columns (core)
GOLDEN_STRIPE = 256


class Backend:
    name = "base"
    config: ModelConfig
    link_stats = None

    def output_shape(self, img: np.ndarray) -> tuple[int, ...]:
        h, w, _ = image_shape(img)
        r = self.config.scale
        return (h * r, w * r) + img.shape[2:]

    def restore(self, img: np.ndarray, out: np.ndarray | None = None, progress=None) -> np.ndarray:
        raise NotImplementedError

    def close(self):
        pass


def _check(bk: Backend, img: np.ndarray, out: np.ndarray | None):
    h, w, c = image_shape(img)
    if c != bk.config.colors:
        raise ValueError(f"image has {c} colour channel(s), the model expects {bk.config.colors}")
    shape = bk.output_shape(img)
    if out is not None and (out.shape != shape or out.dtype != np.uint8):
        raise ValueError(f"output array is {out.dtype} {out.shape}, expected uint8 {shape}")
    return h, w


class GoldenBackend(Backend):
    """The bit-exact integer model of the hardware program."""

    name = "golden"

    def __init__(self, program, device=None):
        self.program = program
        self.config = program.config
        self.saturations = golden.SatCounter()
        self.device = device

    def restore(self, img, out=None, progress=None):
        h, w = _check(self, img, out)
        if out is None:
            res = golden.run(self.program, img, self.saturations, self.device)
            if progress:
                progress(1, 1, h * w, h * w)
            return res
        # stripes with the receptive halo give the whole-image result exactly (tests/test_stripes.py)
        from hw.network import receptive_halo

        halo, r = receptive_halo(self.program), self.config.scale
        stripes = plan_stripes(w, halo, GOLDEN_STRIPE + 2 * halo)
        done = 0
        for i, s in enumerate(stripes):
            res = golden.run(self.program, img[:, s.in0:s.in1], self.saturations, self.device)
            out[:, s.core0 * r:s.core1 * r] = res[:, s.crop_left * r:(s.width - s.crop_right) * r]
            done += h * (s.core1 - s.core0)
            if progress:
                progress(i + 1, len(stripes), done, h * w)
        return out


class FloatBackend(Backend):
    """The float PyTorch model (for comparison only; the hardware computes the golden model)."""

    name = "float"

    def __init__(self, model, device=None):
        self.device = torch.device(device or "cpu")
        self.model = model.eval().to(self.device)
        self.config = model.cfg

    @torch.no_grad()
    def restore(self, img, out=None, progress=None):
        h, w = _check(self, img, out)
        a = img[:, :, None] if img.ndim == 2 else img
        x = torch.from_numpy(a.astype(np.float32) / 255.0).permute(2, 0, 1).unsqueeze(0).to(self.device)
        y = self.model(x)
        res = torch.round(y.clamp(0, 1) * 255).to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
        res = res[:, :, 0] if img.ndim == 2 else res
        if progress:
            progress(1, 1, h * w, h * w)
        if out is None:
            return res
        out[...] = res
        return out


class BoardBackend(Backend):
    """A board (or the virtual board) reached through pyserial: a device path or any pyserial URL."""

    name = "serial"

    def __init__(self, program, url: str, baud: int = 3_000_000, timeout: float = 10.0):
        from .driver import Accelerator

        self.program = program
        self.config = program.config
        self.acc = Accelerator.open(url, baud=baud, timeout=timeout)
        self.acc.prepare(program)

    @property
    def link_stats(self):
        return self.acc.stats

    def restore(self, img, out=None, progress=None):
        _check(self, img, out)
        return self.acc.restore(img, progress, out)

    def close(self):
        self.acc.close()


class VirtualBackend(BoardBackend):
    """The Verilator virtual board: built on first use (cached by program hash), started on a free
    local port, or reached at `url` if one is already running."""

    name = "virtual"

    def __init__(self, program, url: str | None = None, timeout: float = 60.0, baud: int = 3_000_000,
                 build_cfg=None):
        """`baud` is nominal here (TCP has no line rate): it is the rate the link figures
        (busy time, utilisation) are computed for, the UART rate of a real board."""
        self.board = None
        if url is None:
            from sim.vboard import VirtualBoard, build

            import sys

            # build messages go to stderr: stdout may carry --json output
            binary = build(program, build_cfg or virtual_build_config(), log=lambda m: print(m, file=sys.stderr))
            self.board = VirtualBoard(binary).start()
            url = self.board.url
        try:
            super().__init__(program, url, baud=baud, timeout=timeout)
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


def open_backend(name: str, model_ref, port: str | None = None, baud: int = 3_000_000,
                 timeout: float | None = None, device: str | None = None) -> Backend:
    """`timeout`: seconds of silence from a board before giving up (default 60 virtual, 10 serial).
    `device`: the torch device of the software backends (golden, float), e.g. "cuda"; default CPU."""
    if device is not None and name not in ("golden", "float"):
        raise ValueError(f"--device applies to the golden and float backends, not {name!r}")
    if name == "golden":
        return GoldenBackend(model_ref.load_program(), device)
    if name == "float":
        return FloatBackend(model_ref.load_float(), device)
    if name == "virtual":
        return VirtualBackend(model_ref.load_program(), port, timeout=timeout or 60.0, baud=baud)
    if name == "serial":
        if not port:
            raise ValueError("--backend serial needs --port (e.g. /dev/ttyUSB1)")
        return BoardBackend(model_ref.load_program(), port, baud, timeout=timeout or 10.0)
    raise ValueError(f"unknown backend {name!r}")
