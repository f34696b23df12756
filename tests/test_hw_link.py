"""Link layer in cocotb: framing, CRC, NACKs, garbage, truncation, crop, status."""
import numpy as np
from amaranth import Module
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out
from amaranth.lib import stream
from amaranth.hdl import unsigned

from hw import layouts
from hw.link import LinkCore
from sim.runner import run_cocotb
from sw import protocol as P


class LinkLoop(wiring.Component):
    """Test top: LinkCore with an identity 'network' (a FIFO), to test the link on its own."""

    def __init__(self, ident, timeout):
        self.ident, self.timeout = ident, timeout
        super().__init__({"rx": In(stream.Signature(unsigned(8))), "tx": Out(stream.Signature(unsigned(8)))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = LinkCore(self.ident, self.timeout)
        m.submodules.q = q = fifo.SyncFIFOBuffered(width=8 * self.ident.colors, depth=16)
        wiring.connect(m, wiring.flipped(self.rx), link.rx)
        wiring.connect(m, link.tx, wiring.flipped(self.tx))
        m.d.comb += [q.w_data.eq(link.net_i.payload), q.w_en.eq(link.net_i.valid), link.net_i.ready.eq(q.w_rdy),
                     link.net_o.payload.eq(q.r_data), link.net_o.valid.eq(q.r_rdy), q.r_en.eq(link.net_o.ready)]
        return m


def test_link_protocol():
    ident = P.Identity(P.PROTOCOL_VERSION, "denoise", 1, 3, 16, 8, 64, 48_000_000, 16, 7, "ab" * 32)
    w, h = 6, 4
    img = np.random.default_rng(0).integers(0, 256, w * h * 3)
    run_cocotb(LinkLoop(ident, 400), "link_loop", "sim.tb_link", {"image": img},
               {"identity": ident.__dict__, "timeout": 400, "stripe": [w, h, 1, 2]})
