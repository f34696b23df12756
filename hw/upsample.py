"""NearestUpsample: the nearest-neighbour up-sampled residual of BBCU-U, as a stream reorder.

Stream signature
  i: In(stream of signed FW bits)    LR raster order, C features per pixel, channel-serial
  o: Out(stream of signed FW bits)   HR raster order: for LR row y: for i in 0..r-1: for x in
                                     0..W-1: for j in 0..r-1: for c in 0..C-1: feature (c, y, x)
  width, height: In(unsigned)        LR geometry, stable for the whole frame and from 2 cycles
                                     before its first input. Only width is used (the reorder works
                                     row by row; frames follow each other back to back), height is
                                     part of the uniform interface.
Line buffer: one lib.memory of 2 * max_width * C words = two banks of one LR row each; it
DOUBLE-BUFFERS: the writer fills bank (y+1) % 2 with LR row y+1 while the reader replays row y
(r passes) from bank y % 2, and may even start row y+2 into bank y % 2 once the reader has
finished row y.  The reader may also start replaying a row while it is still being written
(pass 0 reads a word only after the writer has stored it), so the output never waits for a
whole row.  The input is refused (ready low) only while the writer is two rows ahead.
Banks: a line buffer deeper than `bank_depth` words (default 1024, one ECP5 DP16KD) is one memory
per bank, each read into its own register (merged into the block-RAM port), then a register per
bank straight from it that takes the word only when its bank was read (else 0), and the output
register takes the OR of those (hw/feature_window.py's scheme). As one memory, yosys split it
over the block RAMs with a read multiplexer behind their outputs (5.8 ns clock-to-out on the
ECP5): x2-base's up-sampler, 6 DP16KD with two logic levels behind them, docs/boards.md row 100.
Cycle model: the output is the bottleneck (r*r words out per word in): one output word per
cycle, latency 3 (write, synchronous read, output register), 4 with banks:
  cycle_model(width, height) = width * height * C * r * r + latency.
Golden twin: sw.golden.nearest_up (the output is nearest_up(x, r) in raster order, channel-serial).
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sw.formats import FeatureFormat

from . import layouts
from .head import last_flag, next_is_last, period_regs
from .ram_read import bank_select, banks
from .replica import Replicated

ADDR_GROUP = 4                                   # banks per copy of the read / write address


class NearestUpsample(wiring.Component):
    def __init__(self, channels: int, r: int, fmt: FeatureFormat, max_width: int, max_height: int,
                 bank_depth: int = 1024):
        if channels < 1 or r < 1 or max_width < 1 or max_height < 1:
            raise ValueError("channels, r, max_width and max_height must be >= 1")
        if bank_depth < 2 or bank_depth & (bank_depth - 1):
            raise ValueError("bank_depth must be a power of two >= 2")
        self.channels, self.r, self.fmt = channels, r, fmt
        self.max_width, self.max_height = max_width, max_height
        self.row_words = max_width * channels
        self.bank_depth = bank_depth
        self.banks = -(-2 * self.row_words // bank_depth)
        super().__init__({
            "i": In(stream.Signature(layouts.feature(fmt))),
            "o": Out(stream.Signature(layouts.feature(fmt))),
            "width": In(unsigned(max(1, max_width.bit_length()))),
            "height": In(unsigned(max(1, max_height.bit_length()))),
        })

    # ------------------------------------------------------------------ models
    @property
    def latency(self) -> int:
        return 3 + (self.banks > 1)

    def cycle_model(self, width: int, height: int) -> int:
        return width * height * self.channels * self.r * self.r + self.latency

    def resource_estimate(self) -> dict:
        aw = (2 * self.row_words - 1).bit_length()
        cw = (self.channels - 1).bit_length() + (self.r - 1).bit_length()
        xw = (self.max_width - 1).bit_length()
        counters = 2 * cw + 2 * xw + 14                                 # c, j, i, x of reader/writer, flags
        lw = self.row_words.bit_length()                                # words written, lead
        ff = 3 * aw + 2 * lw + counters + self.fmt.bits + 2
        lut = 8 * aw + 4 * lw + counters + 2 * xw + 12                  # incrementers, address muxes, counts
        if self.banks > 1:                                              # bank registers + one-hot + OR tree
            ff += self.banks * (self.fmt.bits + 1) + 1
            lut += self.banks * self.fmt.bits // 2 + 2 * self.banks
        if self.banks > ADDR_GROUP:                                     # the address copies
            ff += 2 * aw * -(-self.banks // ADDR_GROUP)
        return {"lut": lut, "ff": ff, "bram_bits": 2 * self.row_words * self.fmt.bits, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        C, r, rowlen = self.channels, self.r, self.row_words
        depth = 2 * rowlen
        # no_rw_check: the reader never reads the word written in the same cycle (other bank, or
        # raddr < waddr); the read data register is merged into the block-RAM port (hw/ram_read.py)
        NB, BD = self.banks, self.bank_depth
        ob = BD.bit_length() - 1                 # offset bits within a bank
        en = Signal()                            # the output pipeline advances
        wrs, rds, rqs = banks(m, layouts.feature(self.fmt), depth, BD, en)

        # rows the writer is ahead of the reader: 0 (same row), 1, 2 (writer blocked)
        ahead = Signal(range(3))
        # W - 1 registered (the width is stable within a frame and set long before its first
        # pixel): a subtract in front of both row-end compares was an ECP5 path over 8 ns
        wper = period_regs(m, self.width, "w")

        # ---------------------------------------------------------- writer
        waddr = Signal(range(depth))
        waddr_n = Signal.like(waddr)         # its next value (waddr follows it one cycle later)
        wc = Signal(range(max(C, 2)))
        wx = Signal.like(self.width)
        wb = Signal()
        wx_last = Signal()
        wfire = Signal()
        w_row_end = Signal()
        # "wc / rc is the last channel", "rj / ri is the last replay" as registers, set as their
        # counters advance (head.next_is_last): no compare in front of the address selects and the
        # word-available flag (below)
        wc_last, rc_last = Signal(init=int(C == 1), name="wc_last"), Signal(init=int(C == 1), name="rc_last")
        rj_last, ri_last = Signal(init=int(r == 1), name="rj_last"), Signal(init=int(r == 1), name="ri_last")
        m.d.comb += [
            self.i.ready.eq(ahead != 2),
            wfire.eq(self.i.valid & self.i.ready),
            w_row_end.eq(wfire & wc_last & wx_last),
        ]
        with m.If(wfire):
            m.d.sync += wc_last.eq(next_is_last(wc_last, wc, C))
        # "wx is the last column" as a register (set with wx; the compare with W - 1 sat in front
        # of the next-address logic)
        last_flag(m, wx_last, wx, wfire & wc_last, wper)
        # more than ADDR_GROUP banks: their addresses from copies of the address registers, one per
        # ADDR_GROUP banks (loaded with the same next value): one read-address register for x4-base
        # layer 9's 11 banks was a 10.4 ns route to the farthest (docs/boards.md row 140's critical
        # path)
        NAG = -(-NB // ADDR_GROUP) if NB > ADDR_GROUP else 0

        def bank_addr(name, reg, reg_n):
            """bank k's address: `reg`, or with copies copy k // ADDR_GROUP (loaded with reg_n)"""
            if not NAG:
                return lambda k: reg
            copies = Replicated(NAG, name, range(depth))
            m.d.sync += copies.eq(reg_n)
            return lambda k: copies[k // ADDR_GROUP]
        w_addr = bank_addr("up_waddr", waddr, waddr_n)
        for k, wr in enumerate(wrs):
            wa = w_addr(k)
            m.d.comb += [wr.addr.eq(wa[:ob] if NB > 1 else wa), wr.data.eq(self.i.payload),
                         wr.en.eq(wfire & ((wa[ob:] == k) if NB > 1 else 1))]
        m.d.comb += waddr_n.eq(waddr)
        m.d.sync += waddr.eq(waddr_n)
        with m.If(wfire):
            with m.If(~wc_last):
                m.d.sync += wc.eq(wc + 1)
                m.d.comb += [waddr_n.eq(waddr + 1)]
            with m.Elif(~wx_last):
                m.d.sync += [wc.eq(0), wx.eq(wx + 1)]
                m.d.comb += [waddr_n.eq(waddr + 1)]
            with m.Else():
                m.d.sync += [wc.eq(0), wx.eq(0), wb.eq(~wb)]
                m.d.comb += [waddr_n.eq(Mux(wb, 0, rowlen))]

        # ---------------------------------------------------------- reader
        raddr = Signal(range(depth))
        raddr_n = Signal.like(raddr)
        rpix = Signal(range(depth))      # address of channel 0 of the current pixel
        rc = Signal(range(max(C, 2)))
        rj = Signal(range(max(r, 2)))
        ri = Signal(range(max(r, 2)))
        rx = Signal.like(self.width)
        rb = Signal()
        rx_last = Signal()                   # rx == W - 1, a register like wx_last
        issue = Signal()
        r_row_end = Signal()
        valid1 = Signal()
        # "the word at raddr is written", a register computed from the next values of ahead, waddr
        # and raddr (the compare, a carry chain, sat between raddr and every reader register)
        avail = Signal()
        ahead_n = Signal.like(ahead)
        m.d.comb += [
            en.eq(~self.o.valid | self.o.ready),
            issue.eq(en & avail),
            r_row_end.eq(issue & rc_last & rj_last & rx_last & ri_last),
        ]
        last_flag(m, rx_last, rx, issue & rc_last & rj_last, wper)
        with m.If(issue):
            m.d.sync += rc_last.eq(next_is_last(rc_last, rc, C))
            with m.If(rc_last):
                m.d.sync += rj_last.eq(next_is_last(rj_last, rj, r))
                with m.If(rj_last & rx_last):
                    m.d.sync += ri_last.eq(next_is_last(ri_last, ri, r))
        r_addr = bank_addr("up_raddr", raddr, raddr_n)
        m.d.comb += [rd.addr.eq(r_addr(k)[:ob] if NB > 1 else raddr) for k, rd in enumerate(rds)]
        m.d.comb += raddr_n.eq(raddr)
        m.d.sync += raddr.eq(raddr_n)
        with m.If(issue):
            with m.If(~rc_last):
                m.d.sync += rc.eq(rc + 1)
                m.d.comb += [raddr_n.eq(raddr + 1)]
            with m.Elif(~rj_last):
                m.d.sync += [rc.eq(0), rj.eq(rj + 1)]
                m.d.comb += [raddr_n.eq(rpix)]
            with m.Elif(~rx_last):
                m.d.sync += [rc.eq(0), rj.eq(0), rx.eq(rx + 1), rpix.eq(raddr + 1)]
                m.d.comb += [raddr_n.eq(raddr + 1)]
            with m.Elif(~ri_last):
                base = Mux(rb, rowlen, 0)
                m.d.sync += [rc.eq(0), rj.eq(0), rx.eq(0), ri.eq(ri + 1), rpix.eq(base)]
                m.d.comb += [raddr_n.eq(base)]
            with m.Else():
                base = Mux(rb, 0, rowlen)
                m.d.sync += [rc.eq(0), rj.eq(0), rx.eq(0), ri.eq(0), rb.eq(~rb), rpix.eq(base)]
                m.d.comb += [raddr_n.eq(base)]
        if NB == 1:
            with m.If(en):
                m.d.sync += [valid1.eq(issue), self.o.valid.eq(valid1), self.o.payload.eq(rqs[0])]
        else:
            # the bank read (one-hot, with the read registers), then the bank registers (a word or
            # 0: yosys makes the select their synchronous reset, no logic behind the block RAMs),
            # then the output register takes their OR
            sel1 = Signal(NB)
            valid2 = Signal()
            word = bank_select(m, en, sel1, rqs, layouts.feature(self.fmt), "d")
            with m.If(en):
                m.d.sync += [valid1.eq(issue), sel1.eq(Cat(*[raddr[ob:] == k for k in range(NB)])),
                             valid2.eq(valid1), self.o.valid.eq(valid2), self.o.payload.eq(word)]

        m.d.comb += ahead_n.eq(ahead)
        with m.If(w_row_end & ~r_row_end):
            m.d.comb += ahead_n.eq(ahead + 1)
        with m.Elif(r_row_end & ~w_row_end):
            m.d.comb += ahead_n.eq(ahead - 1)
        # "The word at raddr is written" without comparing addresses: while the writer is in the
        # reader's row (ahead == 0), `lead` counts the words written in it minus the words the reader
        # has read for the first time (pass i = 0, replay j = 0: a replay reads words already read,
        # and so written); a row's later passes, and rows the writer has finished (ahead > 0), are
        # available whole. When the reader ends a row it enters the writer's (if ahead becomes 0)
        # with `w_words` written there. (A reader's row ends with its last pass, after the writer
        # ended the row: ahead >= 1 then.) The flag's next value is a select by the handshakes
        # (wfire, issue: the consumer's ready) among compares of registers with constants, no
        # address compare (raddr -> compare with waddr's candidates -> selects -> avail was
        # x4-base's critical path, docs/boards.md row 124, 11.7 ns).
        rj_first, ri_first = Signal(init=1, name="rj_first"), Signal(init=1, name="ri_first")
        with m.If(issue & rc_last):
            m.d.sync += rj_first.eq(rj_last)
            with m.If(rj_last & rx_last):
                m.d.sync += ri_first.eq(ri_last)
        consume = issue & rj_first & ri_first
        w_words = Signal(range(rowlen + 1))          # words written in the writer's row
        lead = Signal(range(rowlen + 1))
        m.d.sync += w_words.eq(Mux(w_row_end, 0, w_words + wfire))
        up, down = wfire & ~consume, consume & ~wfire
        with m.If(r_row_end):
            m.d.sync += lead.eq(w_words + wfire)
        with m.Elif(up):
            m.d.sync += lead.eq(lead + 1)
        with m.Elif(down):
            m.d.sync += lead.eq(lead - 1)
        # avail's next value, (ahead_n != 0) | (lead's next value > 0), as the two cases of an issue
        # (from the registered flags of where the reader is), selected by the issue last
        row_end_if = rc_last & rj_last & rx_last & ri_last
        first_if = rj_first & ri_first
        w_up = w_row_end | wfire                      # (w_row_end: ahead grows)
        if_issue = Mux(row_end_if, (ahead == 2) | wfire | (w_words != 0),
                       w_row_end | (ahead != 0) | Mux(first_if & ~wfire, lead >= 2, (lead != 0) | (wfire & ~first_if)))
        no_issue = w_up | (ahead != 0) | (lead != 0)
        m.d.sync += [ahead.eq(ahead_n), avail.eq(Mux(issue, if_issue, no_issue))]
        return m
