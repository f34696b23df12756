"""TailRowEngine: the row-serial accelerator's tail job, tail(h): feature rows h-1..h+1 and the skip's
pixel rows from RAM -> hw.tail.TailConv -> one output pixel row on the `o` stream (to the link).

Signature
  job:  In(stream of job_layout(...))  accepted when idle; the payload must stay stable until
                                       `done` (the engine reads it, without a copy)
  done: Out(1)                         one-cycle pulse after the row's last pixel transfer
  ram:  Out(memmap.RamPort)            feature and pixel reads (one per cycle)
  o:    Out(stream of bytes)                   the output row's pixels, left to right, byte by byte
                                               (colour 0 first: TailConv byte_out)

Job: `width` output pixels (the HR width for SR); feature rows at feat[0..2] (rows h-1, h, h+1;
top/bot say whether h-1 / h+1 exist); the skip's pixel rows at pix[0..1]:
  SR (bilinear, r > 1): the LR rows clamp(y + off) and clamp(y + off + 1) of the vertical phase
        `phase` = h mod r (golden.bilinear_weights_1d), the LR row `lr_width` pixels wide;
  identity: the pixel row h at pix[0].

Structure
  feature reader  9*C values per pixel, tap outer and channel inner (TailConv's order): a RAM read
                  per value inside the image, a zero without a read outside it; reads go through
                  a FIFO of READ_LATENCY + 1 words (lib.fifo; a read is issued only while the
                  words held and in flight, less the one TailConv takes, leave a slot), so
                  TailConv's back-pressure never loses a word.
  skip reader     per pixel, the bilinear sum over 2 x 2 LR pixels (weights wv[phase][a] *
                  wh[column phase][b], the golden model's, as one constant per term) per colour,
                  or p << 16 (identity): 4*colors (1*colors) reads; it has the RAM port first.
  TailConv        one MAC per colour, 9*C cycles per pixel; its output is `o`.
Cycle model: width * (9*C + skip reads) + TailConv latency (cycles_per_job; the skip reads
of a pixel stall the feature reader, ~4 % for x2-tiny); with TailConv's serial requantiser (the
UP5K) its pixel period 9*C + colors * req_latency + 1 covers the skip reads instead, but for
the reads that do not fit in the last req_latency cycles and the FIFO (2 cycles per pixel for
x2-tiny).
Golden twin: golden.tail_conv / tail_skip / tail_output on the rows (hw.rowserial.schedule.run).
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats
from sw.golden import bilinear_weights_1d
from sw.program import Program

from ..estimate import throwaway
from ..head import const_mul, lt_const, select
from ..tail import SKIP_BITS, TailConv
from . import memmap


def job_layout(ram_aw: int, width_bits: int, r: int) -> data.StructLayout:
    return data.StructLayout({
        "width": unsigned(width_bits),
        "lr_width": unsigned(width_bits),
        "top": 1,
        "bot": 1,
        "feat": data.ArrayLayout(unsigned(ram_aw), 3),
        "pix": data.ArrayLayout(unsigned(ram_aw), 2),
        "phase": unsigned(max(1, (r - 1).bit_length())),
    })


#: most distinct odd weights for which skip_product selects among constant products
SKIP_MUL_ODD = 4


def skip_product(p, table: list[int], idx):
    """p * table[idx] for a table of constants: the table's odd parts (after the trailing zeros they
    all share) are few for the bilinear weights of x2 (1, 3, 9) and x3, so the product is a select
    over shift-and-add products of p; with more than SKIP_MUL_ODD of them, one multiplier."""
    tz = min((v & -v).bit_length() - 1 for v in table if v) if any(table) else 0
    odd = sorted({v >> tz for v in table})
    if len(odd) > SKIP_MUL_ODD:
        return select(idx, [Const(v, max(table).bit_length()) for v in table]) * p
    code = select(idx, [Const(odd.index(v >> tz), range(len(odd))) for v in table])
    return select(code, [const_mul(p, u) for u in odd]) << tz


class TailRowEngine(wiring.Component):
    FIFO_DEPTH = memmap.READ_LATENCY + 1

    def __init__(self, prog: Program, max_width: int, ram_aw: int = 16, serial_req: bool | None = None,
                 ext_act: bool = False):
        """serial_req: TailConv's requantiser without DSP blocks (hw/mul.serial_mul), leaving the
        DSP blocks to the MACs (one per colour). None (default): wherever a pixel's cycles cover it
        (TailConv.serial_fits): the requantiser runs `colors` times per 9*C-cycle pixel and would
        take five of the UP5K's 8 SB_MAC16 (an 18 x 32-bit product), while the MACs run every
        cycle and as LUT multipliers cost ~300 LUT4 each (docs/boards.md row 31)."""
        if serial_req is None:
            serial_req = TailConv.serial_fits(prog.tail, prog.config.channels, prog.config.colors)
        self.serial_req = serial_req
        # ext_act: TailConv's LeakyReLU product from outside (lrelu_x / lrelu_p, hw/tail.TailConv)
        self.ext_act = ext_act and prog.tail.in_act == "lrelu"
        self.prog, self.fmt = prog, prog.fmt
        self.C, self.colors = prog.config.channels, prog.config.colors
        self.bilinear = prog.tail.skip == "bilinear"
        self.r = int(prog.tail.r) if self.bilinear else 1
        self.max_width = max_width * self.r
        self.ram_aw = ram_aw
        self.layout = job_layout(ram_aw, memmap.addr_bits(self.max_width + 1), self.r)
        # per term (a, b) of the skip and phases (i, j): the golden model's weight wv * wh
        if self.bilinear:
            wts = bilinear_weights_1d(self.r)
            self.col_off = [off for off, _, _ in wts]
            self.weights = [[[wts[i][1 + a] * wts[j][1 + b] for a in range(2) for b in range(2)]
                             for j in range(self.r)] for i in range(self.r)]
            self.terms = 4
        else:
            self.col_off, self.weights, self.terms = [0], [[[1 << formats.BILINEAR_FRAC]]], 1
        members = {
            "job": In(stream.Signature(self.layout)),
            "done": Out(1),
            "ram": Out(memmap.RamPort(ram_aw)),
            "o": Out(stream.Signature(unsigned(8))),
        }
        if self.ext_act:
            conv = self._conv()
            throwaway(conv)
            members.update({"lrelu_x": Out(conv.lrelu_x.shape()), "lrelu_p": In(conv.lrelu_p.shape())})
        super().__init__(members)

    def _conv(self) -> TailConv:
        return TailConv(self.prog.tail, self.fmt, self.C, self.colors, serial_req=self.serial_req, act_dsp=True,
                        byte_out=True, ext_act=self.ext_act)

    def skip_reads(self) -> int:
        return self.terms * self.colors

    def cycles_per_job(self, width: int) -> int:
        conv = self._conv()
        throwaway(conv)
        if self.serial_req:
            # the first pixel's skip reads, then one TailConv pixel period per pixel (9*C and the
            # requantiser's stall of colors * req_latency + 1 cycles, which takes in the next
            # pixel's skip reads: they start when the last colour takes this pixel's skip word,
            # req_latency cycles before the stall ends, and what they need beyond that, less
            # what the FIFO holds, delays the next pixel's values); a read's word arrives
            # READ_LATENCY cycles after it (FIFO_DEPTH = READ_LATENCY + 1 slots keep the feature
            # reads going one per cycle; nothing covers the skip word's latency)
            rl = memmap.READ_LATENCY
            assert conv.cycles_per_pixel() >= conv.n + self.skip_reads()
            late = max(0, self.skip_reads() + rl - conv.req_latency - self.FIFO_DEPTH + 1)
            return ((width - 1) * (conv.cycles_per_pixel() + late) + conv.n + self.skip_reads() + conv.latency
                    + 3 + rl)
        return width * (conv.n + self.skip_reads()) + conv.latency + 3 + memmap.READ_LATENCY

    def resource_estimate(self) -> dict:
        """TailConv, plus the feature FIFO, the skip accumulators and its multiplier, counters."""
        conv = self._conv()
        throwaway(conv)
        est = dict(conv.resource_estimate())
        est["ff"] += self.colors * SKIP_BITS + self.FIFO_DEPTH * (self.fmt.bits + 1) + self.layout.size + 80
        est["lut"] += self.colors * SKIP_BITS + 17 * 8 + 3 * self.ram_aw + 80
        return est

    def elaborate(self, platform):
        m = Module()
        C, colors, fmt, r = self.C, self.colors, self.fmt, self.r
        m.submodules.conv = conv = self._conv()
        if self.ext_act:
            m.d.comb += [self.lrelu_x.eq(conv.lrelu_x), conv.lrelu_p.eq(self.lrelu_p)]
        job = self.job.payload              # held by the sequencer until `done` (not copied)
        busy = Signal()
        m.d.comb += self.job.ready.eq(~busy)
        m.d.sync += self.done.eq(0)
        wiring.connect(m, conv.o, wiring.flipped(self.o))
        outs = Signal(range(self.max_width + 1))

        # ---------------- skip reader (has the RAM port first)
        sx = Signal(range(self.max_width + 1))      # output pixel whose skip is being formed
        # its column phase (bilinear): sx % r
        sj = Signal(range(max(r, 2)))
        m.d.comb += sj.eq(sx % r)
        sk = Signal(range(self.skip_reads() + 1))   # reads issued for it
        acc = [Signal(SKIP_BITS, name=f"skip{k}") for k in range(colors)]
        held = Signal()                             # skip word complete, offered to TailConv
        cap, cap_term, cap_col = Signal(), Signal(range(max(self.terms, 2))), Signal(range(max(colors, 2)))
        term = Signal(range(max(self.terms, 2)))
        col = Signal(range(max(colors, 2)))
        m.d.comb += [term.eq(sk // colors), col.eq(sk % colors)]
        skip_reading = Signal()
        # sx < width as a flag set with sx (the pixel counters' compares end at flip-flops)
        sx_more = Signal()
        m.d.comb += skip_reading.eq(busy & sx_more & ~held & lt_const(sk, self.skip_reads()))
        # the read's word offset in its pixel row, soff (a counter: no multiplier or second adder
        # before the RAM port): column * colors + colour of the current term
        if self.bilinear:
            # LR columns of the 2 x 2 terms: base = lx + off_j (off_j = -1 for the first phases),
            # clamped to the row, times colors: registers (scw) loaded with the next pixel's as sx
            # moves on (and with pixel 0's while idle: the job's lr_width is there in the cycle
            # it is taken); soff starts each term from them
            n_neg = sum(o < 0 for o in self.col_off)
            base = Signal(range(-1, self.max_width + 1))
            m.d.comb += base.eq((sx + 1) // r - ((sx + 1) % r < n_neg))
            base0 = -int(0 < n_neg)                  # pixel 0's base

            def clampc(v):
                return Mux(v < 0, 0, Mux(v >= job.lr_width, job.lr_width - 1, v))

            def cw(v):
                return const_mul(clampc(v), colors)
            scw = [Signal(range(colors * (self.max_width // r) + 1), name=f"scw{b}") for b in range(2)]
            soff = Signal.like(scw[0])
            first = [cw(Const(base0 + b, signed(2))) for b in range(2)]     # pixel 0's
            nxt = [cw(base + b) for b in range(2)]                           # pixel sx + 1's
            with m.If(~busy):
                m.d.sync += [scw[0].eq(first[0]), scw[1].eq(first[1]), soff.eq(first[0])]
            with m.Elif(conv.skip.valid & conv.skip.ready):
                m.d.sync += [scw[0].eq(nxt[0]), scw[1].eq(nxt[1]), soff.eq(nxt[0])]
            with m.Elif(skip_reading):
                # terms (a, b) in the order (0, 0), (0, 1), (1, 0), (1, 1): the next term's b is ~b
                with m.If(col == colors - 1):
                    m.d.sync += soff.eq(Mux(term[0], scw[0], scw[1]))
                with m.Else():
                    m.d.sync += soff.eq(soff + 1)
            prow = Mux(term[1], job.pix[1], job.pix[0])
        else:
            # identity: pixel sx's colours, pixel after pixel: consecutive words
            soff = Signal(range(colors * self.max_width + 1))
            with m.If(~busy):
                m.d.sync += soff.eq(0)
            with m.Elif(skip_reading):
                m.d.sync += soff.eq(soff + 1)
            prow = job.pix[0]
        cap_j = Signal.like(sj)
        with m.If(skip_reading):
            m.d.comb += self.ram.addr.eq(prow + soff)
            m.d.sync += [sk.eq(sk + 1), cap.eq(1), cap_term.eq(term), cap_col.eq(col), cap_j.eq(sj)]
        with m.Else():
            m.d.sync += cap.eq(0)
        # the read's word is on rdata READ_LATENCY - 1 cycles after cap (memmap) and goes through a
        # register (sdata) before its product and sum (no RAM output select before them): cap and
        # its term, colour and phase delayed to then (cap_l ...); skip_landing: a word still to come
        sdata = Signal(8)
        m.d.sync += sdata.eq(self.ram.rdata[:8])
        caps = memmap.delay_line(m, [cap, cap_term, cap_col, cap_j], memmap.READ_LATENCY + 1)
        cap_l, cap_term_l, cap_col_l, cap_j_l = caps[-1]
        skip_landing = Cat(*[c[0] for c in caps]).any()
        # the term's weight: the golden wv[phase][a] * wh[j][b], from a constant table
        table = [self.weights[i][j][t] for i in range(len(self.weights)) for j in range(len(self.weights[0]))
                 for t in range(self.terms)]
        widx = Signal(range(len(table)))
        m.d.comb += widx.eq((job.phase * len(self.weights[0]) + cap_j_l) * self.terms + cap_term_l)
        prod = Signal(range(max(table) * 255 + 1))
        m.d.comb += prod.eq(skip_product(sdata, table, widx))
        with m.If(cap_l):
            for k in range(colors):
                with m.If(cap_col_l == k):
                    m.d.sync += acc[k].eq(Mux(cap_term_l == 0, prod, acc[k] + prod))
        with m.If(busy & sx_more & ~held & (sk == self.skip_reads()) & ~skip_landing):
            m.d.sync += held.eq(1)
        m.d.comb += [conv.skip.valid.eq(held), conv.skip.payload.eq(Cat(*acc))]
        with m.If(conv.skip.valid & conv.skip.ready):
            m.d.sync += [held.eq(0), sk.eq(0), sx.eq(sx + 1), sx_more.eq(sx + 1 < job.width)]

        # ---------------- feature reader (through a FIFO)
        m.submodules.q = q = fifo.SyncFIFO(width=fmt.bits + 1, depth=self.FIFO_DEPTH)
        fx = Signal(range(self.max_width + 1))      # output pixel of the value being read
        fc = Signal(range(C))
        fkx, fky = Signal(range(3)), Signal(range(3))
        inflight, inf_zero, inf_last = Signal(), Signal(), Signal()
        flights = memmap.delay_line(m, [inflight, inf_zero, inf_last], memmap.READ_LATENCY)
        land, land_zero, land_last = flights[-1]       # the read's word is on rdata
        # a read lands READ_LATENCY cycles after its issue (memmap): issue while the words held and
        # in flight, less the one TailConv takes now, leave a slot (READ_LATENCY + 1 slots keep one
        # value per cycle going); the words held and in flight (q.level + the flights) counted in
        # `pend`, so no adder lies between TailConv's ready and the RAM request
        issue, take = Signal(), Signal()
        pend = Signal(range(self.FIFO_DEPTH + 1))
        m.d.comb += take.eq(q.r_rdy & conv.i.ready)
        m.d.sync += pend.eq(pend + issue - take)
        space = Signal()
        m.d.comb += space.eq((pend != self.FIFO_DEPTH) | take)
        # fx < width, fx == 0 and fx + 1 < width as flags set with fx
        fx_more, fx_first, fx_nl = Signal(), Signal(), Signal()
        m.d.comb += issue.eq(busy & fx_more & space & ~skip_reading)
        xcol = Signal(range(-1, self.max_width + 2))
        m.d.comb += xcol.eq(fx + fkx - 1)
        row_ok = Mux(fky == 0, job.top, Mux(fky == 1, 1, job.bot))
        col_ok = Mux(fkx == 0, ~fx_first, Mux(fkx == 1, 1, fx_nl))
        inside = Signal()
        m.d.comb += inside.eq(row_ok & col_ok)
        m.d.sync += inflight.eq(issue)
        with m.If(issue):
            with m.If(inside):
                m.d.comb += self.ram.addr.eq(job.feat[fky] + memmap.feature_offset(xcol, fc, C))
            # (the pixel's last value: tap (2, 2), channel C - 1)
            m.d.sync += [inf_zero.eq(~inside), inf_last.eq((fky == 2) & (fkx == 2) & (fc == C - 1))]
            with m.If(fc == C - 1):
                m.d.sync += fc.eq(0)
                with m.If(fkx == 2):
                    m.d.sync += fkx.eq(0)
                    with m.If(fky == 2):
                        m.d.sync += [fky.eq(0), fx.eq(fx + 1), fx_more.eq(fx_nl), fx_first.eq(0),
                                     fx_nl.eq(fx + 2 < job.width)]
                    with m.Else():
                        m.d.sync += fky.eq(fky + 1)
                with m.Else():
                    m.d.sync += fkx.eq(fkx + 1)
            with m.Else():
                m.d.sync += fc.eq(fc + 1)
        m.d.comb += [q.w_en.eq(land),
                     q.w_data.eq(Cat(Mux(land_zero, 0, self.ram.rdata[:fmt.bits]), land_last))]
        m.d.comb += [conv.i.valid.eq(q.r_rdy), conv.i.payload.value.eq(q.r_data[:fmt.bits]),
                     conv.i.payload.last.eq(q.r_data[fmt.bits]), q.r_en.eq(conv.i.ready)]

        # ---------------- job start / end
        with m.If(~busy):
            # (the job's width is there in the cycle it is taken)
            m.d.sync += [sx_more.eq(job.width != 0), fx_more.eq(job.width != 0), fx_first.eq(1),
                         fx_nl.eq(job.width > 1)]
        with m.If(self.job.valid & ~busy):
            m.d.sync += [busy.eq(1), sx.eq(0), sk.eq(0),
                         held.eq(0), fx.eq(0), fc.eq(0), fkx.eq(0), fky.eq(0), outs.eq(0)]
        oc = Signal(range(max(colors, 2)))           # colour of the next output byte
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += oc.eq(Mux(oc == colors - 1, 0, oc + 1))
            with m.If(oc == colors - 1):
                m.d.sync += outs.eq(outs + 1)
        with m.If(busy & (outs == job.width)):
            m.d.sync += [busy.eq(0), self.done.eq(1)]
        return m
