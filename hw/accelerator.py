"""The accelerator: link layer + network, generated from a compiled program.

AcceleratorCore  byte streams in/out (the cut used by the Verilator virtual board)
Accelerator      AcceleratorCore behind a UART (what the board tops instantiate)

The network is held in reset for one cycle at the start of every stripe (and on RESET), so a
stripe never sees state left by an earlier, aborted one.

Power-on reset: by default the sync domain's reset resets everything (the simulation tops and the
virtual board). A board top instead gives its power-on reset as `por` and a reset-less sync domain
(boards/common.py): the link and the UART receiver and transmitter each by a registered copy of
`por` (`with_por`, one cycle after it), the network through the same tree as its clear
(hw/reset_tree.py: `por` joins the link's clear request, so every network flip-flop is reset by
its unit's registered copy alone, TREE_LEVELS cycles after `por`). A reset
shared with the power-on reset needs a LUT per unit that combines the two, fed by one net across
the die: the x2-base ECP5 critical path once the clear had its tree (docs/boards.md row 70).

Between the link and the network sits an input FIFO of one frame's pixels (`input_fifo_depth`,
cleared with the network; on the dataflow network through a SkidBuffer, as its output). The link
answers a STRIPE_ROWS frame with ACK once its pixels are in that FIFO, so the host sends the next
frame while the network still computes this one: the line and the fabric work at the same time
(time per frame ~ max(transfer, compute), not their sum), and on the virtual board the network is
never starved by the host's round trip.
"""
from __future__ import annotations

from dataclasses import dataclass

from amaranth import Module, ResetInserter
from amaranth.hdl import unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sw import protocol as P
from sw.program import Program

from .fold import FoldConfig, auto_fold
from .stream_fifo import StreamFIFO
from .link import LinkCore
from .network import Network, receptive_halo
from .reset_tree import COPY_FF, TREE_LEVELS, cleared, region_copy, reset_copy
from .static_copy import GEO_FF, geometry_copy
from .estimate import throwaway, total
from .skid import SkidBuffer, pipe
from .uart import UartRx, UartTx


@dataclass
class BuildConfig:
    max_width: int = 64           # LR stripe width limit (halo included)
    max_height: int = 2048        # LR stripe height limit (counters only: no memory depends on it)
    max_payload: int = 1024       # bytes per STRIPE_ROWS frame
    clock_hz: int = 48_000_000
    baud: int = 3_000_000
    timeout_ms: float = 50.0
    input_fifo: int | None = None  # pixels between link and network; None: one frame (max_payload / colours)
    arch: str = "dataflow"        # "dataflow" (hw/network.py, one unit per layer, parameters in the
    #                               bitstream) | "rowserial" (hw/rowserial: one shared datapath, the
    #                               parameters loaded into RAM with PARAMS frames: the iCE40UP5K)

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}")


ARCHS = ("dataflow", "rowserial")


def param_words(prog: Program, build: BuildConfig) -> int:
    """RAM words the host loads before the first stripe (0 for the dataflow architecture)."""
    if build.arch != "rowserial":
        return 0
    from .rowserial.memmap import NetworkMap
    return NetworkMap(prog, build.max_width).param_words


def make_network(prog: Program, build: BuildConfig, fold: FoldConfig):
    if build.arch == "rowserial":
        from .rowserial.network import RowSerialNetwork
        return RowSerialNetwork(prog, build.max_width, build.max_height)
    return Network(prog, fold, build.max_width, build.max_height)


def identity_for(prog: Program, build: BuildConfig) -> P.Identity:
    cfg = prog.config
    return P.Identity(P.PROTOCOL_VERSION, cfg.task, cfg.scale, cfg.colors, build.max_width, build.max_height,
                      build.max_payload, build.clock_hz, prog.fmt.bits, receptive_halo(prog), prog.content_hash,
                      param_words(prog, build))


def with_por(m: Module, por, name: str, unit):
    """`unit` reset by the board's power-on reset `por` through a registered copy of its own (None:
    by the sync domain's reset alone). One net from the board's reset register to the resets of
    every flip-flop of the link, the UART and the status logic was the x4-base ECP5 critical path
    (docs/boards.md row 122: 12.9 ns, 12.2 of it routing); a copy per block keeps each reset net
    within its block's placement."""
    return unit if por is None else cleared(m, por, "por_" + name, unit)


