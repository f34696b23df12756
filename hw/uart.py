"""UART (8N1) receiver and transmitter; baud divisor fixed at build time.

UartRx: o: Out(stream of 8-bit bytes). A byte is offered for one transfer; the receiver cannot
        stall the line, so a byte not taken before the next stop bit completes is dropped and
        counted in `overruns` (the link layer always takes bytes at once). `frame_errors` counts
        bytes whose stop bit was 0 (they are dropped).
UartTx: i: In(stream of 8-bit bytes), `tx` line output (idle high).
Cycle model: one byte every 10 * divisor cycles in each direction.
Golden twin: cocotbext-uart (standard 8N1 serial) in sim/tb_uart.py.
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.hdl import unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


class UartRx(wiring.Component):
    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError("UART divisor must be >= 4 clock cycles per bit")
        self.divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "o": Out(stream.Signature(unsigned(8))),
            "frame_errors": Out(16),
            "overruns": Out(16),
        })

    def resource_estimate(self) -> dict:
        return {"lut": 40 + self.divisor.bit_length() * 2, "ff": 30 + self.divisor.bit_length(), "bram_bits": 0, "dsp": 0}

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)
        div = self.divisor
        timer = Signal(range(div * 3 // 2 + 1))
        bitn = Signal(range(9))
        shreg = Signal(8)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += [timer.eq(div + div // 2 - 1), bitn.eq(0)]   # to the middle of bit 0
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq(rx.replicate(1).as_unsigned() << 7 | shreg >> 1),
                                 timer.eq(div - 1), bitn.eq(bitn + 1)]
                    with m.If(bitn == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        with m.If(self.o.valid & ~self.o.ready):
                            m.d.sync += self.overruns.eq(self.overruns + 1)
                        m.d.sync += [self.o.payload.eq(shreg), self.o.valid.eq(1)]
                    with m.Else():
                        m.d.sync += self.frame_errors.eq(self.frame_errors + 1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
        return m


class UartTx(wiring.Component):
    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError("UART divisor must be >= 4 clock cycles per bit")
        self.divisor = divisor
        super().__init__({
            "i": In(stream.Signature(unsigned(8))),
            "tx": Out(1, init=1),
        })

    def resource_estimate(self) -> dict:
        return {"lut": 30 + self.divisor.bit_length() * 2, "ff": 20 + self.divisor.bit_length(), "bram_bits": 0, "dsp": 0}

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        timer = Signal(range(div))
        shreg = Signal(10, init=0x3FF)
        bits = Signal(range(11))
        m.d.comb += [self.tx.eq(shreg[0]), self.i.ready.eq(bits == 0)]
        with m.If(bits == 0):
            with m.If(self.i.valid):
                m.d.sync += [shreg.eq(1 << 9 | self.i.payload << 1), bits.eq(10), timer.eq(div - 1)]
        with m.Elif(timer == 0):
            m.d.sync += [shreg.eq(1 << 9 | shreg >> 1), bits.eq(bits - 1), timer.eq(div - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m
