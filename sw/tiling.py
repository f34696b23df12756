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


def stripe_frames(img: np.ndarray, s: Stripe, seq0: int, max_payload: int) -> list[bytes]:
    """Frames that send one stripe: STRIPE_BEGIN, then STRIPE_ROWS of at most max_payload bytes."""
    part = np.ascontiguousarray(img[:, s.in0:s.in1])
    frames = [P.encode(P.T.STRIPE_BEGIN, seq0, P.STRIPE.pack(s.width, img.shape[0], s.crop_left, s.crop_right))]
    raw = part.tobytes()
    chunk = max(1, max_payload)
    for i, off in enumerate(range(0, len(raw), chunk)):
        frames.append(P.encode(P.T.STRIPE_ROWS, seq0 + 1 + i, raw[off:off + chunk]))
    return frames


def place_row(out: np.ndarray, s: Stripe, scale: int, row: int, payload: bytes):
    """Write one RESULT_ROW payload (cropped row pixels) into the output image."""
    colors = out.shape[2]
    w = (s.core1 - s.core0) * scale
    px = np.frombuffer(payload, dtype=np.uint8)
    if px.size != w * colors:
        raise P.ProtocolError(f"result row of {px.size} bytes, expected {w * colors}")
    out[row, s.core0 * scale:s.core1 * scale] = px.reshape(w, colors)
