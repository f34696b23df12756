"""BitsRAM: the row-serial accelerator's bits memory: `width`-bit words read whole, written one bit
at a time (the binary engine and the head write bit c of a pixel's word as channel c goes by).

Signature
  raddr: In(aw), ren: In(1)     a read of word raddr in a cycle with ren; rdata holds that word
  rdata: Out(width)             from the next cycle on, until the next read
  waddr: In(aw), wbit: In(range(width)), wdata: In(1), we: In(1)
                                write bit wbit of word waddr (when we)

Implementations
  iCE40 (platform family "iCE40", the UP5K): SB_RAM40_4K blocks written in 256 x 16 mode with a
      one-bit MASK and read in a narrower mode (the block's read and write widths are independent).
      Read mode k (0: 256 x 16, 1: 512 x 8, 2: 1024 x 4, 3: 2048 x 2) reads 16 >> k bits of word a at
      physical word a[:8], bits (i << k) + a[8:8+k] (pin (i << k) + (2**k - 1) // 2 for bit i; the
      yosys cell model). So a region of 2048 words in mode 3 is width/2 blocks side by side, each
      giving two bits of every word: no read select at all. The words are cut into regions of
      2048 (mode 3) and one last region in the narrowest mode that holds the rest (x2-tiny: 2,048
      words in 16 blocks + 192 words in two blocks of 256 x 16: the same 18 blocks as 256 x 16
      banks, but a 2:1 read select instead of 9:1, ~250 LUT4 less). A write of bit c of word a in
      a region of mode k goes to block c // (16 >> k) with physical bit (c % (16 >> k)) << k |
      a[8:8+k], a 4-bit index: one 16-bit mask decoder per region, shared by its blocks.
  elsewhere (simulation, other FPGAs): a MaskedRAM (there one lib.memory), the bit as a one-bit mask.
A read of the word written in the same cycle is undefined on the iCE40: the callers never make one
(the binary engine reads one ring and writes another).
Cycle model: read latency 1, one bit written per cycle.
Golden twin: none (storage); tests/test_postsynth.py checks the iCE40 netlist against a model, and
the row-serial network tests (RTL and post-synthesis) run the network on it.
"""
from __future__ import annotations

from amaranth import Cat, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .head import select
from .masked_ram import MaskedRAM

REGION_WORDS = 2048     # SB_RAM40_4K read in 2048 x 2 mode
BANK_WORDS = 256


def regions(width: int, depth: int) -> list[tuple[int, int, int]]:
    """(base word, words, read mode) of each region: 2048-word mode-3 regions, then the rest in
    the narrowest mode that holds it."""
    out = [(b, REGION_WORDS, 3) for b in range(0, depth - depth % REGION_WORDS, REGION_WORDS)]
    rest = depth % REGION_WORDS
    if rest:
        mode = next(k for k in range(4) if rest <= BANK_WORDS << k)
        out.append((depth - rest, rest, mode))
    return out


class BitsRAM(wiring.Component):
    def __init__(self, width: int, depth: int, addr_width: int):
        if depth > 1 << addr_width:
            raise ValueError(f"{depth} words need more than {addr_width} address bits")
        self.width, self.depth = width, depth
        super().__init__({"raddr": In(addr_width), "ren": In(1), "rdata": Out(width),
                          "waddr": In(addr_width), "wbit": In(range(width)), "wdata": In(1), "we": In(1)})

    def resource_estimate(self) -> dict:
        """The read select (one LUT4 per bit per two regions), a mask decoder and block enables
        per region, the region register."""
        nr = len(regions(self.width, self.depth))
        return {"lut": self.width * (nr - 1) // 2 + nr * (16 + 8), "ff": max(nr - 1, 1).bit_length(),
                "bram_bits": self.width * self.depth, "dsp": 0}

    def elaborate(self, platform):
        m = Module()
        if getattr(platform, "family", None) != "iCE40":
            # (a MaskedRAM is one lib.memory there) the bit as a one-bit mask
            m.submodules.mem = mem = MaskedRAM(self.width, self.depth, len(self.raddr))
            m.d.comb += [mem.raddr.eq(self.raddr), mem.ren.eq(self.ren), self.rdata.eq(mem.rdata),
                         mem.waddr.eq(self.waddr), mem.wdata.eq(self.wdata.replicate(self.width)),
                         mem.wen.eq(Mux(self.we, Const(1, self.width) << self.wbit, 0))]
            return m
        regs = regions(self.width, self.depth)
        hi = REGION_WORDS.bit_length() - 1          # region index: address bits from 11 up
        outs = []
        for q, (base, words, k) in enumerate(regs):
            bpe = 16 >> k                           # bits of a word per block
            nblk = -(-self.width // bpe)
            lb = bpe.bit_length() - 1
            here = self.we & (self.waddr[hi:] == base >> hi) if len(regs) > 1 else self.we
            # the written bit's physical position in its block: (c % bpe) << k | a[8:8+k]
            pos = Cat(self.waddr[8:8 + k], self.wbit[:lb]) if lb else self.waddr[8:8 + k]
            mask = Signal(16, name=f"r{q}_mask")
            m.d.comb += mask.eq(~(Const(1, 16) << pos))
            blk = self.wbit[lb:] if lb < len(self.wbit) else Const(0, 1)
            bits = []
            for e in range(nblk):
                dout = Signal(16, name=f"r{q}_{e}_rdata")
                m.submodules[f"ebr{q}_{e}"] = Instance(
                    "SB_RAM40_4K",
                    p_READ_MODE=k, p_WRITE_MODE=0,
                    i_RCLK=ClockSignal(), i_RCLKE=self.ren, i_RE=1,
                    i_RADDR=Cat(self.raddr[:8 + k], Const(0, 3 - k)),
                    i_WCLK=ClockSignal(), i_WCLKE=here & (blk == e), i_WE=1,
                    i_WADDR=Cat(self.waddr[:8], Const(0, 3)),
                    i_WDATA=self.wdata.replicate(16), i_MASK=mask,
                    o_RDATA=dout)
                bits += [dout[(i << k) + ((1 << k) - 1) // 2] for i in range(bpe)]
            outs.append(Cat(*bits[:self.width]))
        if len(outs) == 1:
            m.d.comb += self.rdata.eq(outs[0])
            return m
        reg_q = Signal(range(len(regs)))
        with m.If(self.ren):
            m.d.sync += reg_q.eq(self.raddr[hi:])
        m.d.comb += self.rdata.eq(select(reg_q, outs))
        return m
