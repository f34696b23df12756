"""HeadRowEngine: the row-serial accelerator's head job, head(y): pixel rows y-1..y+1 from RAM ->
hw.head.HeadConv -> the features of row y to RAM and their bits (first binary layer's thresholds)
to the bits.0 ring.

Signature
  job:  In(stream of job_layout(...))  accepted when idle; the payload must stay stable until
                                       `done` (the engine reads it, without a copy)
  done: Out(1)                         one-cycle pulse after the row's last write
  ram:  Out(memmap.RamPort)            pixel reads and feature writes (one access per cycle)
  dst:  Out(memmap.BitsWrite)          bits.0 ring: one bit per feature (bit c of the pixel's word)

RAM layouts (hw/rowserial/memmap.py): pixel x, colour k of a pixel row at base b is the low byte
of word b + x*colors + k; feature x, channel c of the output row at base o is word o + x*C + c.

Structure
  reader  the 3x3 window (columns x-1, x, x+1 of the three rows) in a block RAM of three column
          slots (column c in slot c mod 3; its 3*colors bytes, row-major, two per 16-bit word);
          per pixel it reads the new column from RAM (3*colors words) into the free slot and
          offers the window (only its tap mask: taps outside the image) to HeadConv, which reads
          the slots itself (HeadConv window_port, two bytes per step), macs = 2; with other macs
          the window is a register (columns shifted left on each transfer) in the payload.
  HeadConv(prog.head, macs)  C*(3*ceil(3*colors/2) + 1) cycles per pixel (a pad step per channel
          clears the lanes' DSP accumulators; C*ceil(9*colors/macs) with the window register)
  writer  features to RAM (sequential addresses) and, as each goes by, its bit of the first
          binary layer (x >= T[c], sw.golden.threshold) into bit c of the pixel's bits.0 word
  The writer has the RAM port whenever it has a feature; the reader reads in the other cycles.
Cycle model: cycles_per_job(W) = F + W*(C*steps + F) + latency + 2 with F = 3*colors +
memmap.READ_LATENCY + 1: a column is fetched after HeadConv takes the window (the slot it
overwrites is column x-1's), so the fetch is not hidden (2.3 % for x2-tiny: 512 + 12 cycles per
pixel); a write that delays a read adds a cycle.
Golden twin: sw.golden.head + sw.golden.threshold on the rows (hw.rowserial.schedule.run).
"""
from __future__ import annotations

import math

from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw.program import Program

from .. import layouts
from ..estimate import throwaway, total
from ..head import HeadConv, lt_const, select
from . import memmap
from .schedule import HEAD_MACS


def job_layout(ram_aw: int, bits_aw: int, width_bits: int) -> data.StructLayout:
    return data.StructLayout({
        "width": unsigned(width_bits),
        "top": 1,                                       # pixel row y-1 exists
        "bot": 1,                                       # pixel row y+1 exists
        "pix": data.ArrayLayout(unsigned(ram_aw), 3),   # pixel rows y-1, y, y+1 (pixel 0, colour 0)
        "out": unsigned(ram_aw),                        # feature row y (pixel 0, channel 0)
        "dst": unsigned(bits_aw),                       # bits.0 row y (pixel 0)
        "dst_en": 1,
    })


