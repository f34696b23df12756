"""MaskedRAM: a block RAM of `width`-bit words with one synchronous read port and one bit-masked
write port (the binary engine's tap RAM, the link's STATUS counter bank; the row-serial bits
memory was one until row 55 of docs/boards.md: hw/bits_ram.BitsRAM writes one bit at a time and
reads without a bank select).

Signature
  raddr: In(aw), ren: In(1)     a read of word raddr in a cycle with ren; rdata holds that word
  rdata: Out(width)             from the next cycle on, until the next read
  waddr: In(aw), wdata: In(width), wen: In(width)   write bit i of word waddr where wen[i]

Implementations
  iCE40 (platform family "iCE40", the UP5K): banks of 256 words, each width/16 SB_RAM40_4K in
      256 x 16 mode on both ports (MASK = ~wen; the block holds its read data while RCLKE is low),
      the banks' outputs selected by the bank of the last read. As one lib.memory yosys maps the
      2,304 x 32 bits of x2-tiny with 256 x 16 writes and 512 x 8 reads, and the write data and mask
      steering took ~450 LUT4 (docs/boards.md rows 33-35); small lib.memory blocks get a
      read-during-write bypass in fabric (Amaranth's read ports promise the old word).
  elsewhere (simulation, other FPGAs): one lib.memory (granularity 1, read port enabled by ren).
A read of the word written in the same cycle is undefined on the iCE40: the callers never make one
(the binary engine writes its taps in LOAD and reads them in ROW; CounterBank: see there).
Cycle model: read latency 1, one write per cycle.
Golden twin: none (storage); tests/test_postsynth.py checks the iCE40 netlist against a model, and
the row-serial network tests (RTL and post-synthesis) run the binary engine on it.
"""
from __future__ import annotations

from amaranth import Cat, ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from .head import select

BANK_WORDS = 256        # SB_RAM40_4K in 256 x 16 mode


class MaskedRAM(wiring.Component):
    def __init__(self, width: int, depth: int, addr_width: int):
        if depth > 1 << addr_width:
            raise ValueError(f"{depth} words need more than {addr_width} address bits")
        self.width, self.depth = width, depth
        self.banks = -(-depth // BANK_WORDS)
        self.lanes = -(-width // 16)
        super().__init__({"raddr": In(addr_width), "ren": In(1), "rdata": Out(width),
                          "waddr": In(addr_width), "wdata": In(width), "wen": In(width)})

    def resource_estimate(self) -> dict:
        """The read select (~1 LUT4 per bit and 3 banks), bank decode, the bank register."""
        return {"lut": self.width * max(self.banks - 1, 0) // 3 + 2 * self.banks,
                "ff": max(self.banks - 1, 1).bit_length(), "bram_bits": self.width * self.depth, "dsp": 0}

    def elaborate(self, platform):
        m = Module()
        if getattr(platform, "family", None) != "iCE40":
            m.submodules.mem = mem = memory.Memory(shape=self.width, depth=self.depth, init=[])
            rd, wr = mem.read_port(), mem.write_port(granularity=1)
            m.d.comb += [rd.addr.eq(self.raddr), rd.en.eq(self.ren), self.rdata.eq(rd.data),
                         wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.wen)]
            return m
        k = (BANK_WORDS - 1).bit_length()
        wpad = Cat(self.wdata, Const(0, 16 * self.lanes - self.width))
        mpad = Cat(~self.wen, Const(0xFFFF, 16 * self.lanes - self.width))
        any_w = self.wen.any()
        outs = []
        for b in range(self.banks):
            hit = any_w & (self.waddr[k:] == b)
            lanes = []
            for q in range(self.lanes):
                dout = Signal(16, name=f"b{b}_{q}_rdata")
                m.submodules[f"ebr{b}_{q}"] = Instance(
                    "SB_RAM40_4K",
                    p_READ_MODE=0, p_WRITE_MODE=0,
                    i_RCLK=ClockSignal(), i_RCLKE=self.ren, i_RE=1, i_RADDR=Cat(self.raddr[:k], Const(0, 11 - k)),
                    i_WCLK=ClockSignal(), i_WCLKE=hit, i_WE=1, i_WADDR=Cat(self.waddr[:k], Const(0, 11 - k)),
                    i_WDATA=wpad[16 * q:16 * q + 16], i_MASK=mpad[16 * q:16 * q + 16],
                    o_RDATA=dout)
                lanes.append(dout)
            outs.append(Cat(*lanes)[:self.width])
        bank_q = Signal(range(max(self.banks, 2)))
        with m.If(self.ren):
            m.d.sync += bank_q.eq(self.raddr[k:])
        m.d.comb += self.rdata.eq(select(bank_q, outs))
        return m
