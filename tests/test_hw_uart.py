"""UART RX + TX in cocotb against cocotbext-uart, and the CRC-32 next-state function vs zlib."""
import zlib

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from hw.crc import crc32_next_int
from hw.uart import UartRx, UartTx
from sim.runner import run_cocotb


class Loopback(wiring.Component):
    """Test top: rx line -> UartRx -> FIFO -> UartTx -> tx line."""

    def __init__(self, divisor):
        self.divisor = divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1), "frame_errors": Out(16), "overruns": Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.urx = urx = UartRx(self.divisor)
        m.submodules.utx = utx = UartTx(self.divisor)
        m.submodules.q = q = fifo.SyncFIFOBuffered(width=8, depth=64)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.frame_errors.eq(urx.frame_errors),
                     self.overruns.eq(urx.overruns),
                     q.w_data.eq(urx.o.payload), q.w_en.eq(urx.o.valid), urx.o.ready.eq(q.w_rdy),
                     utx.i.payload.eq(q.r_data), utx.i.valid.eq(q.r_rdy), q.r_en.eq(utx.i.ready)]
        return m


@pytest.mark.parametrize("divisor", [8, 13])
def test_uart_loopback(divisor):
    clk_hz = 100_000_000      # the testbench clock is 10 ns
    data = np.random.default_rng(divisor).integers(0, 256, 40)
    data[:4] = [0x00, 0xFF, 0x55, 0xAA]
    run_cocotb(Loopback(divisor), "uart_loop", "sim.tb_uart", {"data": data},
               {"baud": clk_hz // divisor, "divisor": divisor})


def test_crc_next_matches_zlib():
    rng = np.random.default_rng(0)
    for n in (0, 1, 7, 100):
        data = bytes(rng.integers(0, 256, n).tolist())
        c = 0xFFFFFFFF
        for b in data:
            c = crc32_next_int(c, b)
        assert c ^ 0xFFFFFFFF == zlib.crc32(data)
