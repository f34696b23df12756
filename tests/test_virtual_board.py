"""The Verilator virtual board behind pyserial's socket:// URL: the same gateware and the same
byte protocol as a real board; restored images equal the golden model bit for bit."""
import socket
import time

import numpy as np
import pytest
import torch

from hw.accelerator import BuildConfig
from sim.vboard import VirtualBoard, build
from sw import golden
from sw import protocol as P
from sw.compiler import compile_model
from sw.config import ModelConfig
from sw.driver import Accelerator, DriverError

from conftest import random_network


def _serve(max_width: int):
    """A small x2 program on a virtual board with the given stripe limit (64-byte frames)."""
    prog = compile_model(random_network(ModelConfig("sr", 2, 4, 1), 9), [torch.rand(1, 3, 16, 16)])
    binary = build(prog, BuildConfig(max_width=max_width, max_height=256, max_payload=64, clock_hz=1_000_000,
                                     timeout_ms=20))
    with VirtualBoard(binary) as vb:
        yield prog, vb


@pytest.fixture(scope="module")
def board():
    yield from _serve(16)


def test_identify_and_whole_image_bit_exact(board):
    prog, vb = board
    with Accelerator.open(vb.url, timeout=30) as acc:
        ident = acc.identify()
        assert ident.program_hash == prog.content_hash and ident.scale == 2 and ident.halo == 4
        acc.check_program(prog.content_hash)
        for shape in [(7, 37), (1, 1), (3, 16), (5, 17)]:         # several stripes, seams, tiny
            img = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
            assert np.array_equal(acc.restore(img), golden.run(prog, img)), shape
        st = acc.status()
        assert st.crc_errors == 0 and st.results > 0


def test_garbage_and_corruption_over_the_socket(board):
    prog, vb = board
    port = int(vb.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        parser = P.Parser()

        def frames_until(pred, limit=5.0):
            end = time.time() + limit
            got = []
            while time.time() < end:
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    break
                got += parser.feed(data)
                if any(pred(f) for f in got):
                    return got
            raise AssertionError(f"no matching frame; got {got}")

        s.sendall(bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)))
        time.sleep(0.2)                                            # the board's frame timeout is 20 ms
        s.sendall(P.encode(P.T.IDENTIFY, 77))
        frames = frames_until(lambda f: f.type == P.T.IDENT and f.seq == 77)
        assert P.Identity.unpack([f for f in frames if f.type == P.T.IDENT][0].payload).program_hash == prog.content_hash
        bad = bytearray(P.encode(P.T.STATUS, 78))
        bad[-1] ^= 0xFF
        s.sendall(bytes(bad))
        frames = frames_until(lambda f: f.type == P.T.NACK and f.seq == 78)
        nack = [f for f in frames if f.seq == 78][0]
        assert nack.payload[2] == P.Nack.BAD_CRC
        s.sendall(P.encode(P.T.STATUS, 79))
        frames_until(lambda f: f.type == P.T.STATUS_REPLY and f.seq == 79)


def test_wrong_program_is_refused(board):
    _, vb = board
    with Accelerator.open(vb.url, timeout=30) as acc:
        with pytest.raises(DriverError, match="not the requested model"):
            acc.check_program("00" * 32)


@pytest.fixture(scope="module")
def wide_board():
    yield from _serve(64)


def test_stripe_at_the_width_limit_with_frames_ending_mid_row(wide_board):
    """Regression: the driver's STRIPE_ROWS frames (max_payload = 64 bytes, 21.3 pixels) end
    inside rows; with a stripe as wide as max_width (64) a frame ended after the first pixels of
    an HR row's receptive field but before the last ones, the link had started that RESULT_ROW
    and waited inside it for pixels of the next frame, whose ACK was queued behind it (deadlock:
    even RESET went unanswered). The link now buffers a whole row before sending it."""
    prog, vb = wide_board
    with Accelerator.open(vb.url, timeout=20, retries=0) as acc:
        for shape in [(12, 64), (9, 61)]:
            img = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
            assert np.array_equal(acc.restore(img), golden.run(prog, img)), shape


def test_row_serial_board_loads_its_parameters_and_restores_bit_exact():
    """The row-serial architecture (hw/rowserial, the iCE40UP5K's) behind the same link: IDENT asks
    for the parameter words, stripes are refused until the host has loaded them (PARAMS), then
    images restore bit-exactly; a second connection reloads them (idempotent)."""
    prog = compile_model(random_network(ModelConfig("sr", 2, 4, 2), 5), [torch.rand(1, 3, 16, 16)])
    bc = BuildConfig(max_width=16, max_height=64, max_payload=64, clock_hz=1_000_000, timeout_ms=20,
                     arch="rowserial")
    binary = build(prog, bc)
    img = np.random.default_rng(2).integers(0, 256, (6, 23, 3), dtype=np.uint8)
    with VirtualBoard(binary) as vb:
        with Accelerator.open(vb.url, timeout=60) as acc:
            ident = acc.identify()
            assert ident.param_words > 0
            with pytest.raises(DriverError, match="BAD_STATE"):
                acc.restore(img)                       # no parameters yet
        nw = ident.param_words
        # malformed PARAMS (odd length, no word, past the image's end) and rows beyond the stripe
        assert _raw_replies(vb.url, [
            (P.T.PARAMS, P.PARAMS.pack(0) + b"\x01\x02\x03"),
            (P.T.PARAMS, P.PARAMS.pack(0)),
            (P.T.PARAMS, P.PARAMS.pack(nw - 1) + b"\x00" * 4),
            (P.T.PARAMS, P.PARAMS.pack(nw) + b"\x00" * 2)]) == [(P.T.NACK, P.Nack.BAD_LENGTH)] * 4
        with Accelerator.open(vb.url, timeout=60) as acc:
            acc.prepare(prog)
            assert np.array_equal(acc.restore(img), golden.run(prog, img))
        assert _raw_replies(vb.url, [(P.T.STRIPE_BEGIN, P.STRIPE.pack(2, 1, 0, 0)),
                                     (P.T.STRIPE_ROWS, b"\x00" * 7), (P.T.STRIPE_ROWS, b"\x00" * 6),
                                     (P.T.RESET, b"")]) == [(P.T.ACK, None), (P.T.NACK, P.Nack.BAD_STATE),
                                                           (P.T.ACK, None), (P.T.ACK, None)]
        with Accelerator.open(vb.url, timeout=60) as acc:
            acc.prepare(prog)
            small = img[:2, :5]
            assert np.array_equal(acc.restore(small), golden.run(prog, small))


def _raw_replies(url: str, frames: list) -> list:
    """Send (type, payload) frames one at a time on a raw connection to a virtual board; the
    (type, NACK reason or None) of each reply (RESULT_ROW frames in between are skipped)."""
    host, port = url.removeprefix("socket://").rsplit(":", 1)
    out = []
    with socket.create_connection((host, int(port)), timeout=30) as s:
        parser, pending = P.Parser(), []
        for seq, (typ, payload) in enumerate(frames, 40):
            s.sendall(P.encode(typ, seq, payload))
            while not any(f.seq == seq and f.type != P.T.RESULT_ROW for f in pending):
                pending += parser.feed(s.recv(65536))
            f = next(f for f in pending if f.seq == seq and f.type != P.T.RESULT_ROW)
            pending.clear()
            out.append((f.type, f.payload[2] if f.type == P.T.NACK else None))
    return out
