"""Host driver: stream an image to a board (or the virtual board) and stitch the restored image.

    acc = Accelerator.open("socket://127.0.0.1:7777")     # or "/dev/ttyUSB1"
    out = acc.restore(img)                                 # uint8 HxWxC -> uint8 (H*r)x(W*r)xC
    acc.stats                                              # LinkStats: bytes each way, retries, busy time

The image is split into full-height stripes with the receptive halo (sw/tiling.py); each stripe
is sent as STRIPE_BEGIN + STRIPE_ROWS frames, stop-and-wait per frame.

What overlaps (docs/protocol.md, "Pipelining"):
  * within a stripe, both directions of the link work at once: while the host sends STRIPE_ROWS
    frame k+1, the network computes on frame k (the board ACKs a frame as soon as it sits in a
    one-frame input FIFO) and RESULT_ROW frames of earlier rows stream back;
  * across stripes, nothing: the board refuses STRIPE_BEGIN (NACK BAD_STATE) until the last
    RESULT_ROW of the current stripe has been sent, so the next stripe's first frame leaves only
    after the previous stripe's results are all in: per stripe, the link waits one round trip
    plus the network's fill (first rows) and drain (last rows) latency.

Errors (all DriverError, one line of text):
  * silence: the board sends nothing at all for `timeout` seconds while the host waits for an
    answer -> "no answer from the board within T s" (no resend: a silent board is gone or hung,
    and resending stripe data it may have taken would corrupt the stripe). Mid-run, a stripe gets
    one RESET to recover, so a board that dies mid-run is reported within 2 T.
  * a NACKed frame (BAD_CRC, TIMEOUT, BAD_LENGTH) is resent, at most `retries` times;
  * a damaged reply (CRC error in a frame from the board): a control request is resent; inside a
    stripe, the stripe is redone after a RESET, at most `retries` times, then the run fails;
  * NACK BAD_GEOMETRY / UNKNOWN_TYPE (the board cannot do this at all) fails at once.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import protocol as P
from .tiling import Stripe, image_shape, place_row, plan_stripes, stripe_payloads


class DriverError(RuntimeError):
    """A failure talking to the board (timeouts, repeated CRC errors, wrong program...)."""


class NoAnswer(DriverError):
    """The board said nothing at all for the whole timeout."""


class Refused(DriverError):
    """The board NACKed a frame for a reason a resend cannot fix."""

    def __init__(self, msg: str, reason: str):
        super().__init__(msg)
        self.reason = reason


class _Damaged(Exception):
    """A frame from the board failed its CRC (or was malformed) while waiting."""


#: bits on the line per byte: UART 8N1 (start + 8 data + stop)
BITS_PER_BYTE = 10


@dataclass
class LinkStats:
    """Link counters. busy time = bytes * 10 / baud (8N1) per direction; the link is full duplex."""

    baud: int | None = None
    bytes_out: int = 0          # host -> board
    bytes_in: int = 0           # board -> host
    frames_out: int = 0
    frames_in: int = 0
    resent: int = 0             # frames sent again (NACK or damaged answer)
    stripe_retries: int = 0     # stripes redone after a RESET
    rx_errors: int = 0          # damaged frames from the board (CRC, length)
    stripes: int = 0            # stripes completed
    wall_s: float = 0.0         # time spent inside restore()

    @property
    def busy_out_s(self) -> float | None:
        return self.bytes_out * BITS_PER_BYTE / self.baud if self.baud else None

    @property
    def busy_in_s(self) -> float | None:
        return self.bytes_in * BITS_PER_BYTE / self.baud if self.baud else None

    def utilisation(self, wall_s: float | None = None) -> tuple[float, float] | None:
        """(host->board, board->host) fraction of `wall_s` (default: time in restore) the line was busy."""
        wall = self.wall_s if wall_s is None else wall_s
        if not self.baud or wall <= 0:
            return None
        return self.busy_out_s / wall, self.busy_in_s / wall

    def since(self, earlier: "LinkStats") -> "LinkStats":
        """The counts accumulated after the snapshot `earlier` (a copy taken with `snapshot()`)."""
        d = {f.name: getattr(self, f.name) - getattr(earlier, f.name)
             for f in dataclasses.fields(self) if f.name != "baud"}
        return LinkStats(baud=self.baud, **d)

    def snapshot(self) -> "LinkStats":
        return dataclasses.replace(self)


#: progress(stripes_done, stripes_total, lr_pixels_done, lr_pixels_total) for one image
Progress = Callable[[int, int, int, int], None]


class Accelerator:
    def __init__(self, port, timeout: float = 10.0, retries: int = 3, baud: int | None = None):
        self.port = port
        self.timeout = timeout
        self.retries = retries
        self.baud = baud
        self.parser = P.Parser()
        self.seq = 0
        self.pending: list[P.Frame] = []
        self.stats = LinkStats(baud=baud)
        self._ident: P.Identity | None = None
        self._last_rx = 0.0          # monotonic time of the last byte from the board
        self._heard = False          # the board has answered at least once

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
        self._last_rx = time.monotonic()
        self.stats.bytes_in += len(data)
        n_err = len(self.parser.errors)
        frames = self.parser.feed(data)
        self.stats.rx_errors += len(self.parser.errors) - n_err
        self.stats.frames_in += len(frames)
        return frames

    def _await(self, pred, what: str, on_result=None, errors0: int | None = None, until=None) -> P.Frame | None:
        """Read frames until one satisfies pred; RESULT_ROW frames go to on_result meanwhile.

        Raises NoAnswer after `timeout` seconds without a single byte from the board, and
        _Damaged as soon as the parser has seen more damaged frames than `errors0` (default:
        the count when the wait began). With `until`, returns None once until() is true."""
        start = time.monotonic()
        errors0 = len(self.parser.errors) if errors0 is None else errors0
        while True:
            while self.pending:
                f = self.pending.pop(0)
                if f.type == P.T.RESULT_ROW:
                    if on_result is not None:
                        on_result(f)
                elif pred is not None and pred(f):
                    self._heard = True
                    return f
            if until is not None and until():
                return None
            if len(self.parser.errors) > errors0:
                raise _Damaged
            if time.monotonic() - max(start, self._last_rx) > self.timeout:
                raise NoAnswer(f"no answer from the board within {self.timeout:g} s ({what}); "
                               "is it connected, programmed and at this baud rate?")
            self.pending += self._poll()

    def _request(self, ftype: int, payload: bytes = b"", on_result=None, errors0: int | None = None) -> P.Frame:
        """Send one frame and wait for its ACK/reply. A NACKed frame is resent (bounded). A damaged
        answer leads to a resend, unless `errors0` is given (inside a stripe): then any damaged
        frame since that count raises _Damaged."""
        name = P.T(ftype).name
        last = ""
        for attempt in range(self.retries + 1):
            seq = self._next_seq()
            if attempt:
                self.stats.resent += 1
            self._write(P.encode(ftype, seq, payload))
            try:
                f = self._await(lambda fr: fr.seq == seq, f"waiting for the answer to {name}", on_result, errors0)
            except _Damaged:
                if errors0 is not None:
                    raise
                last = "damaged answers (CRC errors)"
                self.pending = [fr for fr in self.pending if fr.type == P.T.RESULT_ROW]
                continue
            if f.type == P.T.NACK:
                code = f.payload[2] if len(f.payload) == P.NACK.size else None
                reason = P.Nack(code).name if code in P.Nack._value2member_map_ else "?"
                if reason in ("BAD_GEOMETRY", "BAD_STATE", "UNKNOWN_TYPE"):
                    raise Refused(f"board refused {name}: {reason}", reason)
                last = f"NACK {reason}"
                continue
            return f
        raise DriverError(f"{name} failed after {self.retries + 1} attempts ({last})")

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

    def prepare(self, program):
        """Check that the board runs `program`, and load its parameters when the board asks for them
        (IDENT param_words > 0: the row-serial architecture keeps them in RAM, not in the bitstream)."""
        self.check_program(program.content_hash)
        n = self.ident.param_words
        if not n:
            return
        from hw.rowserial.memmap import NetworkMap
        image = NetworkMap(program, self.ident.max_width).param_image(program)
        if len(image) != n:
            raise DriverError(f"the board expects {n} parameter words, the program has {len(image)}")
        for payload in P.params_payloads(image, self.ident.max_payload):
            f = self._request(P.T.PARAMS, payload)
            if f.type != P.T.ACK:
                raise DriverError(f"unexpected answer {f.type:#x} to PARAMS")

    # ------------------------------------------------------------------ restoring
    def output_shape(self, img: np.ndarray) -> tuple[int, ...]:
        h, w, _ = image_shape(img)
        r = self.ident.scale
        return (h * r, w * r) + img.shape[2:]

    def restore(self, img: np.ndarray, progress: Progress | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Restore a uint8 HxW or HxWxC image. `out` (e.g. a numpy memmap of the output shape)
        receives the result stripe by stripe; without it an array is allocated. Raises ValueError
        for an empty image and DriverError for images the board cannot take (colours, height)."""
        ident = self.ident
        h, w, c = image_shape(img)
        a = img if img.ndim == 3 else img[:, :, None]
        if c != ident.colors:
            raise DriverError(f"image has {c} colour channel(s), the board's model expects {ident.colors}")
        if h > ident.max_height:
            raise DriverError(f"image height {h} exceeds the board's limit of {ident.max_height} rows "
                              f"(crop or split the image; widths are split into stripes, heights are not)")
        r = ident.scale
        shape = self.output_shape(img)
        if out is None:
            out = np.zeros(shape, np.uint8)
        elif out.shape != shape or out.dtype != np.uint8:
            raise ValueError(f"output array is {out.dtype} {out.shape}, expected uint8 {shape}")
        o = out if out.ndim == 3 else out[:, :, None]
        stripes = plan_stripes(w, ident.halo, ident.max_width)
        t0 = time.monotonic()
        try:
            done = 0
            for i, s in enumerate(stripes):
                def cb(rows, _i=i, _done=done, _s=s):
                    if progress:
                        progress(_i, len(stripes), _done + rows * (_s.core1 - _s.core0) // r, h * w)
                self._stripe(a, s, o, cb)
                done += h * (s.core1 - s.core0)
                self.stats.stripes += 1
                if progress:
                    progress(i + 1, len(stripes), done, h * w)
        finally:
            self.stats.wall_s += time.monotonic() - t0
        return out

    def _stripe(self, a: np.ndarray, s: Stripe, out: np.ndarray, rows_progress):
        ident = self.ident
        n_rows = a.shape[0] * ident.scale
        frames = stripe_payloads(a, s, ident.max_payload)
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.stripe_retries += 1
                self.reset()            # NoAnswer here (board gone) propagates: fails within 2 T
            got = np.zeros(n_rows, bool)
            count = [0]
            begin_seq = None
            errors0 = len(self.parser.errors)

            def on_result(f: P.Frame):
                # rows of an abandoned attempt carry that attempt's STRIPE_BEGIN seq: ignored
                if begin_seq is None or f.seq != begin_seq or len(f.payload) < P.RESULT.size:
                    return
                (y,) = P.RESULT.unpack_from(f.payload)
                if y >= n_rows:
                    raise P.ProtocolError(f"result row {y} of a stripe of {n_rows} rows")
                place_row(out, s, ident.scale, y, f.payload[P.RESULT.size:])
                if not got[y]:
                    got[y] = True
                    count[0] += 1
                    rows_progress(count[0])

            try:
                ack = self._request(P.T.STRIPE_BEGIN, frames[0], errors0=errors0)
                begin_seq = ack.seq
                for payload in frames[1:]:
                    self._request(P.T.STRIPE_ROWS, payload, on_result, errors0)
                # only RESULT_ROW frames are expected now
                self._await(None, f"waiting for the stripe's {n_rows} result rows", on_result, errors0,
                            until=lambda: count[0] >= n_rows)
                return
            except _Damaged:
                last = "damaged frames from the board (CRC errors)"
            except P.ProtocolError as e:
                last = f"bad result row: {e}"
            except NoAnswer as e:
                if not self._heard:
                    raise
                last = str(e)
            except Refused as e:
                if e.reason != "BAD_STATE":
                    raise
                last = str(e)
        raise DriverError(f"stripe at columns {s.in0}..{s.in1} failed after {self.retries + 1} attempts "
                          f"({last}; CRC errors seen: {self.stats.rx_errors})")