class AcceleratorCore(wiring.Component):
    def __init__(self, prog: Program, build: BuildConfig | None = None, fold: FoldConfig | None = None,
                 por=None):
        self.por = por          # the module docstring says when a board top gives one
        self.prog = prog
        self.build = build or BuildConfig()
        self.fold = fold or auto_fold(prog)
        self.identity = identity_for(prog, self.build)
        super().__init__({
            "rx": In(stream.Signature(unsigned(8))),
            "tx": Out(stream.Signature(unsigned(8))),
            "busy": Out(1),
            "error": Out(1),
            "out_fire": Out(1),      # a restored pixel leaves the network (for cycle measurements)
        })

    @property
    def input_fifo_depth(self) -> int:
        """Default: one frame of pixels (dataflow); none for the row-serial network, whose receiver
        writes into its own ring of pixel rows (RX_AHEAD rows ahead of the period being run)."""
        b = self.build
        if b.input_fifo is not None:
            return b.input_fifo
        return 0 if b.arch == "rowserial" else b.max_payload // self.prog.config.colors

    def make_link(self) -> LinkCore:
        """The link; for the row-serial network (the UP5K) the slim one: 16-bit STATUS counters in
        a block RAM, no result row FIFO (LinkCore's docstring says why the row-serial network needs
        none), bit-serial CRCs (its bytes come from a UART) and the pixels' bytes one by one (the
        network's receiver writes bytes: no pixel assembled and taken apart again); the stripe's
        byte count on the DSP block the network's tail leaves free (hw/rowserial/network.py
        lrelu_sharing), else serially. The dataflow link's CRCs are bit-serial too (its bytes come
        from a UART as well, hundreds of cycles apart; the byte-wise CRC's XOR trees and their
        enables were among the ECP5 paths over 8 ns, docs/boards.md row 127), and so is its
        stripe's byte count (hw/mul.serial_mul instead of a DSP block); its 32-bit STATUS counters
        are in a RAM too (hw/counters.py; six words, distributed RAM): the NACK counter's increment
        under the receiver's reply conditions was 32 endpoints at 9.6-10.2 ns on the ECP5 (rows
        129-130)."""
        if self.build.arch == "rowserial":
            from .rowserial.network import lrelu_sharing
            return LinkCore(self.identity, self.timeout_cycles, counter_bits=16, row_buffer=False, serial_crc=True,
                            counters_ram=True, byte_stream=True,
                            area_dsp=lrelu_sharing(self.prog)[1])
        return LinkCore(self.identity, self.timeout_cycles, reset_latency=TREE_LEVELS, serial_crc=True,
                        counters_ram=True)

    @property
    def timeout_cycles(self) -> int:
        b = self.build
        return max(64, int(b.clock_hz * b.timeout_ms / 1000))

    def resource_estimate(self) -> dict:
        """Link + input FIFO + network (analytical, before the device calibration of boards/fit.py)."""
        b = self.build
        units = [self.make_link(), make_network(self.prog, b, self.fold)]
        if b.arch != "rowserial":                 # (cut_out, and cut_q / cut_in around the input FIFO)
            pixel = unsigned(8 * self.prog.config.colors)
            units += [SkidBuffer(pixel) for _ in range(1 + 2 * bool(self.input_fifo_depth))]
        if self.input_fifo_depth:
            units.append(StreamFIFO(unsigned(8 * self.prog.config.colors), self.input_fifo_depth))
        throwaway(*units)
        # the trees' first level, the accelerator's region copy
        tree = [] if b.arch == "rowserial" else [{"ff": 2 * COPY_FF + GEO_FF}]
        return total([u.resource_estimate() for u in units] + tree)

    def elaborate(self, platform):
        m = Module()
        b = self.build
        dataflow = b.arch != "rowserial"
        link = self.make_link()
        m.submodules.link = with_por(m, self.por, "link", link)
        # the network's reset request: the link's, and the board's power-on reset
        net_clear, net_rst = link.net_clear, link.net_rst
        if self.por is not None:
            net_clear, net_rst = net_clear | self.por, net_rst | self.por

        if dataflow:
            # the trees' first level (one register each, which the placer puts between the link and
            # the network): the network's units register their own copies from it, so no route
            # goes from the link to a far unit in one cycle (a register-to-register route of 12.7
            # ns from the link's width to a far layer's copy was the x2-base ECP5 critical path,
            # docs/boards.md row 83). Second level: a copy per region (here the accelerator's own
            # units; the network's and each layer's take theirs), so the first level drives ~20
            # copies instead of one per unit (row 117). The link clears its side of the network in
            # the cycle of the units' copies (reset_latency = TREE_LEVELS); the geometry follows
            # a cycle after the first level as before.
            net_clear = reset_copy(m, net_clear, "tree")
            acc_clear = region_copy(m, net_clear, "acc")
            net_w, net_h = geometry_copy(m, link.width, link.height, "tree")
        else:
            acc_clear = None                             # (row-serial: net_rst, below)
            net_w, net_h = link.width, link.height

        def with_net(name, unit):
            """`unit` reset with the network, in the cycle of link.net_rst: the row-serial network
            (the UP5K's, every flip-flop counts) from net_rst itself; the dataflow one through the
            reset tree (hw/reset_tree.py), a registered copy of the accelerator's region copy."""
            if b.arch == "rowserial":
                return ResetInserter(net_rst)(unit)
            return cleared(m, acc_clear, name, unit)
        net = make_network(self.prog, b, self.fold)
        if b.arch == "rowserial":
            m.submodules.net = net = with_net("net", net)
        else:
            m.submodules.net = net                       # (its units take their own copies)
            m.d.comb += net.clear.eq(net_clear)
        if self.identity.param_words:
            if b.arch == "rowserial":
                m.d.comb += net.i_param.eq(link.net_i_param)
            else:
                wiring.connect(m, link.load, net.load)
        wiring.connect(m, wiring.flipped(self.rx), link.rx)
        wiring.connect(m, link.tx, wiring.flipped(self.tx))
        if self.input_fifo_depth:
            q = StreamFIFO(link.net_i.payload.shape(), self.input_fifo_depth)
            m.submodules.inq = q = with_net("inq", q)
            # (dataflow) a SkidBuffer, cleared with the network, between the link and the FIFO: the
            # link's drain address (take -> count + 1 -> block RAM address) waited on the FIFO's
            # level compare through its ready (the ECP5 critical path of x2-base row 90, 15.3 ns)
            pipe(m, "cut_q", link.net_i, q.i, enabled=dataflow, clear=acc_clear)
            # (dataflow) a SkidBuffer, cleared with the network, cuts the FIFO's read enable (a block
            # RAM clock enable) from the pixel window generator's step logic behind the fork
            # (the ring variant: nothing but registers behind the FIFO's block RAM)
            pipe(m, "cut_in", q.o, net.i, enabled=dataflow, clear=acc_clear, out_select=True)
        else:
            wiring.connect(m, link.net_i, net.i)
        # (dataflow) a SkidBuffer, cleared with the network, cuts the link's crop-filter / FIFO
        # ready from the network's pipeline enables (ECP5 critical path of the small network after
        # the other cuts); the row-serial tail's registered output goes straight into the link (the
        # UP5K at 48 MHz; 50 FF less)
        pipe(m, "cut_out", net.o, link.net_o, enabled=dataflow, clear=acc_clear)
        m.d.comb += [net.width.eq(net_w), net.height.eq(net_h),
                     self.busy.eq(link.stripe_active), self.error.eq(link.error_event)]
        if b.arch == "rowserial":
            # (the network's output comes byte by byte, straight into the link, which counts the
            # colours: a pixel leaves with its last byte)
            m.d.comb += self.out_fire.eq(link.net_o_pixel)
        else:
            m.d.comb += self.out_fire.eq(net.o.valid & net.o.ready)
        return m


class Accelerator(wiring.Component):
    """AcceleratorCore behind an 8N1 UART at `build.baud` (`por`: the module docstring)."""

    def __init__(self, prog: Program, build: BuildConfig | None = None, fold: FoldConfig | None = None,
                 por=None):
        self.por = por
        self.core = AcceleratorCore(prog, build, fold, por)
        self.build = self.core.build
        self.divisor = round(self.build.clock_hz / self.build.baud)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1), "error": Out(1),
                          "activity": Out(1)})

    def resource_estimate(self) -> dict:
        units = [throwaway(UartRx(self.divisor)), throwaway(UartTx(self.divisor))]
        return total([self.core.resource_estimate()] + [u.resource_estimate() for u in units])

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        urx, utx = UartRx(self.divisor), UartTx(self.divisor)
        m.submodules.urx = with_por(m, self.por, "urx", urx)
        m.submodules.utx = with_por(m, self.por, "utx", utx)
        wiring.connect(m, urx.o, core.rx)
        # (the link's transmitted byte and its valid are registers: LinkCore with serial_crc)
        wiring.connect(m, core.tx, utx.i)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.busy.eq(core.busy), self.error.eq(core.error),
                     self.activity.eq(~self.rx | ~utx.tx)]
        return m
