"""BlockRamFIFO: lib.fifo.SyncFIFOBuffered's queue, read so that yosys needs no collision logic.

lib.fifo.SyncFIFOBuffered (Amaranth 0.5) reads its storage through a synchronous read port, which
reaches yosys as read-first on a read/write collision; the ECP5 block RAM has no such mode between
its two ports, so yosys emulates it with a LUT behind every data output and a bypass register
(hw/ram_read.py tells the whole story). That FIFO never reads the word it writes (it reads only
when its memory holds a word, i.e. consume != produce, and it writes produce), so the emulation is
dead logic on the slowest wire of the block RAM: the critical path of x4-base in docs/boards.md
row 98 ran through it in a layer's residual FIFO. This is the same queue, signal for signal and
cycle for cycle (tests/test_hw_bram_fifo.py compares the two on every output in every cycle),
with its storage marked NO_RW_CHECK and read through hw/ram_read.registered_read, so that every
block-RAM data bit drives the output register's flip-flops only.

out_reg=True adds a stage: the read register (merged into the block RAM's read latch) is followed
by an output register with no reset, loaded from it alone, which the board build's netlist pass
(boards/outreg.py) turns into the DP16KD's output register: r_data then leaves the block RAM 0.95 ns
after the clock instead of 5.8 ns (x4-base docs/boards.md row 112: 41 endpoints over 8 ns behind a
layer's residual FIFO). Not cycle-equivalent to SyncFIFOBuffered any more (one cycle more latency;
w_rdy may be low while the latch and output register are not full yet, until they are loaded).

Interface: lib.fifo.FIFOInterface (w_data, w_en, w_rdy, w_level, r_data, r_en, r_rdy, r_level)
plus `level`, as SyncFIFOBuffered; depth >= 2 (depth - 1 words in memory, one in the output
register; out_reg: depth >= 3, depth - 2 in memory, one in the read latch, one in the output).
Cycle model: one word in and out per cycle; a word written into an empty queue is readable
2 cycles later (memory, then the output register); out_reg: 3 cycles.
Resource estimate: (depth - 1) x width bits of memory; two pointers and a level counter with
their incrementers; the output register (merged into a block RAM's output port); out_reg: a
valid flag more (the output register merged too).
"""
from __future__ import annotations

from amaranth import Elaboratable, Module, Mux, Signal
from amaranth.lib import fifo, memory

from hw.flag import set_clear
from hw.ram_read import NO_RW_CHECK, registered_read


def _incr(v, modulo: int):
    return (v + 1) if modulo == 1 << len(v) else Mux(v == modulo - 1, 0, v + 1)


class BlockRamFIFO(Elaboratable, fifo.FIFOInterface):
    def __init__(self, *, width: int, depth: int, out_reg: bool = False):
        if depth < 2 + out_reg:
            self._MustUse__silence = True         # refused, so never elaborated: no warning
            raise ValueError(f"BlockRamFIFO depth must be >= {2 + out_reg}{' with out_reg' if out_reg else ''}, "
                             f"not {depth}")
        super().__init__(width=width, depth=depth)
        self.out_reg = out_reg
        self.level = Signal(range(depth + 1))

    @property
    def latency(self) -> int:
        return 3 if self.out_reg else 2

    def resource_estimate(self) -> dict:
        abits = max(self.depth - 1, 2).bit_length()
        return {"lut": 3 * abits + 10 + 2 * self.out_reg, "ff": 3 * abits + self.width * (1 + self.out_reg) + 2 + self.out_reg,
                "bram_bits": self.width * (self.depth - 1 - self.out_reg), "dsp": 0}

    def elaborate(self, platform):
        m = Module()
        inner_depth = self.depth - 1 - self.out_reg
        inner_level = Signal(range(inner_depth + 1))
        inner_r_rdy = Signal()
        do_write = self.w_rdy & self.w_en
        if self.out_reg:
            l_valid = Signal()                    # the read latch holds a word
            do_out = l_valid & (~self.r_rdy | self.r_en)
            do_inner_read = inner_r_rdy & (~l_valid | do_out)
            level = inner_level + l_valid + self.r_rdy
        else:
            do_out = do_inner_read = inner_r_rdy & (~self.r_rdy | self.r_en)
            level = inner_level + self.r_rdy
        # "not full" and "not empty" as registers, equal to inner_level != inner_depth / != 0 at all
        # times: set from compares of the level register with constants and the two transfers (the
        # compares sat in front of do_write / do_inner_read and the level's adder: a residual FIFO
        # stage's level counter was over 8 ns on the ECP5, x4-base docs/boards.md rows 114 and 116)
        not_full, not_empty = Signal(init=1), Signal()
        m.d.comb += [self.w_rdy.eq(not_full), inner_r_rdy.eq(not_empty),
                     self.level.eq(level),
                     self.w_level.eq(self.level), self.r_level.eq(self.level)]

        m.submodules.storage = storage = memory.Memory(shape=self.width, depth=inner_depth, init=[],
                                                       attrs=NO_RW_CHECK)
        w_port = storage.write_port()
        r_port, r_reg = registered_read(m, storage, do_inner_read, "r_reg")
        produce = Signal(range(inner_depth))
        consume = Signal(range(inner_depth))
        m.d.comb += [w_port.addr.eq(produce), w_port.data.eq(self.w_data), w_port.en.eq(do_write),
                     r_port.addr.eq(consume)]
        # The one-bit state shares clock enables with other registers: not-full / not-empty load
        # under the level's enable (as logic, not constants in branches, which yosys would make a
        # synchronous set of their own), the valid flags take none (hw/flag.py: one-flip-flop
        # control sets, half an ECP5 slice each, stalled x2-base's legaliser).
        if self.out_reg:
            o_reg = Signal(self.width, name="o_reg", reset_less=True)
            with m.If(do_out):
                m.d.sync += o_reg.eq(r_reg)
            set_clear(m, l_valid, do_inner_read, do_out)
            m.d.comb += self.r_data.eq(o_reg)
        else:
            m.d.comb += self.r_data.eq(r_reg)
        with m.If(do_write):
            m.d.sync += produce.eq(_incr(produce, inner_depth))
        with m.If(do_inner_read):
            m.d.sync += consume.eq(_incr(consume, inner_depth))
        with m.If(do_write != do_inner_read):        # the level moves: one up (write) or down (read)
            m.d.sync += [inner_level.eq(Mux(do_write, inner_level + 1, inner_level - 1)),
                         not_full.eq(~do_write | (inner_level != inner_depth - 1)),
                         not_empty.eq(do_write | (inner_level != 1))]
        set_clear(m, self.r_rdy, do_out, self.r_en)
        return m
