"""CounterBank: a few event counters kept in one block RAM (the link's STATUS counters on the UP5K).

Signature
  inc:   In(n)              one-cycle pulses, any number at once: counter k counts one per pulse
  sel:   In(range(n))       the counter the reader wants
  value: Out(bits)          counter `sel`'s count, when `valid`
  valid: Out(1)             `value` was read for the current `sel` (one cycle after `sel` settles)

Behaviour: the counts live in an EBR (one word per counter, cleared by a walk over the words after
reset: nothing relies on the RAM's power-up contents). A pulse sets the counter's pending flag; one
shared incrementer works the pending flags off, lowest first, by read-modify-write (2 cycles per
count); in the other cycles the read port reads `sel` for the reader. A pulse for a counter whose
previous count is still pending would be lost: the caller's pulses of one counter must be at least
4 * n cycles apart, and none may come in the n cycles of the clear walk after reset (the link: at
most one per counter and frame, a frame is at least 10 bytes of >= 9 cycles each, and the first
frame needs its bytes from the UART). A count shows in `value` at most 4 * n + 2 cycles after its
pulse.
Against n registers with an incrementer each and an n-way select: one incrementer, n flags and the
RAM (hw/link.py: 6 counters of 16 bits, ~230 logic cells less on the iCE40UP5K).
Cycle model: a pending count takes 2 cycles; `valid` drops for the first of them.
Golden twin: the STATUS counters of sw.protocol (tests/test_hw_link.py checks them after frames).
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .masked_ram import MaskedRAM


class CounterBank(wiring.Component):
    def __init__(self, n: int, bits: int):
        if n < 1:
            raise ValueError("a CounterBank needs at least one counter")
        self.n, self.bits = n, bits
        super().__init__({"inc": In(n), "sel": In(range(max(n, 2))), "value": Out(bits), "valid": Out(1)})

    @staticmethod
    def estimate(n: int, bits: int) -> dict:
        """resource_estimate() without building the component (for its users' estimates)."""
        # incrementer, pending flags and their priority pick, clear walk, read address select
        return {"lut": bits + 3 * n + 12, "ff": n + 2 * n.bit_length() + 6,
                "bram_bits": n * bits, "dsp": 0}

    def resource_estimate(self) -> dict:
        return self.estimate(self.n, self.bits)

    def elaborate(self, platform):
        m = Module()
        n = self.n
        # the words in a MaskedRAM: on the iCE40 an SB_RAM40_4K instance (as one lib.memory, yosys
        # adds a read-during-write bypass in fabric next to the block); read every cycle, written a
        # whole word at a time. A read of the word written in the same cycle is undefined there:
        # `valid` leaves it out
        m.submodules.mem = mem = MaskedRAM(self.bits, max(n, 2), max(n - 1, 1).bit_length())
        we = Signal()
        m.d.comb += [mem.wen.eq(we.replicate(self.bits)), mem.ren.eq(1)]
        aw = range(max(n, 2))
        clr = Signal(range(n + 1), init=n)      # words still to clear after reset
        pend = Signal(n)
        rmw = Signal()                          # a count was read last cycle: write it back + 1
        ridx = Signal(aw)
        taken = Signal(n)
        idx = Signal(aw)
        for k in reversed(range(n)):            # the lowest pending counter
            with m.If(pend[k]):
                m.d.comb += idx.eq(k)
        start = Signal()
        m.d.comb += start.eq((clr == 0) & ~rmw & (pend != 0))
        with m.If(clr != 0):
            m.d.comb += [mem.waddr.eq(clr - 1), mem.wdata.eq(0), we.eq(1)]
            m.d.sync += clr.eq(clr - 1)
        with m.Elif(rmw):
            m.d.comb += [mem.waddr.eq(ridx), mem.wdata.eq(mem.rdata + 1), we.eq(1)]
        with m.If(start):
            m.d.comb += [mem.raddr.eq(idx), taken.eq(1 << idx)]
            m.d.sync += ridx.eq(idx)
        with m.Else():
            m.d.comb += mem.raddr.eq(self.sel)
        m.d.sync += [rmw.eq(start), pend.eq((pend & ~taken) | self.inc)]
        # the reader's read: its address this cycle, not overwritten in this cycle
        rq, sel_q = Signal(), Signal(aw)
        m.d.sync += [rq.eq(~start & (clr == 0) & ~(we & (mem.waddr == self.sel))), sel_q.eq(self.sel)]
        m.d.comb += [self.value.eq(mem.rdata), self.valid.eq(rq & (sel_q == self.sel))]
        return m
