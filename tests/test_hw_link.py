# amaranth: UnusedElaboratable=no
"""Link layer in cocotb: framing, CRC, NACKs, garbage, truncation, crop, status."""
import numpy as np
import pytest
from amaranth import Module, Mux, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out
from amaranth.lib import stream
from amaranth.hdl import unsigned

from hw import layouts
from hw.link import LinkCore
from sim.runner import run_cocotb
from sw import protocol as P


class LinkLoop(wiring.Component):
    """Test top: LinkCore with an identity 'network' (a FIFO of `depth` pixels that releases at
    most one pixel every `every` cycles), to test the link on its own."""

    def __init__(self, ident, timeout, depth=16, every=1, **link_options):
        self.ident, self.timeout, self.depth, self.every = ident, timeout, depth, every
        self.link_options = link_options
        super().__init__({"rx": In(stream.Signature(unsigned(8))), "tx": Out(stream.Signature(unsigned(8)))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.link = link = LinkCore(self.ident, self.timeout, **self.link_options)
        width = 8 if self.link_options.get("byte_stream") else 8 * self.ident.colors
        m.submodules.q = q = fifo.SyncFIFOBuffered(width=width, depth=self.depth * self.ident.colors)
        wiring.connect(m, wiring.flipped(self.rx), link.rx)
        wiring.connect(m, link.tx, wiring.flipped(self.tx))
        tick = Signal()
        if self.every > 1:
            ctr = Signal(range(self.every))
            m.d.sync += ctr.eq(Mux(ctr == self.every - 1, 0, ctr + 1))
            m.d.comb += tick.eq(ctr == 0)
        else:
            m.d.comb += tick.eq(1)
        m.d.comb += [q.w_data.eq(link.net_i.payload), q.w_en.eq(link.net_i.valid), link.net_i.ready.eq(q.w_rdy),
                     link.net_o.payload.eq(q.r_data), link.net_o.valid.eq(q.r_rdy & tick),
                     q.r_en.eq(link.net_o.ready & tick)]
        return m


@pytest.mark.parametrize("options", [{}, {"serial_crc": True, "counters_ram": True},
                                     {"counter_bits": 16, "row_buffer": False, "serial_crc": True,
                                      "counters_ram": True, "byte_stream": True}],
                         ids=["bytewise-crc", "dataflow", "slim"])
def test_link_protocol(options):
    """The links: the dataflow one (bit-serial CRCs that hold bytes back while they work, the
    stripe's byte count by the serial multiplier, 32-bit STATUS counters in a block RAM), the same with byte-wise CRCs (a byte per cycle;
    no board uses it now) and the row-serial board's slim one (16-bit STATUS counters sent
    zero-extended, in a block RAM, result pixels straight from the network, pixels to and from the
    network byte by byte)."""
    ident = P.Identity(P.PROTOCOL_VERSION, "denoise", 1, 3, 16, 8, 64, 48_000_000, 16, 7, "ab" * 32)
    w, h = 6, 4
    img = np.random.default_rng(0).integers(0, 256, w * h * 3)
    run_cocotb(LinkLoop(ident, 400, **options), "link_loop_" + ("_".join(options) or "bytewise"), "sim.tb_link",
               {"image": img}, {"identity": ident.__dict__, "timeout": 400, "stripe": [w, h, 1, 2]})


def test_link_options_are_checked():
    ident = P.Identity(P.PROTOCOL_VERSION, "denoise", 1, 3, 16, 8, 64, 48_000_000, 16, 7, "ab" * 32)
    with pytest.raises(ValueError, match="counter_bits"):
        LinkCore(ident, 400, counter_bits=40)


def test_link_result_row_never_waits_for_the_next_frame():
    """Regression: a STRIPE_ROWS frame that ends in the middle of a row (any split is allowed,
    docs/protocol.md) while the board is slow (the TX waits for every pixel, as with the real
    network) and the network holds only a few pixels (the receptive field: the rest of the row
    needs the next frame's pixels). The old TX started a RESULT_ROW frame on the row's first
    pixel and then waited for the rest inside the frame, so the ACK of the STRIPE_ROWS frame
    queued behind it and the host never sent the pixels the row needed (deadlock; on the
    virtual board a 96 x 40 stripe with max_width 96 stopped after 12 HR rows). The link now
    starts a RESULT_ROW only once the whole (cropped) row is buffered. Stripe width = max_width
    (16), frames of max_payload bytes (the driver's split: 64 bytes = 21.3 pixels, so frames
    end mid-row), one frame in flight."""
    ident = P.Identity(P.PROTOCOL_VERSION, "denoise", 1, 3, 16, 8, 64, 48_000_000, 16, 7, "ab" * 32)
    w, h = 16, 6
    img = np.random.default_rng(1).integers(0, 256, w * h * 3)
    for cl, cr in [(0, 0), (1, 2)]:
        run_cocotb(LinkLoop(ident, 4000, depth=2, every=8), "link_slow", "sim.tb_link", {"image": img},
                   {"identity": ident.__dict__, "timeout": 4000, "stripe": [w, h, cl, cr]},
                   testcase="link_rows_split_mid_row")


@pytest.mark.parametrize("latency", [1, 2])
def test_link_network_reset_follows_the_request_by_reset_latency(latency):
    """net_rst is a one-cycle pulse `reset_latency` cycles after net_clear (the request that the
    dataflow accelerator's two-level reset tree registers twice: hw/reset_tree.py), so the link
    clears its side of the network in the cycle the network's units are cleared."""
    from amaranth.sim import Simulator
    ident = P.Identity(P.PROTOCOL_VERSION, "denoise", 1, 3, 16, 8, 64, 48_000_000, 16, 7, "ab" * 32)
    dut = LinkCore(ident, 400, reset_latency=latency)
    frame = P.encode(P.T.RESET, 0)
    seen = {"clear": [], "rst": []}

    async def bench(ctx):
        ctx.set(dut.tx.ready, 1)
        for cyc in range(len(frame) + 40):
            if cyc < len(frame):
                ctx.set(dut.rx.payload, frame[cyc])
                ctx.set(dut.rx.valid, 1)
            else:
                ctx.set(dut.rx.valid, 0)
            if ctx.get(dut.net_clear):
                seen["clear"].append(cyc)
            if ctx.get(dut.net_rst):
                seen["rst"].append(cyc)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(seen["clear"]) == 1, seen
    assert seen["rst"] == [seen["clear"][0] + latency], seen
    with pytest.raises(ValueError, match="reset_latency"):
        LinkCore(ident, 400, reset_latency=0)


def test_block_ram_data_go_straight_into_registers(tmp_path):
    """The payload buffer is read through a data register with NO_RW_CHECK (hw/ram_read.py): its
    block-RAM data drive flip-flops only; the result-row FIFO (hw/bram_fifo.BlockRamFIFO) feeds
    one logic level, its SkidBuffer's input select (with lib.fifo's SyncFIFOBuffered, yosys's
    collision logic came first; the payload buffer had it too)."""
    from conftest import block_ram_output_depths, synth_cell_counts
    ident = P.Identity(P.PROTOCOL_VERSION, "sr", 4, 3, 64, 64, 512, 48_000_000, 16, 7, "ab" * 32)
    synth_cell_counts(tmp_path, "ecp5", LinkCore(ident, 4000), None)
    depths = block_ram_output_depths(tmp_path)
    buf = [d for n, d in depths.items() if n.startswith("buf.")]
    rowq = [d for n, d in depths.items() if n.startswith("rowq.")]
    assert buf and rowq, depths
    assert max(buf) == 0 and max(rowq) <= 1, depths


def test_dataflow_link_crc_registers_are_one_level_deep(tmp_path):
    """The dataflow link (hw/accelerator.make_link) has bit-serial CRCs: each CRC register bit
    is one LUT from the register (the byte-wise update's XOR trees were 4-5 levels, and the
    transmitter's among the ECP5 paths over 8 ns, docs/boards.md row 127), and the transmitter's
    FSM reaches the transmit CRC only through registers (its start, crc_init, and its byte); its
    STATUS counters are a CounterBank."""
    from conftest import port_to_register_depth, synth_cell_counts
    from hw.accelerator import AcceleratorCore, BuildConfig
    from hw.fold import auto_fold
    import torch
    from conftest import random_network
    from sw.compiler import compile_model
    from sw.config import ModelConfig
    prog = compile_model(random_network(ModelConfig("sr", 2, 2, 1, colors=1), 5), [torch.rand(1, 1, 16, 16)])
    link = AcceleratorCore(prog, BuildConfig(max_width=9, max_height=64, max_payload=24), auto_fold(prog)).make_link()
    assert link.serial_crc and link.counters_ram and link.row_buffer
    synth_cell_counts(tmp_path, "ecp5", link, None)
    for crc in ("tx_crc.value", "rx_crc.value"):
        assert port_to_register_depth(tmp_path, crc, crc) == 1, crc
    assert port_to_register_depth(tmp_path, "tx_fsm", "tx_crc.value") == -1
    # the transmitted byte is selected over two registers: each source's byte with its state flag,
    # then the flagged one (the whole select into one register: x4-base row 138, 10.96 ns)
    assert port_to_register_depth(tmp_path, "tidx", "tx_q[") == -1
    assert port_to_register_depth(tmp_path, "tx_fsm", "tx_q[") == -1
    for src in ("tx_s", "tx_q0", "tx_q2"):
        assert 0 < port_to_register_depth(tmp_path, src, "tx_q[") <= 2, src
    # the payload's field enables are registered flags: the byte counter and the frame type reach
    # the STRIPE_BEGIN geometry registers only through them (row 132: the height's enables, 9.6 ns)
    for src in ("count[", "ftype["):
        for dst in ("height", "crop_l", "crop_r"):
            assert port_to_register_depth(tmp_path, src, dst) == -1, (src, dst)
    assert port_to_register_depth(tmp_path, "count_is_3", "height") >= 1
    # its STATUS counters are in a RAM, and a reply's type and sequence number are the
    # frame's own registers: no 32-bit counter registers (the NACK counter's increment under the
    # receiver's reply conditions, 32 endpoints at 9.6-10.2 ns, docs/boards.md rows 129-130) and
    # no copies of the header fields (rep_seq / rep_type DI, 9.7-9.9 ns)
    import json
    cells = json.loads((tmp_path / "net.json").read_text())["modules"]["top"]["cells"]
    left = [n for n in cells if n.lstrip("\\").startswith(("nacks", "frames_ok", "rep_seq", "rep_type"))]
    assert not left, left[:5]
    # (six words: yosys maps them to distributed RAM, no block RAM)
    assert any(c["type"] in ("DP16KD", "TRELLIS_DPR16X4") and n.startswith("counters.") for n, c in cells.items())
