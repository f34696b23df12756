"""Host driver: stream an image to a board (or the virtual board) and stitch the restored image.

    acc = Accelerator.open("socket://127.0.0.1:7777")     # or "/dev/ttyUSB1"
    out = acc.restore(img)                                 # uint8 HxWxC -> uint8 (H*r)x(W*r)xC

The image is split into full-height stripes with the receptive halo (sw/tiling.py); each stripe
is sent as STRIPE_BEGIN + STRIPE_ROWS frames (stop-and-wait per frame, while RESULT_ROW frames
stream back concurrently on the other direction of the link). A NACKed frame is resent; a stripe
whose results are incomplete or damaged is redone after a RESET, a bounded number of times; then
the run fails with a clear DriverError.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import protocol as P
from .tiling import Stripe, place_row, plan_stripes, stripe_frames


class DriverError(RuntimeError):
    """A failure talking to the board (timeouts, repeated CRC errors, wrong program...)."""


@dataclass
class LinkStats:
    bytes_out: int = 0
    bytes_in: int = 0
    frames_out: int = 0
    frames_in: int = 0
    resent: int = 0
    stripe_retries: int = 0
    rx_errors: int = 0
    wall_s: float = 0.0
    busy_s: dict = field(default_factory=dict)


class Accelerator:
    def __init__(self, port, timeout: float = 10.0, retries: int = 3, baud: int | None = None):
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.baud = baud
        self.parser = P.Parser()
        self.seq = 0
        self.pending: list[P.Frame] = []
        self.stats = LinkStats()
        self._ident: P.Identity | None = None

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, url: str, baud: int = 3_000_000, timeout: float = 10.0, retries: int = 3) -> "Accelerator":
        import serial

        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=0.05, write_timeout=timeout)
        except (serial.SerialException, ValueError, OSError) as e:
            raise DriverError(f"cannot open {url}: {e}") from None
        return cls(port, timeout, retries, baud)

    def close(self):
        try:
            self.port.close()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ framing
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFF
        return self.seq

    def _write(self, data: bytes):
        try:
            self.port.write(data)
        except Exception as e:  # noqa: BLE001 - serial and socket errors alike
            raise DriverError(f"link write failed: {e}") from None
        self.stats.bytes_out += len(data)
        self.stats.frames_out += 1

    def _poll(self) -> list[P.Frame]:
        try:
            data = self.port.read(max(1, getattr(self.port, "in_waiting", 0) or 1))
        except Exception as e:  # noqa: BLE001
            raise DriverError(f"link read failed: {e}") from None
        if not data:
            return []
        self.stats.bytes_in += len(data)
        n_err = len(self.parser.errors)
        frames = self.parser.feed(data)
        self.stats.rx_errors += len(self.parser.errors) - n_err
        self.stats.frames_in += len(frames)
        return frames

    def _await(self, pred, timeout: float | None = None, on_result=None) -> P.Frame:
        """Read frames until one satisfies pred; RESULT_ROW frames go to on_result meanwhile."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while self.pending:
                f = self.pending.pop(0)
                if f.type == P.T.RESULT_ROW and on_result is not None:
                    on_result(f)
                elif pred(f):
                    return f
            if time.monotonic() > deadline:
                raise TimeoutError
            self.pending += self._poll()

    def _request(self, ftype: int, payload: bytes = b"", on_result=None, raw: bytes | None = None) -> P.Frame:
        """Send one frame and wait for its ACK/reply; resend on NACK or timeout (bounded)."""
        last = "no answer"
        for attempt in range(self.retries + 1):
            seq = self._next_seq()
            self._write(P.encode(ftype, seq, payload) if raw is None else raw(seq))
            if attempt:
                self.stats.resent += 1
            try:
                f = self._await(lambda fr: fr.seq == seq and fr.type != P.T.RESULT_ROW, on_result=on_result)
            except TimeoutError:
                last = f"no answer within {self.timeout:.1f} s"
                continue
            if f.type == P.T.NACK:
                reason = P.Nack(f.payload[2]).name if len(f.payload) == 3 and f.payload[2] in P.Nack._value2member_map_ else "?"
                last = f"NACK {reason}"
                if reason in ("BAD_GEOMETRY", "BAD_STATE", "UNKNOWN_TYPE"):
                    raise DriverError(f"board refused {P.T(ftype).name}: {reason}")
                continue
            return f
        raise DriverError(f"{P.T(ftype).name} failed after {self.retries + 1} attempts ({last})")

    # ------------------------------------------------------------------ commands
    def identify(self) -> P.Identity:
        f = self._request(P.T.IDENTIFY)
        if f.type != P.T.IDENT:
            raise DriverError(f"unexpected answer {f.type:#x} to IDENTIFY")
        try:
            self._ident = P.Identity.unpack(f.payload)
        except P.ProtocolError as e:
            raise DriverError(f"bad IDENT payload: {e}") from None
        if self._ident.version != P.PROTOCOL_VERSION:
            raise DriverError(f"board speaks protocol {self._ident.version}, this host {P.PROTOCOL_VERSION}")
        return self._ident

    @property
    def ident(self) -> P.Identity:
        return self._ident or self.identify()

    def status(self) -> P.Status:
        f = self._request(P.T.STATUS)
        return P.Status.unpack(f.payload)

    def reset(self):
        self._request(P.T.RESET)
        self.pending = [f for f in self.pending if f.type != P.T.RESULT_ROW]

    def check_program(self, content_hash: str):
        if self.ident.program_hash != content_hash:
            raise DriverError(f"the board runs program {self.ident.program_hash[:12]}..., "
                              f"not the requested model's {content_hash[:12]}...; rebuild or reprogram the board")

    # ------------------------------------------------------------------ restoring
    def restore(self, img: np.ndarray, progress=None) -> np.ndarray:
        ident = self.ident
        a = img if img.ndim == 3 else img[:, :, None]
        h, w, c = a.shape
        if c != ident.colors:
            raise DriverError(f"image has {c} colour channels, the board's model expects {ident.colors}")
        if h > ident.max_height:
            raise DriverError(f"image height {h} exceeds the board's limit {ident.max_height}")
        r = ident.scale
        out = np.zeros((h * r, w * r, c), np.uint8)
        t0 = time.monotonic()
        for s in plan_stripes(w, ident.halo, ident.max_width):
            self._stripe(a, s, out, progress)
        self.stats.wall_s += time.monotonic() - t0
        return out if img.ndim == 3 else out[:, :, 0]

    def _stripe(self, a: np.ndarray, s: Stripe, out: np.ndarray, progress):
        ident = self.ident
        h = a.shape[0]
        r = ident.scale
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.stripe_retries += 1
                self.reset()
            rows: dict[int, bytes] = {}

            def on_result(f: P.Frame):
                if len(f.payload) >= 2:
                    rows[int.from_bytes(f.payload[:2], "little")] = f.payload[2:]

            frames = stripe_frames(a, s, 0, ident.max_payload)
            try:
                self._request(P.T.STRIPE_BEGIN, frames[0][P.HEADER_BYTES:-P.CRC.size], on_result)
                for fr in frames[1:]:
                    self._request(P.T.STRIPE_ROWS, fr[P.HEADER_BYTES:-P.CRC.size], on_result)
                    if progress:
                        progress(len(fr))
                deadline = time.monotonic() + self.timeout
                while len(rows) < h * r:
                    self.pending += self._poll()
                    while self.pending:
                        f = self.pending.pop(0)
                        if f.type == P.T.RESULT_ROW:
                            on_result(f)
                    if time.monotonic() > deadline:
                        raise TimeoutError
            except TimeoutError:
                continue
            except DriverError:
                if attempt == self.retries:
                    raise
                continue
            try:
                for y in range(h * r):
                    place_row(out, s, r, y, rows[y])
            except (KeyError, P.ProtocolError):
                continue
            return
        raise DriverError(f"stripe at columns {s.in0}..{s.in1} failed after {self.retries + 1} attempts "
                          f"(CRC errors seen: {self.stats.rx_errors})")
