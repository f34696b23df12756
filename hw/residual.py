"""ResidualAdd: out = sat_FW(v + x) (docs/arithmetic.md section 3.4).

Stream signature
  v: In(stream of signed FW+2 bits)   scale/RPReLU output (layouts.y_value)
  x: In(stream of signed FW bits)     residual feature (layouts.feature; for BBCU-U the
                                      NearestUpsample output, already in HR order)
  o: Out(stream of signed FW bits)    one feature per (v, x) pair, in order
A transfer consumes one v and one x together: v.ready = x.valid & adv and x.ready = v.valid & adv;
no valid depends on a ready. Two stages that move together on adv (= output register empty or
being emptied): the sum v + x registered, then its saturation (the adder's carry chain, the
overflow test and the clamp select in one cycle were x4-base's ECP5 critical path, docs/boards.md
row 135: layer 7, 10.2 ns; every layer's adder over 8.7 ns).
Cycle model: one result per cycle, latency 2: n words take n + 2 cycles
(cycle_model(width, height, channels) with n = width * height * channels).
Golden twin: sw.golden.residual_add.
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sw.formats import FeatureFormat

from . import layouts
from .head import saturate


class ResidualAdd(wiring.Component):
    def __init__(self, fmt: FeatureFormat):
        self.fmt = fmt
        super().__init__({
            "v": In(stream.Signature(layouts.y_value(fmt))),
            "x": In(stream.Signature(layouts.feature(fmt))),
            "o": Out(stream.Signature(layouts.feature(fmt))),
        })

    # ------------------------------------------------------------------ models
    def cycle_model(self, width: int, height: int, channels: int = 1) -> int:
        return width * height * channels + 2

    def resource_estimate(self) -> dict:
        fw, yb = self.fmt.bits, self.fmt.y_bits
        # adder (y_bits + 1), overflow detect and clamp mux, handshake; the sum and the output
        # register with their valid flags
        return {"lut": (yb + 1) + fw + 4, "ff": (yb + 2) + fw + 2, "bram_bits": 0, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        adv, fire, v1 = Signal(), Signal(), Signal()
        m.d.comb += [
            adv.eq(~self.o.valid | self.o.ready),
            self.v.ready.eq(self.x.valid & adv),
            self.x.ready.eq(self.v.valid & adv),
            fire.eq(self.v.valid & self.x.valid & adv),
        ]
        # (the sum carries no reset: it is read only behind v1)
        s1 = Signal(range(fmt.y_lo + fmt.lo, fmt.y_hi + fmt.hi + 1), reset_less=True)
        with m.If(adv):
            # (hw/head.saturate: a bit test on the sum's top bits, not two compares,
            # carry chains behind the adder's: x4-base row 109, every layer's adder)
            m.d.sync += [s1.eq(self.v.payload + self.x.payload), v1.eq(fire),
                         self.o.payload.eq(saturate(s1, fmt.lo, fmt.hi)), self.o.valid.eq(v1)]
        return m
