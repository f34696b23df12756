"""Threshold (binariser): per-channel integer compare, full-precision features in, packed sign bits out.

Stream signature
  i: In(stream of `lanes` feature words)   C / lanes transfers per pixel, channel-serial
  o: Out(stream of one C-bit word)          one transfer per pixel, bit c = (x_c >= T_c)
Cycle model: C / lanes cycles per pixel (throughput), latency 1 cycle (C = lanes), 2 cycles otherwise.
Structure: a ROM of the thresholds (lanes per word, read asynchronously at the step counter) and a
compare per lane; with several steps per pixel the compare results are registered before they are
written into the accumulator (a lane's bit reaches C / lanes accumulator bits: the compare ->
accumulator route was x4-base's ECP5 critical path, docs/boards.md row 107), and the pixel's last
step needs the output register free one cycle later. The accumulator is a shift register (the
steps' bits shift in from the top), so all its flip-flops share one enable.
Golden twin: sw.golden.threshold.
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
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
        return width * height * self.steps + (1 if self.steps == 1 else 2)

    def resource_estimate(self) -> dict:
        tw = self.fmt.bits + 1
        # (the fold model's calibrated form: LUTs up to 32 words, one LUT4 per bit per 16 words, and
        # block-RAM bits above; yosys builds the asynchronously read ROM from LUTs at any size)
        rom_lut = self.lanes * tw * -(-self.steps // 16) if self.steps <= 32 else 0
        stage = 0 if self.steps == 1 else self.lanes + self.steps.bit_length() + 2
        # (no LUTs for the accumulator: a shift register with one enable)
        return {"lut": self.lanes * (tw + 2) + 8 + rom_lut, "ff": 2 * self.channels + 8 + stage,
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
        # an asynchronous read at the step register (LUTs): with a synchronous port the address had
        # to be the next step in the cycle of a transfer, which put the input handshake (the
        # layer's fork) in front of the ROM (x4-base docs/boards.md row 111, 11.9 ns)
        rd = rom.read_port(domain="comb")

        step = Signal(range(max(steps, 2)))
        acc = Signal(self.channels)
        # "step is the last" as a register set with step: its compare sat in front of i.ready, the
        # BBCU layer's input fork and skid (ECP5 x2-base critical path, docs/boards.md row 73)
        last = Signal(init=steps == 1)
        in_fire = self.i.valid & self.i.ready
        nxt = Mux(last, 0, step + 1)
        m.d.comb += rd.addr.eq(step)

        bits = Signal(lanes)
        for l in range(lanes):
            m.d.comb += bits[l].eq(self.i.payload[l] >= rd.data[l])

        with m.If(self.o.valid & self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(in_fire):
            m.d.sync += [step.eq(nxt), last.eq(next_is_last(last, step, steps))]
        if steps == 1:
            # the last (only) step of a pixel needs the output register free (or being emptied)
            m.d.comb += self.i.ready.eq(~last | ~self.o.valid | self.o.ready)
            with m.If(in_fire):
                m.d.sync += [self.o.payload.eq(bits), self.o.valid.eq(1)]
            return m
        # registered compare results (w_bits), written into the accumulator one cycle later
        w_valid, w_last = Signal(), Signal()
        w_bits = Signal(lanes)
        m.d.sync += [w_valid.eq(in_fire), w_bits.eq(bits), w_last.eq(last)]
        # a pixel's last step needs the output register free in the next cycle, when its bits are
        # written: not being loaded by the stage now (two last steps are at least two cycles apart,
        # so this costs no throughput) and empty now; only for steps == 2 also "being emptied now",
        # o.ready, which otherwise does not reach i.ready (the consumer's flag -> i.ready -> the
        # layer's input fork and skid was x2-base's ECP5 critical path, docs/boards.md row 106;
        # with steps >= 3 the output register has emptied long before the next last step)
        free = ~self.o.valid | self.o.ready if steps == 2 else ~self.o.valid
        m.d.comb += self.i.ready.eq(~last | (~(w_valid & w_last) & free))
        # the steps' bits shift in from the top, one enable (w_valid) for every accumulator bit: a
        # word_select at the step register gave each step's flip-flops their own enable (w_valid &
        # (step == s)), 47 one-flip-flop control sets per layer in x2-base, 658 in all, which the
        # ECP5 placer's legaliser has to give slice halves of their own (docs/boards.md row 113).
        # At a pixel's last step the accumulator holds steps 0 .. steps-2 in its upper words.
        with m.If(w_valid):
            m.d.sync += acc.eq(Cat(acc[lanes:], w_bits))
            with m.If(w_last):
                m.d.sync += [self.o.payload.eq(Cat(acc[lanes:], w_bits)), self.o.valid.eq(1)]
        return m
