"""SkidBuffer: a two-register stream stage that cuts the combinational handshake.

Stream signature
  i: In(stream of shape)    ready is a register (not a function of o.ready)
  o: Out(stream of shape)   valid and payload are registers
Behaviour: a main register drives `o`; a skid register catches the one transfer that arrives in
the cycle `o` stalls. i.ready = skid register empty. Order is kept, nothing is dropped or
duplicated, and with `o.ready` held high it passes one transfer per cycle.
Why: every streaming unit passes back-pressure combinationally (pipeline enable
`~o.valid | o.ready`), so without cuts the ready path runs from the tail of the network back to
its input through every layer (docs/boards.md, "the handshake chain"): 71 ns, 14.1 MHz on the
ECP5 with x2-tiny. The network and every BBCU unit put a SkidBuffer at their stage boundaries.
Cycle model: latency 1 cycle, throughput 1 transfer per cycle.
Resources: 2 x width + 2 FFs, about width LUTs (the main register's input select).
Golden twin: the identity (a FIFO of depth 2).
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.hdl import Shape
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .reset_tree import cleared


class SkidBuffer(wiring.Component):
    def __init__(self, shape):
        self.shape = shape
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def cycle_model(self, n: int) -> int:
        return n + 1

    def resource_estimate(self) -> dict:
        w = Shape.cast(self.shape).width
        return {"lut": w + 4, "ff": 2 * w + 2, "bram_bits": 0, "dsp": 0}

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self.shape).width
        main, skid = Signal(width), Signal(width)
        main_valid, skid_valid = Signal(), Signal()
        m.d.comb += [self.o.valid.eq(main_valid), self.o.payload.eq(main), self.i.ready.eq(~skid_valid)]
        load = ~main_valid | self.o.ready          # the main register is free (or being emptied)
        take = self.i.valid & ~skid_valid
        # The data registers' enables are as short as they can be: the skid register follows the
        # input while it is empty (its own flag, no o.ready in front of its enable), the main one
        # loads whenever it is free, valid or not; only the two flags decide. (o.ready, comb from
        # the next unit, can come from across the die: ECP5 x2-base, docs/boards.md row 71)
        with m.If(~skid_valid):
            m.d.sync += skid.eq(self.i.payload)
        with m.If(load):
            m.d.sync += [main.eq(Mux(skid_valid, skid, self.i.payload)), main_valid.eq(skid_valid | take),
                         skid_valid.eq(0)]
        with m.Elif(take):
            m.d.sync += skid_valid.eq(1)
        return m


def pipe(m: Module, name: str, src, dst, enabled: bool = True, clear=None):
    """Connect stream `src` to `dst` through a SkidBuffer named `name` (or directly). `clear`: a
    clear request that resets the buffer a cycle later from its own copy (hw/reset_tree.py)."""
    if not enabled:
        wiring.connect(m, src, dst)
        return None
    sb = SkidBuffer(src.payload.shape())
    m.submodules[name] = sb if clear is None else cleared(m, clear, name, sb)
    wiring.connect(m, src, sb.i)
    wiring.connect(m, sb.o, dst)
    return sb
