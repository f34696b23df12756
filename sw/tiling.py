"""Splitting an image into stripes with the receptive halo, and putting the results back.

A stripe is full height and at most `max_width` LR pixels wide, halo included; its output is
cropped on the board to the stripe's core columns, so stitched results equal the whole-image
golden output (tests/test_stripes.py proves the halo is sufficient).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import protocol as P


@dataclass(frozen=True)
class Stripe:
    in0: int        # first input column (LR)
    in1: int        # one past the last input column
    core0: int      # first output column (LR units) this stripe is responsible for
    core1: int

    @property
    def width(self) -> int:
        return self.in1 - self.in0

    @property
    def crop_left(self) -> int:
        return self.core0 - self.in0

    @property
    def crop_right(self) -> int:
        return self.in1 - self.core1


def plan_stripes(width: int, halo: int, max_width: int) -> list[Stripe]:
    if width < 1:
        raise ValueError("image width must be >= 1")
    if width <= max_width:
        return [Stripe(0, width, 0, width)]
    step = max_width - 2 * halo
    if step < 1:
        raise ValueError(f"stripe limit {max_width} too small for a halo of {halo}")
    stripes, a = [], 0
    while a < width:
        in0 = max(0, a - halo)
        # the first stripe needs no left halo, so its core can be wider
        b = min(width, in0 + max_width - halo) if in0 == 0 else min(width, a + step)
        if b == width:
            in1 = width
        else:
            in1 = min(width, b + halo)
        stripes.append(Stripe(in0, in1, a, b))
        a = b
    return stripes


def image_shape(img: np.ndarray) -> tuple[int, int, int]:
    """(height, width, colours) of a uint8 HxW or HxWxC image; ValueError for anything else,
    including an empty image (0 rows or 0 columns)."""
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise ValueError(f"expected an HxW or HxWxC image array, got {getattr(img, 'shape', type(img).__name__)}")
    if img.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {img.dtype}")
    h, w = img.shape[:2]
    c = img.shape[2] if img.ndim == 3 else 1
    if h < 1 or w < 1 or c < 1:
        raise ValueError(f"empty image ({w}x{h} pixels, {c} channels): nothing to restore")
    return h, w, c


def stripe_payloads(img: np.ndarray, s: Stripe, max_payload: int) -> list[bytes]:
    """Payloads that send one stripe: STRIPE_BEGIN's geometry, then the stripe's pixels (raster
    order) cut into STRIPE_ROWS payloads of at most max_payload bytes."""
    part = np.ascontiguousarray(img[:, s.in0:s.in1])
    raw = part.tobytes()
    chunk = max(1, max_payload)
    head = P.STRIPE.pack(s.width, img.shape[0], s.crop_left, s.crop_right)
    return [head] + [raw[off:off + chunk] for off in range(0, len(raw), chunk)]


def stripe_frames(img: np.ndarray, s: Stripe, seq0: int, max_payload: int) -> list[bytes]:
    """Frames that send one stripe: STRIPE_BEGIN, then STRIPE_ROWS of at most max_payload bytes."""
    pl = stripe_payloads(img, s, max_payload)
    return [P.encode(P.T.STRIPE_BEGIN, seq0, pl[0])] + [
        P.encode(P.T.STRIPE_ROWS, seq0 + 1 + i, p) for i, p in enumerate(pl[1:])]


def place_row(out: np.ndarray, s: Stripe, scale: int, row: int, payload: bytes):
    """Write one RESULT_ROW payload (cropped row pixels) into the output image."""
    colors = out.shape[2]
    w = (s.core1 - s.core0) * scale
    px = np.frombuffer(payload, dtype=np.uint8)
    if px.size != w * colors:
        raise P.ProtocolError(f"result row of {px.size} bytes, expected {w * colors}")
    out[row, s.core0 * scale:s.core1 * scale] = px.reshape(w, colors)
