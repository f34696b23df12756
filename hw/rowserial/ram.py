"""SinglePortRAM: the row-serial accelerator's 16-bit RAM, one access per cycle.

Signature
  addr: In(aw), we: In(1), wdata: In(16)   a write when we, else a read when re
  re:   In(1)
  rdata: Out(16)                           the word of the last read (kept until the next read;
                                           writes do not change it)
Implementations
  iCE40 (platform family "iCE40", the UP5K): SB_SPRAM256KA blocks of 16K x 16 (ceil(depth/16K)),
      the bank chosen by the high address bits; rdata is held in fabric registers, as the SPRAM's
      own output is undefined after a write. (lib.memory cannot be used there: Amaranth writes an
      initial value for every word, and yosys maps only uninitialised memories to SPRAM.)
  elsewhere (simulation, other FPGAs): lib.memory with a read port enabled by re & ~we.
Cycle model: one access per cycle, read latency 1.
"""
from __future__ import annotations

from amaranth import Array, ClockSignal, Instance, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

SPRAM_WORDS = 16384


class SinglePortRAM(wiring.Component):
    def __init__(self, depth: int, addr_width: int = 16):
        self.depth = depth
        super().__init__({"addr": In(addr_width), "we": In(1), "wdata": In(16), "re": In(1), "rdata": Out(16)})

    def resource_estimate(self) -> dict:
        return {"lut": 16 + 8, "ff": 16 + 4, "bram_bits": 0, "dsp": 0, "spram_bits": 16 * self.depth}

    def elaborate(self, platform):
        m = Module()
        if getattr(platform, "family", None) == "iCE40":
            banks = -(-self.depth // SPRAM_WORDS)
            bank = Signal(range(max(banks, 2)))
            m.d.comb += bank.eq(self.addr[14:])
            outs = []
            for b in range(banks):
                sel = bank == b
                dout = Signal(16, name=f"spram{b}_out")
                m.submodules[f"spram{b}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=self.addr[:14], i_DATAIN=self.wdata, i_MASKWREN=0b1111,
                    i_WREN=self.we, i_CHIPSELECT=sel & (self.we | self.re), i_CLOCK=ClockSignal(),
                    i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=dout)
                outs.append(dout)
            read_q, bank_q, held = Signal(), Signal.like(bank), Signal(16)
            m.d.sync += [read_q.eq(self.re & ~self.we), bank_q.eq(bank)]
            data = Array(outs)[bank_q]       # (a balanced mux tree: two LUT levels for four banks)
            m.d.comb += self.rdata.eq(Mux(read_q, data, held))
            m.d.sync += held.eq(self.rdata)
        else:
            m.submodules.mem = mem = memory.Memory(shape=16, depth=self.depth, init=[])
            rd, wr = mem.read_port(), mem.write_port()
            m.d.comb += [wr.addr.eq(self.addr), wr.data.eq(self.wdata), wr.en.eq(self.we),
                         rd.addr.eq(self.addr), rd.en.eq(self.re & ~self.we), self.rdata.eq(rd.data)]
        return m
