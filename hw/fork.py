"""Broadcast: one stream in, two copies out, each with its own back-pressure.

Stream signature
  i: In(stream of `shape`)
  a: Out(stream of `shape`)     every input item, in order, exactly once
  b: Out(stream of `shape`)     every input item, in order, exactly once
Each output has its own output register (payload + valid). An item is accepted when both output
registers are free or being emptied in the same cycle, so one output may take an item before
the other (the faster output runs at most one item ahead of the slower one).
Cycle model: one item per cycle, latency 1 cycle: items + 1 cycles from the first input to the
last output transfer.
Golden twin: none (identity on both outputs).
"""
from __future__ import annotations

from amaranth import Module
from amaranth.hdl import Shape
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .flag import set_clear


class Broadcast(wiring.Component):
    def __init__(self, shape):
        self.shape = shape
        super().__init__({
            "i": In(stream.Signature(shape)),
            "a": Out(stream.Signature(shape)),
            "b": Out(stream.Signature(shape)),
        })

    # ------------------------------------------------------------------ models
    def cycle_model(self, width: int, height: int = 1, items_per_pixel: int = 1) -> int:
        return width * height * items_per_pixel + 1

    def resource_estimate(self) -> dict:
        w = Shape.cast(self.shape).width
        return {"lut": 6, "ff": 2 * w + 2, "bram_bits": 0, "dsp": 0}     # payload FFs with enable

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        a_free = ~self.a.valid | self.a.ready
        b_free = ~self.b.valid | self.b.ready
        m.d.comb += self.i.ready.eq(a_free & b_free)
        fire = self.i.valid & self.i.ready
        with m.If(fire):
            m.d.sync += [self.a.payload.eq(self.i.payload), self.b.payload.eq(self.i.payload)]
        set_clear(m, self.a.valid, fire, self.a.ready)     # (no enables of their own: hw/flag.py)
        set_clear(m, self.b.valid, fire, self.b.ready)
        return m