class HeadRowEngine(wiring.Component):
    def __init__(self, prog: Program, max_width: int, ram_aw: int = 16, bits_aw: int = 10,
                 macs: int = HEAD_MACS, ext_lrelu: bool = False):
        """ext_lrelu: HeadConv's LeakyReLU product comes from outside (lrelu_y / lrelu_p, see
        hw/head.HeadConv; the row-serial core connects the binary engine's multiplier)."""
        self.prog, self.fmt = prog, prog.fmt
        self.ext_lrelu = ext_lrelu and prog.head.act == "lrelu"
        self.C, self.colors = prog.config.channels, prog.config.colors
        self.max_width, self.ram_aw, self.bits_aw, self.macs = max_width, ram_aw, bits_aw, macs
        self.layout = job_layout(ram_aw, bits_aw, memmap.addr_bits(max_width + 1))
        members = {
            "job": In(stream.Signature(self.layout)),
            "done": Out(1),
            "ram": Out(memmap.RamPort(ram_aw)),
            "dst": Out(memmap.BitsWrite(bits_aw, self.C)),
        }
        if self.ext_lrelu:
            conv = self._conv()
            throwaway(conv)
            members.update({"lrelu_y": Out(conv.lrelu_y.shape()), "lrelu_p": In(conv.lrelu_p.shape())})
        super().__init__(members)

    @property
    def window_port(self) -> bool:
        """The window in a block RAM read by HeadConv (two bytes per step), not in registers."""
        return self.macs == 2

    def _conv(self) -> HeadConv:
        """HeadConv with the serial requantiser (no DSP block) where a channel's cycles cover it
        (RGB: 15 cycles per channel at 2 MACs), else the DSP one."""
        serial = HeadConv.serial_fits(self.prog.head, self.colors, self.macs, self.window_port)
        return HeadConv(self.prog.head, self.fmt, self.colors, self.macs, serial_req=serial,
                        window_port=self.window_port, mac_dsp=True, ext_lrelu=self.ext_lrelu)

    def cycles_per_job(self, width: int) -> int:
        conv = self._conv()
        throwaway(conv)
        fetch = 3 * self.colors + memmap.READ_LATENCY + 1   # reads, the last word's latency, the step to OFFER
        # a pixel's last feature write lands in the next pixel's fetch (counted in `fetch`); with a
        # latency over `steps` (the serial requantiser), (latency - 1) // steps more writes do
        extra = (conv.latency - 1) // conv.steps
        # the last write and the done pulse: 2 cycles
        return fetch + width * (conv.cycles_per_pixel() + fetch) + (width - 1) * extra + conv.latency + 2

    def resource_estimate(self) -> dict:
        """HeadConv and the inline threshold, plus the 3x3 window register, counters and pointers."""
        parts = [self._conv()]
        throwaway(*parts)
        est = total([u.resource_estimate() for u in parts])
        if self.prog.binary_layers:     # threshold constants (LUTs), compare, bit-enable decoder, channel
            tw = self.fmt.bits + 1
            est["lut"] += 2 * tw + tw + self.C + 8
            est["ff"] += max(1, (self.C - 1).bit_length())
        if self.window_port:            # the window RAM (one EBR), its slot counters and address table
            est["ff"] += self.ram_aw + self.bits_aw + 48 + self.layout.size
            est["lut"] += 2 * self.ram_aw + 80
            est["bram_bits"] += 16 * 3 * math.ceil(3 * self.colors / 2)
        else:
            est["ff"] += 9 * 8 * self.colors + self.ram_aw + self.bits_aw + 40 + self.layout.size
            est["lut"] += 3 * 8 * self.colors + 2 * self.ram_aw + 60
        return est

    def elaborate(self, platform):
        m = Module()
        C, colors, fmt = self.C, self.colors, self.fmt
        E = 8 * colors                       # bits per pixel (one window column entry)
        NF = 3 * colors                      # words per column fetch
        layers = self.prog.binary_layers
        m.submodules.conv = conv = self._conv()
        if self.ext_lrelu:
            m.d.comb += [self.lrelu_y.eq(conv.lrelu_y), conv.lrelu_p.eq(self.lrelu_p)]
        job = self.job.payload              # held by the sequencer until `done` (not copied)
        busy = Signal()
        m.d.comb += self.job.ready.eq(~busy)
        m.d.sync += self.done.eq(0)

        # ---------------- writers
        out_ptr = Signal(self.ram_aw)
        dst_ptr = Signal(self.bits_aw)
        words = Signal(range(self.max_width + 1))  # pixels whose C features are written
        tch = Signal(range(C))                     # channel of the next feature
        feat = conv.o                       # features on their way to RAM (taken at once)
        writing = Signal()
        m.d.comb += [feat.ready.eq(1), writing.eq(feat.valid)]
        with m.If(feat.valid):
            m.d.comb += [self.ram.addr.eq(out_ptr), self.ram.we.eq(1), self.ram.wdata.eq(feat.payload)]
            m.d.sync += [out_ptr.eq(out_ptr + 1), tch.eq(Mux(tch == C - 1, 0, tch + 1))]
            with m.If(tch == C - 1):
                m.d.sync += words.eq(words + 1)
        if layers:
            # the first binary layer's bits as the features go by: channel tch's bit x >= T[tch]
            # into bit tch of the pixel's word (the bits memory writes single bits, as the binary
            # engine does), the word pointer advancing after channel C - 1
            thresh = [Const(int(t), layouts.threshold_value(fmt)) for t in layers[0].thresh]
            with m.If(feat.valid):
                m.d.comb += [self.dst.addr.eq(dst_ptr), self.dst.bit.eq(tch),
                             self.dst.data.eq(feat.payload >= select(tch, thresh)), self.dst.en.eq(job.dst_en)]
                with m.If(tch == C - 1):
                    m.d.sync += dst_ptr.eq(dst_ptr + 1)

        # ---------------- reader
        port = self.window_port
        if port:
            # the window RAM: column slot q at words [q*CW, (q+1)*CW); byte b of a column at word
            # b // 2, byte b % 2 (HeadConv window_port)
            CW = conv.col_words
            m.submodules.win = wmem = memory.Memory(shape=16, depth=3 * CW, init=[], attrs={"ram_style": "block"})
            wwr, wrd = wmem.write_port(granularity=8), wmem.read_port(domain="sync")
            fslot = Signal(range(3))                # slot of the column being fetched
            wslot = Signal(range(3))                # slot of column x - 1 (the window's kx = 0)
            cap_b = Signal(range(NF))               # byte of the column arriving with `cap`
            # the physical word of HeadConv's step s (column kx, word w: HeadConv.window_word): slot
            # (wslot + kx) mod 3, word w
            phys = Array(Array(Const(((q + conv.window_word(s)[0]) % 3) * CW + conv.window_word(s)[1], range(3 * CW))
                               for s in range(conv.steps)) for q in range(3))
            m.d.comb += [wrd.addr.eq(phys[wslot][conv.win_step]), wrd.en.eq(conv.win_en),
                         conv.win_data.eq(wrd.data)]
        else:
            cols = [Signal(3 * E, name=f"col{k}") for k in range(3)]     # kx = 0, 1, 2; row ky at [ky*E, (ky+1)*E)
        x = Signal(range(self.max_width + 1))       # the pixel of the window being built / offered
        rk = Signal(range(NF + 1))                  # reads issued for the current column
        rky = Signal(range(3))
        rcol = Signal(range(max(colors, 2)))
        fcw = Signal(range((self.max_width + 2) * colors))  # fc * colors, fc: the column being fetched
        roff = Signal.like(fcw)
        cap = Signal()
        FETCH, OFFER, WAIT = 0, 1, 2
        state = Signal(range(3))

        with m.If(self.job.valid & ~busy):
            p = self.job.payload
            m.d.sync += [busy.eq(1), state.eq(FETCH), x.eq(0), rk.eq(0), fcw.eq(0), roff.eq(0),
                         rky.eq(0), rcol.eq(0),
                         out_ptr.eq(p.out), dst_ptr.eq(p.dst), words.eq(0)]
            if layers:
                m.d.sync += tch.eq(0)
            if port:
                m.d.sync += [fslot.eq(0), wslot.eq(2)]

        # cap delayed: caps[-1] is high when the word of a read is on rdata (memmap.READ_LATENCY)
        caps = [c for c, in memmap.delay_line(m, [cap], memmap.READ_LATENCY)]
        m.d.sync += cap.eq(0)
        landing = caps[-1]
        reading = Cat(*caps).any()                  # a read's word still to come
        # read k of the column is pixel row rky = k // colors, colour rcol = k % colors: word
        # pix[rky] + roff with roff = fc*colors + rcol kept as a counter (fcw = fc*colors), so no
        # multiplier or second adder lies before the RAM port
        with m.If(busy & (state == FETCH) & lt_const(rk, NF) & ~writing):
            m.d.comb += self.ram.addr.eq(job.pix[rky] + roff)
            m.d.sync += [rk.eq(rk + 1), cap.eq(1)]
            with m.If(rcol == colors - 1):
                m.d.sync += [rcol.eq(0), rky.eq(Mux(rky == 2, 0, rky + 1)), roff.eq(fcw)]
            with m.Else():
                m.d.sync += [rcol.eq(rcol + 1), roff.eq(roff + 1)]
            if port:
                m.d.sync += cap_b.eq(rk)
        # word k of the column fetch is row k // colors, colour k % colors: byte k of the column
        if port:
            b_l, = memmap.delay_line(m, [cap_b], memmap.READ_LATENCY)[-1]     # cap_b delayed as cap is
            m.d.comb += [wwr.addr.eq(fslot * CW + (b_l >> 1)), wwr.data.eq(Cat(self.ram.rdata[:8], self.ram.rdata[:8])),
                         wwr.en.eq(Mux(landing, Mux(b_l[0], 0b10, 0b01), 0))]
            shift = [wslot.eq(Mux(wslot == 2, 0, wslot + 1))]
        else:
            with m.If(landing):
                # the words come in order k = 0 .. NF-1 and shift in from the top, so after NF of
                # them byte k sits at [8k, 8k+8): no per-byte write select
                m.d.sync += cols[2].eq(Cat(cols[2][8:], self.ram.rdata[:8]))
            shift = [cols[0].eq(cols[1]), cols[1].eq(cols[2])]
        with m.If(busy & (state == FETCH) & (rk == NF) & ~reading):
            # column fcw / colors has landed in cols[2]; column 0 moves on to make room for column 1
            m.d.sync += [rk.eq(0), fcw.eq(fcw + colors), roff.eq(fcw + colors)]
            if port:
                m.d.sync += fslot.eq(Mux(fslot == 2, 0, fslot + 1))
            with m.If(fcw == 0):
                if not port:
                    m.d.sync += shift
            with m.Else():
                m.d.sync += state.eq(OFFER)
        # the window: tap t = 3*ky + kx, colour k at [8k, 8k+8) of the tap; the shifted columns
        # are (x-1, x, x+1) once the second fetch of a pixel has landed
        win = conv.i.payload
        taps = []
        if not port:
            for ky in range(3):
                for kx in range(3):
                    taps.append(cols[kx][ky * E:(ky + 1) * E])
        row_ok = [job.top, Const(1), job.bot]
        # x == 0 and x + 1 == width as flags one cycle behind x (x moves at a transfer and is next
        # offered after a column fetch)
        xfirst, xlast = Signal(), Signal()
        m.d.sync += [xfirst.eq(x == 0), xlast.eq(x + 1 == job.width)]
        col_ok = [~xfirst, Const(1), ~xlast]
        # in OFFER (cols0, cols1, cols2) hold columns (x-1, x, x+1)
        if taps:
            m.d.comb += win.bits.eq(Cat(*taps))
        m.d.comb += win.mask.eq(Cat(*[row_ok[t // 3] & col_ok[t % 3] for t in range(9)]))
        m.d.comb += conv.i.valid.eq(busy & (state == OFFER))
        with m.If(conv.i.valid & conv.i.ready):
            with m.If(xlast):
                m.d.sync += state.eq(WAIT)
            with m.Else():
                m.d.sync += [x.eq(x + 1), state.eq(FETCH)] + shift
        with m.If(busy & (state == WAIT) & (words == job.width)):
            m.d.sync += [busy.eq(0), self.done.eq(1)]
        return m
