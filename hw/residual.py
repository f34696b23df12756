"""ResidualAdd: out = sat_FW(v + x) (docs/arithmetic.md section 3.4).

Stream signature
  v: In(stream of signed FW+2 bits)   scale/RPReLU output (layouts.y_value)
  x: In(stream of signed FW bits)     residual feature (layouts.feature; for BBCU-U the
                                      NearestUpsample output, already in HR order)
  o: Out(stream of signed FW bits)    one feature per (v, x) pair, in order
A transfer consumes one v and one x together: v.ready = x.valid & free and x.ready = v.valid & free
(free = output register empty or being emptied); no valid depends on a ready.
Cycle model: one result per cycle, latency 1: n words take n + 1 cycles
(cycle_model(width, height, channels) with n = width * height * channels).
Golden twin: sw.golden.residual_add.
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sw.formats import FeatureFormat

from . import layouts
from .flag import set_clear
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
        return width * height * channels + 1

    def resource_estimate(self) -> dict:
        fw, yb = self.fmt.bits, self.fmt.y_bits
        # adder (y_bits + 1), overflow detect and clamp mux, handshake
        return {"lut": (yb + 1) + fw + 4, "ff": fw + 1, "bram_bits": 0, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        free = Signal()
        fire = Signal()
        m.d.comb += [
            free.eq(~self.o.valid | self.o.ready),
            self.v.ready.eq(self.x.valid & free),
            self.x.ready.eq(self.v.valid & free),
            fire.eq(self.v.valid & self.x.valid & free),
        ]
        s = Signal(range(fmt.y_lo + fmt.lo, fmt.y_hi + fmt.hi + 1))
        m.d.comb += s.eq(self.v.payload + self.x.payload)
        with m.If(fire):
            # (hw/head.saturate: a bit test on the sum's top bits, not two compares,
            # carry chains behind the adder's: x4-base row 109, every layer's adder)
            m.d.sync += self.o.payload.eq(saturate(s, fmt.lo, fmt.hi))
        set_clear(m, self.o.valid, fire, self.o.ready)      # (no enable of its own: hw/flag.py)
        return m
