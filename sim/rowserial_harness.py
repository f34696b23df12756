"""A memory harness for the row-serial engines (hw/rowserial/) in cocotb: the engine's ports wired
to lib.memory instances (a 16-bit RAM, an input bits ring, an output bits ring with per-bit write
enables, as the engine has them) initialised from the test, with read-back ports for the
testbench (sim/tb_row_engine.py); an output stream `o` is passed through."""
from __future__ import annotations

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out


class RowHarness(wiring.Component):
    def __init__(self, engine, ram_aw: int, bits_aw: int, ram_init, dst_init, src_init=None):
        self.engine, self.ram_aw, self.bits_aw = engine, ram_aw, bits_aw
        self.ram_init, self.src_init, self.dst_init = ram_init, src_init, dst_init
        members = {
            "job": In(stream.Signature(engine.layout)),
            "done": Out(1),
            "ram_dump_addr": In(ram_aw), "ram_dump_data": Out(16),
        }
        members_of = engine.signature.members
        self.has_dst, self.has_o = "dst" in members_of, "o" in members_of
        if self.has_dst:
            members.update({"dst_dump_addr": In(bits_aw), "dst_dump_data": Out(engine.C)})
        if self.has_o:
            members["o"] = Out(members_of["o"].signature)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        e = m.submodules.engine = self.engine
        C = e.C
        m.submodules.ram = ram = memory.Memory(shape=16, depth=1 << self.ram_aw, init=self.ram_init)
        rr, rw, rd = ram.read_port(), ram.write_port(), ram.read_port()
        # the request register RowSerialCore has in front of its RAM (memmap.READ_LATENCY)
        addr, we, wdata = Signal.like(e.ram.addr), Signal(), Signal.like(e.ram.wdata)
        m.d.sync += [addr.eq(e.ram.addr), we.eq(e.ram.we), wdata.eq(e.ram.wdata)]
        m.d.comb += [rr.addr.eq(addr), e.ram.rdata.eq(rr.data),
                     rw.addr.eq(addr), rw.data.eq(wdata), rw.en.eq(we),
                     rd.addr.eq(self.ram_dump_addr), self.ram_dump_data.eq(rd.data)]
        if self.src_init is not None:
            m.submodules.src = src = memory.Memory(shape=C, depth=1 << self.bits_aw, init=self.src_init)
            sr = src.read_port()
            m.d.comb += [sr.addr.eq(e.src.addr), e.src.data.eq(sr.data)]
        if self.has_dst:
            m.submodules.dst = dst = memory.Memory(shape=C, depth=1 << self.bits_aw, init=self.dst_init)
            dw, dd = dst.write_port(granularity=1), dst.read_port()
            m.d.comb += [dw.addr.eq(e.dst.addr), dw.data.eq(e.dst.data.replicate(C)),
                         dw.en.eq(Mux(e.dst.en, Const(1, C) << e.dst.bit, 0)),
                         dd.addr.eq(self.dst_dump_addr), self.dst_dump_data.eq(dd.data)]
        if self.has_o:
            wiring.connect(m, e.o, wiring.flipped(self.o))
        wiring.connect(m, wiring.flipped(self.job), e.job)
        m.d.comb += self.done.eq(e.done)
        return m
