"""Threshold (binariser): per-channel integer compare, full-precision features in, packed sign bits out.

Stream signature
  i: In(stream of `lanes` feature words)   C / lanes transfers per pixel, channel-serial
  o: Out(stream of one C-bit word)          one transfer per pixel, bit c = (x_c >= T_c)
Cycle model: C / lanes cycles per pixel (throughput), latency 1 cycle.
Golden twin: sw.golden.threshold.
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw.formats import FeatureFormat

from . import layouts
from .head import next_is_last


class Threshold(wiring.Component):
    def __init__(self, thresh, fmt: FeatureFormat, lanes: int = 1):
        self.thresh = [int(t) for t in thresh]
        self.fmt = fmt
        self.channels = len(self.thresh)
        if self.channels % lanes:
            raise ValueError(f"lanes={lanes} must divide channels={self.channels}")
        self.lanes = lanes
        self.steps = self.channels // lanes
        super().__init__({
            "i": In(stream.Signature(layouts.feature_lanes(fmt, lanes))),
            "o": Out(stream.Signature(layouts.bit_word(self.channels))),
        })

    # ------------------------------------------------------------------ models
    def cycles_per_pixel(self) -> int:
        return self.steps

    def cycle_model(self, width: int, height: int) -> int:
        return width * height * self.steps + 1

    def resource_estimate(self) -> dict:
        tw = self.fmt.bits + 1
        # a threshold ROM of <= 32 words becomes LUTs in yosys (one LUT4 per bit per 16 words)
        rom_lut = self.lanes * tw * -(-self.steps // 16) if self.steps <= 32 else 0
        return {"lut": self.lanes * (tw + 2) + self.channels + 8 + rom_lut, "ff": 2 * self.channels + 8,
                "bram_bits": self.steps * self.lanes * tw, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        lanes, steps = self.lanes, self.steps
        tlay = layouts.threshold_value(self.fmt)
        from amaranth.lib import data
        rom_shape = data.ArrayLayout(tlay, lanes)
        init = [[self.thresh[s * lanes + l] for l in range(lanes)] for s in range(steps)]
        m.submodules.rom = rom = memory.Memory(shape=rom_shape, depth=steps, init=init)
        rd = rom.read_port(domain="sync")

        step = Signal(range(max(steps, 2)))
        acc = Signal(self.channels)
        # "step is the last" as a register set with step: its compare sat in front of i.ready, the
        # BBCU layer's input fork and skid (ECP5 x2-base critical path, docs/boards.md row 73)
        last = Signal(init=steps == 1)
        in_fire = self.i.valid & self.i.ready
        nxt = Mux(last, 0, step + 1)
        m.d.comb += rd.addr.eq(Mux(in_fire, nxt, step))

        bits = Signal(lanes)
        for l in range(lanes):
            m.d.comb += bits[l].eq(self.i.payload[l] >= rd.data[l])

        # the last step of a pixel needs the output register free (or being emptied)
        m.d.comb += self.i.ready.eq(~last | ~self.o.valid | self.o.ready)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(in_fire):
            m.d.sync += [step.eq(nxt), last.eq(next_is_last(last, step, steps))]
            if steps == 1:
                m.d.sync += [self.o.payload.eq(bits), self.o.valid.eq(1)]
            else:
                m.d.sync += acc.word_select(step, lanes).eq(bits)
                with m.If(last):
                    full = Signal(self.channels)
                    m.d.comb += [full.eq(acc), full.word_select(step, lanes).eq(bits)]
                    m.d.sync += [self.o.payload.eq(full), self.o.valid.eq(1)]
        return m
