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
Variant `out_select=True` (a two-entry ring): the input goes into the two data registers only
(alternately, each with its own enable), and `o.payload` selects between them, so nothing but
flip-flops sits behind the source. For sources that are block-RAM outputs (the FIFOs of
hw/bram_fifo.py): an ECP5 DP16KD without its output register has 5.8 ns clock-to-out, and the
main register's input select behind it made every FIFO -> SkidBuffer boundary a path over 8 ns.
The select moves to the consumer's side, behind flip-flops. i.ready and o.valid are registers
there too.
Wide payloads (default variant): the main register's enable (`~main_valid | o.ready`) and its
input select (`skid_valid`) reach every payload bit; for a payload wider than `group_bits` (64) each
group of that many bits takes them from its own copy of the two flags (hw/replica.py), so o.ready
fans out to one LUT per group instead of one net to every bit (the head's 225-bit pixel-window
skid: 226 clock enables of one net, x4-base docs/boards.md row 109).
Variant `half_rate=True` (one register): the data register loads only while it is empty (its
enable is its own empty flag per bit group, o.ready reaches none of it), i.ready is that empty flag
(a register) and o.ready only clears the valid flags. A transfer every other cycle at most: for a
consumer that takes many cycles per item (the head takes its pixel window once per pixel, every
`channels x steps` cycles: hw/fold.head_cut_half_rate) it costs one cycle per item, and it takes the
consumer's ready (from its pipeline enable, x4-base's critical path into the full variant's
225-bit clock enables, docs/boards.md row 129) off every data bit.
Cycle model: latency 1 cycle, throughput 1 transfer per cycle (default and ring variants), one per
two cycles (half_rate).
Resources: 2 x width + 2 FFs, about width LUTs (the main register's input select); half_rate:
width + 2 FFs per group, no data LUTs.
Golden twin: the identity (a FIFO of depth 2; of depth 1 for half_rate).
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal, Value
from amaranth.hdl import Shape
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .replica import Replicated, groups
from .reset_tree import cleared

#: payload bits per enable group of the default variant (see "Wide payloads")
GROUP_BITS = 64


class SkidBuffer(wiring.Component):
    def __init__(self, shape, out_select: bool = False, group_bits: int = GROUP_BITS, half_rate: bool = False):
        if out_select and half_rate:
            raise ValueError("a SkidBuffer is either the ring (out_select) or the half-rate variant")
        self.shape, self.out_select, self.half_rate = shape, out_select, half_rate
        self.groups = groups(Shape.cast(shape).width, group_bits)
        super().__init__({"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))})

    def cycle_model(self, n: int) -> int:
        return 2 * n if self.half_rate else n + 1

    def resource_estimate(self) -> dict:
        w = Shape.cast(self.shape).width
        if self.half_rate:
            return {"lut": 2 + 2 * len(self.groups), "ff": w + 2 + len(self.groups), "bram_bits": 0, "dsp": 0}
        return {"lut": w + 4 + 2 * (len(self.groups) - 1), "ff": 2 * w + 2 * len(self.groups),
                "bram_bits": 0, "dsp": 0}

    def elaborate(self, platform):
        if self.out_select:
            return self._ring()
        if self.half_rate:
            return self._half()
        m = Module()
        width = Shape.cast(self.shape).width
        main, skid = Signal(width), Signal(width)
        # copies of the flags per payload bit group (o.valid is a register of its own beside them: as
        # a port alias a copy would lose its name, and its `keep`, to the port)
        mv = Replicated(len(self.groups), "main_valid")
        sv = Replicated(len(self.groups), "skid_valid")
        main_valid, skid_valid = self.o.valid, sv[0]
        m.d.comb += [self.o.payload.eq(main), self.i.ready.eq(~skid_valid)]
        load = ~main_valid | self.o.ready          # the main register is free (or being emptied)
        take = self.i.valid & ~skid_valid
        # The data registers' enables are as short as they can be: the skid register follows the
        # input while it is empty (its own flag, no o.ready in front of its enable), the main one
        # loads whenever it is free, valid or not; only the two flags decide. (o.ready, comb from
        # the next unit, can come from across the die: ECP5 x2-base, docs/boards.md row 71)
        pl = Value.cast(self.i.payload)
        for g, (lo, hi) in enumerate(self.groups):
            with m.If(~sv[g]):
                m.d.sync += skid[lo:hi].eq(pl[lo:hi])
            with m.If(~mv[g] | self.o.ready):
                m.d.sync += main[lo:hi].eq(Mux(sv[g], skid[lo:hi], pl[lo:hi]))
        with m.If(load):
            m.d.sync += [main_valid.eq(skid_valid | take), *mv.eq(skid_valid | take)]
        # the skid flags: cleared by a load, set by a take, held otherwise; and-or, not an If, so
        # that they take no clock enable of their own (a one-flip-flop control set per skid: half
        # an ECP5 slice each, hw/bram_fifo.py)
        m.d.sync += sv.eq(~load & (skid_valid | take))
        return m

    def _half(self):
        m = Module()
        data = Signal(Shape.cast(self.shape).width, reset_less=True)
        # the valid flag per payload bit group (o.valid a register of its own beside them, as in
        # the default variant) and the empty flag that drives i.ready
        mv = Replicated(len(self.groups), "main_valid")
        empty = Signal(init=1)
        m.d.comb += [self.o.payload.eq(data), self.i.ready.eq(empty)]
        pl = Value.cast(self.i.payload)
        for g, (lo, hi) in enumerate(self.groups):
            with m.If(~mv[g]):                  # loads while empty, valid or not: only the flags decide
                m.d.sync += data[lo:hi].eq(pl[lo:hi])
        # full: stays until o.ready takes it; empty: fills with a valid input (Mux, no clock enable)
        full_n = Mux(self.o.valid, ~self.o.ready, self.i.valid)
        m.d.sync += [self.o.valid.eq(full_n), *mv.eq(full_n), empty.eq(~full_n)]
        return m

    def _ring(self):
        m = Module()
        width = Shape.cast(self.shape).width
        regs = [Signal(width, name=f"r{k}", reset_less=True) for k in range(2)]
        wsel, rsel = Signal(), Signal()                 # entry written next / read next
        count = Signal(range(3))
        in_rdy, out_vld = Signal(init=1), Signal()      # count != 2, count != 0, registered
        push = self.i.valid & in_rdy
        pop = out_vld & self.o.ready
        m.d.comb += [self.i.ready.eq(in_rdy), self.o.valid.eq(out_vld),
                     self.o.payload.eq(Mux(rsel, regs[1], regs[0]))]
        for k in range(2):
            with m.If(push & (wsel == k)):
                m.d.sync += regs[k].eq(self.i.payload)
        count_n = Signal.like(count)
        m.d.comb += count_n.eq(count + push - pop)
        m.d.sync += [count.eq(count_n), in_rdy.eq(count_n != 2), out_vld.eq(count_n != 0)]
        # (xor, not an If: no one-flip-flop clock enable sets, see the default variant)
        m.d.sync += [wsel.eq(wsel ^ push), rsel.eq(rsel ^ pop)]
        return m


def pipe(m: Module, name: str, src, dst, enabled: bool = True, clear=None, out_select: bool = False,
         half_rate: bool = False):
    """Connect stream `src` to `dst` through a SkidBuffer named `name` (or directly). `clear`: a
    clear request that resets the buffer a cycle later from its own copy (hw/reset_tree.py).
    out_select: the ring variant (behind a block-RAM FIFO); half_rate: the one-register variant."""
    if not enabled:
        wiring.connect(m, src, dst)
        return None
    sb = SkidBuffer(src.payload.shape(), out_select=out_select, half_rate=half_rate)
    m.submodules[name] = sb if clear is None else cleared(m, clear, name, sb)
    wiring.connect(m, src, sb.i)
    wiring.connect(m, sb.o, dst)
    return sb
