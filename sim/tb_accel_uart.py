"""cocotb end-to-end: the complete accelerator top, UART included, driven with cocotbext-uart.

Identify, then whole images (wider than one stripe, so stitching seams are covered) sent as
stripes of frames exactly as the host driver does (sw.tiling + sw.protocol); every restored pixel
must equal the golden model run on the whole image. One frame is corrupted on the way: the board
must NACK it and accept the resent frame.
"""
import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time
from cocotbext.uart import UartSink, UartSource

from sim.runner import load_vectors, write_result
from sim.streams import reset
from sw import protocol as P
from sw.tiling import place_row, plan_stripes, stripe_frames


class UartHost:
    def __init__(self, dut, baud):
        self.dut = dut
        self.src = UartSource(dut.rx, baud=baud, bits=8, stop_bits=1)
        self.sink = UartSink(dut.tx, baud=baud, bits=8, stop_bits=1)
        self.parser = P.Parser()
        self.frames = []

    async def send(self, data: bytes):
        # start on a falling edge: the bit period is a whole number of clock periods, so every rx
        # transition then falls mid-cycle, never on the sampling edge (a simulator race that would
        # make the run's cycle count depend on event order, e.g. differ between RTL and netlist)
        await FallingEdge(self.dut.clk)
        await self.src.write(data)

    async def frame(self, max_cycles=2_000_000):
        for _ in range(max_cycles):
            if self.frames:
                return self.frames.pop(0)
            if not self.sink.empty():
                self.frames += self.parser.feed(bytes(self.sink.read_nowait(self.sink.count())))
                continue
            if not self.dut.tx.value.is_resolvable:        # X / Z on the line (gate-level runs)
                raise AssertionError(f"tx is {self.dut.tx.value}")
            await RisingEdge(self.dut.clk)
        raise AssertionError("no frame from the board")


@cocotb.test()
async def accelerator_end_to_end(dut):
    v, p = load_vectors()
    dut.rx.value = 1                 # the line idles high from power-on, as on the board
    await reset(dut)
    await FallingEdge(dut.clk)       # the registers have taken their reset values
    host = UartHost(dut, p["baud"])
    seq = 0

    async def request(raw: bytes, seq: int, rows=None):
        await host.send(raw)
        while True:
            f = await host.frame()
            if f.type == P.T.RESULT_ROW:
                rows[int.from_bytes(f.payload[:2], "little")] = f.payload[2:]
                continue
            assert f.seq == seq & 0xFF, (f, seq)
            return f

    f = await request(P.encode(P.T.IDENTIFY, 1), 1)
    ident = P.Identity.unpack(f.payload)
    assert ident.program_hash == p["hash"]
    if ident.param_words:
        # a row-serial board: its RAM starts undefined; load the parameter image with PARAMS frames
        # as the driver's Accelerator.prepare does (a stripe before that is refused)
        image = v["param_image"]
        assert len(image) == ident.param_words, (len(image), ident.param_words)
        refused = await request(P.encode(P.T.STRIPE_BEGIN, 2, P.STRIPE.pack(1, 1, 0, 0)), 2)
        assert refused.type == P.T.NACK and refused.payload[2] == P.Nack.BAD_STATE, refused
        for k, payload in enumerate(P.params_payloads(image, ident.max_payload)):
            ack = await request(P.encode(P.T.PARAMS, 3 + k, payload), 3 + k)
            assert ack.type == P.T.ACK, ack
        seq = 3 + k
    corrupted = False
    for name in p["images"]:
        img, expected = v[name], v[name + "_expected"]
        h, w, c = img.shape
        out = np.zeros_like(expected)
        for s in plan_stripes(w, ident.halo, ident.max_width):
            rows = {}
            seq += 1
            frames = stripe_frames(img, s, seq, ident.max_payload)
            for k, fr in enumerate(frames):
                fseq = seq + k
                if not corrupted and k == 1:
                    bad = bytearray(fr)
                    bad[-6] ^= 0x01                      # a payload bit flipped on the line
                    nack = await request(bytes(bad), fseq, rows)
                    assert nack.type == P.T.NACK and nack.payload[2] == P.Nack.BAD_CRC
                    corrupted = True
                ack = await request(fr, fseq, rows)
                assert ack.type == P.T.ACK, ack
            seq += len(frames)
            while len(rows) < h * ident.scale:
                f = await host.frame()
                assert f.type == P.T.RESULT_ROW
                rows[int.from_bytes(f.payload[:2], "little")] = f.payload[2:]
            for y in range(h * ident.scale):
                place_row(out, s, ident.scale, y, rows[y])
        bad = np.argwhere(out != expected)
        assert bad.size == 0, f"{name}: {len(bad)} wrong values, first at {bad[0].tolist()}"
    f = await request(P.encode(P.T.STATUS, 200), 200)
    st = P.Status.unpack(f.payload)
    assert st.crc_errors == 1, st
    for name in ("tx", "busy", "error", "activity"):        # every output known (no X left anywhere visible)
        assert getattr(dut, name).value.is_resolvable, (name, getattr(dut, name).value)
    write_result({"status": st.__dict__, "sim_ns": get_sim_time("ns")})
