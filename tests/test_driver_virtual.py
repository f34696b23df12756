"""Every backend on real photos and odd sizes: the virtual board (Verilator, through the same
driver and backend classes as a real board) gives the golden backend's pixels bit for bit.
One small program and ONE build config for all cases (Verilator builds are cached by hash), with
max_height 520 so that 517-row images fit and stripes of at most 16 columns so that wide images
are split into many stripes. Also: the board refuses the next STRIPE_BEGIN while a stripe's
results are still going out (why the driver cannot overlap stripes), a paused board is reported
as "no answer" within the timeout, heights above max_height are refused clearly."""
import os
import signal
import socket
import time

import numpy as np
import pytest
import torch

from hw.accelerator import BuildConfig
from sw import protocol as P
from sw.backends import FloatBackend, GoldenBackend, VirtualBackend
from sw.compiler import compile_model
from sw.config import ModelConfig
from sw.data import sample_image
from sw.driver import Accelerator, DriverError

from conftest import random_network

BUILD = BuildConfig(max_width=16, max_height=520, max_payload=64, clock_hz=1_000_000, timeout_ms=20)


@pytest.fixture(scope="module")
def model():
    net = random_network(ModelConfig("sr", 2, 4, 1), 9)
    return net, compile_model(net, [torch.rand(1, 3, 16, 16)])


@pytest.fixture(scope="module")
def backends(model):
    net, prog = model
    vb = VirtualBackend(prog, build_cfg=BUILD, timeout=60)
    try:
        yield GoldenBackend(prog), vb, FloatBackend(net)
    finally:
        vb.close()


def _photo(name, h, w):
    img = sample_image(name, 3)
    y0, x0 = (img.shape[0] - h) // 2, (img.shape[1] - w) // 2
    return np.ascontiguousarray(img[y0:y0 + h, x0:x0 + w])


CASES = {
    "1x1": lambda: np.array([[[3, 250, 128]]], np.uint8),
    "3x517": lambda: _rand(3, 517),
    "517x3": lambda: _rand(517, 3),
    "7x131": lambda: _rand(7, 131),
    "131x7": lambda: _rand(131, 7),
    "astronaut-24x40": lambda: _photo("astronaut", 24, 40),
    "camera-30x23": lambda: _photo("camera", 30, 23),      # a grayscale photo, as RGB
}


def _rand(h, w):
    return np.random.default_rng(h * 1000 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("case", list(CASES))
def test_virtual_equals_golden(backends, case):
    gold, virt, flt = backends
    img = CASES[case]()
    want = gold.restore(img)
    stats0 = virt.link_stats.snapshot()
    got = virt.restore(img)
    assert got.shape == (2 * img.shape[0], 2 * img.shape[1], 3)
    assert np.array_equal(got, want), f"{case}: {np.count_nonzero(got != want)} pixels differ"
    d = virt.link_stats.since(stats0)
    assert d.rx_errors == 0 and d.stripe_retries == 0 and d.resent == 0
    assert d.bytes_in >= got.size and d.bytes_out >= img.size
    # the float model: same shape, close to the integer program (comparison backend, not bit-exact)
    f = flt.restore(img)
    assert f.shape == got.shape


def test_golden_streams_into_an_array_like_the_board(backends, tmp_path):
    gold, virt, _ = backends
    img = _rand(9, 70)
    mm = np.memmap(tmp_path / "o.raw", np.uint8, "w+", shape=gold.output_shape(img))
    assert gold.restore(img, out=mm) is mm
    assert np.array_equal(np.asarray(mm), gold.restore(img))


def test_height_above_max_height_is_refused(backends):
    _, virt, _ = backends
    with pytest.raises(DriverError, match="height 521 exceeds the board's limit of 520 rows"):
        virt.restore(_rand(521, 2))


def test_next_stripe_begin_is_refused_while_results_are_out(backends):
    """What the driver's pipelining rests on (docs/protocol.md, Pipelining): STRIPE_BEGIN is NACKed
    BAD_STATE until the current stripe's last RESULT_ROW has been sent; then it is accepted."""
    _, virt, _ = backends
    virt.acc.close()                               # free the board's single client slot
    port = int(virt.board.url.rsplit(":", 1)[1])
    h, w = 40, 16
    img = _rand(h, w)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        parser, frames, log = P.Parser(), [], []

        def until(pred, limit=60.0):
            end = time.time() + limit
            while time.time() < end:
                for i, f in enumerate(frames):
                    if pred(f):
                        return frames.pop(i)
                new = parser.feed(s.recv(65536))
                frames.extend(new)
                log.extend(new)
            raise AssertionError("timed out")

        s.sendall(P.encode(P.T.RESET, 1))
        until(lambda f: f.type == P.T.ACK and f.seq == 1)
        s.sendall(P.encode(P.T.STRIPE_BEGIN, 2, P.STRIPE.pack(w, h, 0, 0)))
        until(lambda f: f.type == P.T.ACK and f.seq == 2)
        raw = img.tobytes()
        for i, off in enumerate(range(0, len(raw), 64)):
            s.sendall(P.encode(P.T.STRIPE_ROWS, 10 + i, raw[off:off + 64]))
            until(lambda f, q=10 + i: f.type == P.T.ACK and f.seq == q)
        s.sendall(P.encode(P.T.STRIPE_BEGIN, 3, P.STRIPE.pack(w, h, 0, 0)))
        nack = until(lambda f: f.seq == 3)
        assert nack.type == P.T.NACK and nack.payload[2] == P.Nack.BAD_STATE
        rows_before = sum(f.type == P.T.RESULT_ROW for f in log[:next(i for i, f in enumerate(log) if f is nack)])
        assert rows_before < 2 * h                 # results were still going out when it was refused
        for _ in range(2 * h):
            until(lambda f: f.type == P.T.RESULT_ROW)
        s.sendall(P.encode(P.T.STRIPE_BEGIN, 4, P.STRIPE.pack(w, h, 0, 0)))
        assert until(lambda f: f.seq == 4).type == P.T.ACK
        s.sendall(P.encode(P.T.RESET, 5))
        until(lambda f: f.type == P.T.ACK and f.seq == 5)
    virt.acc = Accelerator.open(virt.board.url, timeout=60)


def test_paused_board_is_no_answer_within_the_timeout(backends):
    _, virt, _ = backends
    virt.acc.close()
    os.kill(virt.board.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with Accelerator.open(virt.board.url, timeout=0.5) as acc:
            with pytest.raises(DriverError, match="no answer from the board within 0.5 s"):
                acc.identify()
        assert time.monotonic() - t0 < 2
    finally:
        os.kill(virt.board.proc.pid, signal.SIGCONT)
    virt.acc = Accelerator.open(virt.board.url, timeout=60)
    img = _rand(2, 3)
    assert np.array_equal(virt.restore(img), GoldenBackend(virt.program).restore(img))
