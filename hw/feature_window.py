"""FeatureWindow: channel-serial 3x3 window generator over full-precision features (tail conv feed).

Stream signature
  i: In(stream of layouts.feature(fmt))                one feature per transfer, C per pixel
                                                        (channel 0 first), pixels in raster order
  o: Out(stream of {value: layouts.feature(fmt), last: 1})
                                                        per output pixel (raster) 9*C values: tap
                                                        t = 3*ky + kx outer, channel c inner,
                                                        feature (c, y+ky-1, x+kx-1) or 0 where the
                                                        tap lies outside the image; last = 1 on the
                                                        final value of each pixel
  width, height: In(unsigned)                          frame geometry (1..max_width, 1..max_height),
                                                        stable during a frame and valid two cycles
                                                        before its first transfer (registered
                                                        flags; both sides wait two cycles after
                                                        reset); frames back to back
Structure. A line buffer in lib.memory (FW-bit words) holds three rows in a ring of row slots
(depth (3*max_width + 2)*C: slot s, column x, channel c at s*max_width*C + (x+1)*C + c; the
spare C words at either end catch the reads of padded columns, which are masked to 0). Input
and output run concurrently, each with its own position (row, column; `rowdiff` = input row -
output row, counted across frame boundaries):
  - output pixel (y, x) starts once input pixel (min(y+1, H-1), min(x+1, W-1)) is complete;
  - input pixel (r, c) may overwrite row r-3 once output pixel (r-2, min(c+1, W-1)) is finished
    (so the input runs at most about two rows ahead, into the next frame too).
The three rows of a window lie at 3C consecutive addresses per kernel row, so the read
address is a counter. Output pipeline: read address register -> memory read register (held
with the read enable under back-pressure) -> output register; masked taps are zeroed behind
the output register. A line buffer deeper than `bank_depth` words (default 1024, one ECP5
DP16KD) is split into banks, each with its own register right behind the memory (one more
pipeline stage), so that no wide read multiplexer follows a block RAM output; it counts only
for a tap inside the image in its bank (one-hot select beside it), and the output register takes
the OR of the selected bank registers (no bank number decoded behind them). Banked, the banks
form groups of WRITE_GROUP, each with its own copies of the write word and address (two write
stages), of the read address (a stage in front of the read registers) and of the pipeline's
valid flags, and its own registered OR of its bank registers (a stage behind them): every
cycle's routes stay within a group or between a group and the control. The memories need
no collision logic (no_rw_check): a read never needs a word written in the same cycle (only
masked taps can collide).
Cycle model (no bubbles, no back-pressure), first input to last output of one frame:
  fill + 9*C*W*H + 2 (+3 with banks) + bubble(W) * max(H-2, 0),
  fill = C * (min(1, H-1) * W + min(1, W-1) + 1) input cycles before the first window is
  complete; bubble(W) = C, 2C, C for W = 1, 2, 3 and 0
  for W >= 4 (narrow frames: the input needed by window row y may only be written once window
  row y-1 has nearly finished). Frames back to back overlap the next frame's fill, so F frames
  take fill + 9*C*W*H*F + 2 (+3) + bubble(W) * (max(H-2, 0) + (F-1) * max(H-1, 0)).
Golden twin: sw.golden.window3x3 applied to features (tap-major, channel-minor order).
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.hdl import unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from sw.formats import FeatureFormat

from . import layouts
from .head import last_flag, last_next, period_regs
from .ram_read import bank_select, banks
from .flag import set_clear
from .replica import Replicated, groups

#: banks per copy of the registered write word, write address and read address (banked line buffers)
WRITE_GROUP = 4


def out_layout(fmt: FeatureFormat):
    return data.StructLayout({"value": layouts.feature(fmt), "last": 1})


class FeatureWindow(wiring.Component):
    def __init__(self, channels: int, fmt: FeatureFormat, max_width: int, max_height: int,
                 bank_depth: int = 1024):
        if channels < 1 or max_width < 1 or max_height < 1:
            raise ValueError("channels, max_width and max_height must be >= 1")
        if bank_depth < 2 or bank_depth & (bank_depth - 1):
            raise ValueError("bank_depth must be a power of two >= 2")
        self.channels = channels
        self.fmt = fmt
        self.max_width = max_width
        self.max_height = max_height
        self.row_words = max_width * channels
        self.depth = 3 * self.row_words + 2 * channels
        self.bank_depth = bank_depth
        self.banks = -(-self.depth // bank_depth)
        super().__init__({
            "i": In(stream.Signature(layouts.feature(fmt))),
            "o": Out(stream.Signature(out_layout(fmt))),
            "width": In(unsigned(bits_for(max_width))),
            "height": In(unsigned(bits_for(max_height))),
        })

    # ------------------------------------------------------------------ models
    def fill_cycles(self, width: int, height: int) -> int:
        return self.channels * (min(1, height - 1) * width + min(1, width - 1) + 1)

    def row_bubble(self, width: int) -> int:
        """Output cycles lost before a window row y <= H-2 starts, for narrow frames (W <= 3): the
        input pixels (y+1, 0..min(1, W-1)) it needs may only overwrite row y-2 once window row
        y-1 has (almost) finished, so they are written while the output waits; one cycle more as
        in_ok sees the output's progress a cycle late (see `in_ok` in elaborate)."""
        return {1: 1, 2: 2, 3: 1}.get(width, 0) * self.channels + int(width <= 3)

    def cycle_model(self, width: int, height: int, frames: int = 1) -> int:
        rows = max(height - 2, 0) + (frames - 1) * max(height - 1, 0)
        return (self.fill_cycles(width, height) + 9 * self.channels * width * height * frames + 2
                + 3 * (self.banks > 1) + self.row_bubble(width) * rows)

    def resource_estimate(self) -> dict:
        a = bits_for(self.depth)
        ctr = 2 * (bits_for(self.max_width) + bits_for(self.max_height) + bits_for(self.channels) + 1) + 4
        geo = 2 * (bits_for(self.max_width) + bits_for(self.max_height)) + 4   # W - 1, W - 2, H - 1, H - 2, ...
        ff = 9 * a + ctr + geo + self.fmt.bits + 12   # addresses, slot offsets, row starts, counters, output
        lut = 10 * a + self.fmt.bits + 3 * ctr + geo + 60   # address adders/muxes, flags, control
        if self.banks > 1:                            # bank registers + one-hot bank + OR tree
            ff += self.banks * (self.fmt.bits + 1) + 2
            # write stage 0: the word and two flags, the flags copied per group; stage 1: word and
            # address per WRITE_GROUP banks, one enable per bank (and per group the copies of three
            # pipeline flags with their next-state and enable LUTs)
            ngroups = -(-self.banks // WRITE_GROUP)
            ff += self.fmt.bits + 2 + 2 * ngroups
            ff += ngroups * (self.fmt.bits + 2 * (self.bank_depth.bit_length() - 1) + 3) + self.banks
            # read stage A (address, bank number, inside flag per group) and stage E (each group's
            # OR registered), with their valid flags (master and per group) and the last flags
            ff += ngroups * ((self.bank_depth.bit_length() - 1) + bits_for(self.banks) + 1 + self.fmt.bits + 2) + 7
            lut += ngroups * (2 * self.fmt.bits + 4)
            lut += self.banks * self.fmt.bits // 2 + 2 * self.banks + 5 * ngroups
        return {"lut": lut, "ff": ff, "bram_bits": self.depth * self.fmt.bits, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        C, W, H = self.channels, self.width, self.height
        RW = self.row_words
        A = range(self.depth)

        NB, BD = self.banks, self.bank_depth
        ob = BD.bit_length() - 1                      # offset bits within a bank
        issue = Signal()                              # a read address is issued (output pipeline)
        may_issue = Signal()                          # ... when B is free
        # the read registers load whenever B is free, issued or not (a word read without an issue
        # is never used: b_valid stays low), so the banks' clock enables do not wait on start_ok
        b_free = Signal()                             # (banked: A, the issue's stage, is free)
        # the read registers (B), merged into the block-RAM ports (hw/ram_read.py); banked, each group
        # of WRITE_GROUP banks loads them (and the bank registers, D) with its own enable, computed
        # from its own copies of the output pipeline's flags ("output pipeline" below)
        wgroups = groups(NB, WRITE_GROUP)
        g_free = [Signal(name=f"fw_b_free{j}") for j in range(len(wgroups))]
        g_load = [Signal(name=f"fw_d_load{j}") for j in range(len(wgroups))]
        per_bank = lambda sigs: [sigs[j] for j, (lo, hi) in enumerate(wgroups) for _ in range(lo, hi)]
        wrs, rds, rq = banks(m, layouts.feature(self.fmt), self.depth, BD, per_bank(g_free) if NB > 1 else b_free)

        def ctr(n, name):
            return Signal(range(max(n, 2)), name=name)

        # ---------------------------------------------------------------- input side
        ci = ctr(self.max_width, "ci")                # input column
        ki = ctr(C, "ki")                             # input channel
        wa = Signal(A, init=C)                        # write address
        wa_n = Signal(A)                              # its next value
        # the bank of wa, one-hot, as a register from wa_n (no decoder in front of the banks'
        # write enables, tests/test_hw_feature_window.py)
        wbank = Signal(NB, init=1 << (C // BD) if C // BD < NB else 1)
        # the bank of each row slot's first write address (slot s: s * RW + C), constants
        first_bank = [1 << ((s * RW + C) // BD) for s in range(3)]
        m.d.comb += wa_n.eq(wa)
        m.d.sync += wa.eq(wa_n)
        wso = Signal(A)                               # slot offset of the input row

        # ---------------------------------------------------------------- output side
        yo = ctr(self.max_height, "yo")
        xo = ctr(self.max_width, "xo")
        ky = Signal(range(3))
        kx = Signal(range(3))
        ko = ctr(C, "ko")
        so = [Signal(A, init=2 * RW, name="so_top"), Signal(A, init=0, name="so_mid"),
              Signal(A, init=RW, name="so_bot")]      # slot offsets of rows yo-1, yo, yo+1
        col_off = Signal(A)                           # xo * C
        ra = Signal(A, init=2 * RW)                   # read address of the next issue

        # ---------------------------------------------------------------- dependencies
        # Registered flags, recomputed every cycle from the next positions (short paths to the
        # memory ports); `init` blocks both sides in the first two cycles after reset, while the
        # geometry registers and then the flags are computed. Geometry must be valid two cycles
        # before a frame starts. The compares with W - 1 / H - 1 are against registers (W - 1,
        # W - 2, W == 1, the same for H), so no subtract sits in front of a flag.
        wait = Signal(2, init=2)
        init = Signal()                               # wait == 0, a register (it gates the issue)
        with m.If(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        m.d.sync += init.eq(init | (wait == 1))
        wper, hper = period_regs(m, W, "w"), period_regs(m, H, "h")
        ci_last = Signal()                            # ci == W-1
        xo_last = Signal()                            # xo == W-1
        yo_last = Signal()                            # yo == H-1
        gap = Signal(range(-self.max_width, self.max_width + 1))    # xo - ci
        ahead2 = Signal()                             # xo - ci >= 2
        behind2 = Signal()                            # ci - xo >= 2 (a register, set with gap)
        gu = gap.as_unsigned()
        sign = gu[-1]
        m.d.comb += ahead2.eq(~sign & (gu[1:] != 0))                # gap >= 2
        rowdiff = Signal(range(4))                    # input row - output row (0..2)
        # in_ok (the input may be written) is a register computed from the next values of its
        # operands, each selected among candidates from registers: as logic on gap, rowdiff and
        # ci_last it sat in front of the write fire and so of the write enables of every bank
        # (x4-base, 37 banks across the die: docs/boards.md row 103, 13.4 ns)
        in_ok = Signal()
        col_ready = ~xo_last & behind2                # input past (., min(xo+1, W-1))
        start_ok = init & Mux(yo_last, (rowdiff != 0) | col_ready, (rowdiff == 2) | ((rowdiff == 1) & col_ready))

        # ---------------------------------------------------------------- input
        wfire = self.i.valid & in_ok
        # ki == C - 1 as a register (no compare of the channel counter behind the input's fire)
        ki_last = Signal(init=int(C == 1), name="ki_last")
        ipix = wfire & ki_last
        in_row_done = ipix & ci_last
        ci_adv = Signal.like(ci)                      # the column after ci (registers only)
        m.d.comb += [self.i.ready.eq(in_ok), ci_adv.eq(Mux(ci_last, 0, ci + 1))]
        if NB > 1:
            # two write stages. Stage 0 registers the transfer (fire, row done, word): the write
            # address, its bank (one-hot) and the row slot advance from these registers, not from
            # the input's valid and the dependency flag (i.valid -> fire -> the 37 bank registers'
            # enables and next values was 12.1 ns on x4-base, docs/boards.md row 122); the bank
            # registers and the write enables of each group take the fire from the group's own copy.
            # Stage 1: the word, its in-bank address and the banks' write enables registered, word
            # and address copied per WRITE_GROUP banks (hw/replica.py), so no net fans out to all
            # banks (the input word to x4-base's 37 banks across the die was one 13.2 ns route,
            # docs/boards.md row 116); the read address gets a copy per group too (below). The
            # write lands two cycles after the transfer; a read never needs it sooner: the newest
            # tap a window needs (kx = 2, ky = 2; on a one-column or one-row frame the centre row or
            # column) is issued 4 C cycles or more after the window's first, which waits for the
            # input to have passed that pixel; the read is a cycle later still (stage A). (The
            # read-address copies load the read address register, see "output pipeline" below.)
            w0_fire, w0_row = Signal(), Signal()
            w0_data = Signal(layouts.feature(self.fmt), reset_less=True)
            w0_gfire = Replicated(len(wgroups), "fw_w0_fire")
            w0_grow = Replicated(len(wgroups), "fw_w0_row")
            m.d.sync += [w0_fire.eq(wfire), w0_row.eq(in_row_done), *w0_gfire.eq(wfire), *w0_grow.eq(in_row_done)]
            with m.If(wfire):
                m.d.sync += w0_data.eq(self.i.payload)
            afire, arow = w0_fire, w0_row             # (the address side's fire and row done)
            wdata = Replicated(len(wgroups), "fw_wdata", layouts.feature(self.fmt), reset_less=True)
            waddr = Replicated(len(wgroups), "fw_waddr", ob, reset_less=True)
            wen = Signal(NB)
            m.d.sync += [*wdata.eq(w0_data), *waddr.eq(wa[:ob])]
            wa_end = Signal()                         # wa is a bank's last word
            m.d.comb += wa_end.eq(wa[:ob] == BD - 1)
            rotated = Cat(wbank[-1], wbank[:-1])
            fb = [Const(b, NB) for b in first_bank]
            slot_first = Mux(wso == 2 * RW, fb[0], Mux(wso == 0, fb[1], fb[2]))
            for j, (lo, hi) in enumerate(wgroups):
                m.d.sync += wen[lo:hi].eq(Mux(w0_gfire[j], wbank[lo:hi], 0))
                # the next bank when wa leaves this one; a row slot's first bank on a new row
                with m.If(w0_gfire[j] & (w0_grow[j] | wa_end)):
                    m.d.sync += wbank[lo:hi].eq(Mux(w0_grow[j], slot_first[lo:hi], rotated[lo:hi]))
            # the read address likewise a copy per group (stage A of the output pipeline, below)
            raddr = Replicated(len(wgroups), "fw_raddr", ob, reset_less=True)
            for j, (lo, hi) in enumerate(wgroups):
                for k in range(lo, hi):
                    m.d.comb += [wrs[k].addr.eq(waddr[j]), wrs[k].data.eq(wdata[j]), wrs[k].en.eq(wen[k])]
        else:
            m.d.comb += [wrs[0].addr.eq(wa), wrs[0].data.eq(self.i.payload), wrs[0].en.eq(wfire)]
            afire, arow = wfire, in_row_done
        last_flag(m, ci_last, ci, ipix, wper)
        with m.If(ipix):
            m.d.sync += ci.eq(ci_adv)
        with m.If(wfire):
            m.d.sync += [ki.eq(Mux(ki_last, 0, ki + 1)), ki_last.eq(1 if C == 1 else ~ki_last & (ki == C - 2))]
        # the write address (and slot offset): on the transfer, banked from write stage 0
        with m.If(afire):
            m.d.comb += wa_n.eq(wa + 1)
            with m.If(arow):
                nxt = Mux(wso == 2 * RW, 0, wso + RW)
                m.d.sync += wso.eq(nxt)
                m.d.comb += wa_n.eq(nxt + C)

        # ---------------------------------------------------------------- output pipeline
        # one bank: issue (ra) -> B: memory read register (held by the read enable) -> C: output
        # register. Banked: issue -> A: the address, its bank and the tap's inside flag, a copy per
        # bank group beside its banks -> B: the read registers (each bank's from its group's copy;
        # the one-hot bank select beside them) -> D: one register per bank, straight from the
        # memory (the DP16KD output register) -> E: per group, the OR of its selected bank registers
        # -> C: output register, the OR of the groups' registers
        row_ok = Mux(ky == 0, yo != 0, Mux(ky == 2, ~yo_last, 1))
        col_ok = Mux(kx == 0, xo != 0, Mux(kx == 2, ~xo_last, 1))
        # the tap flags as registers set on the issue before (the 6-bit channel compare and the
        # three counters' decode sat in front of the issue and its enables: x4-base's feature window
        # paths over 9 ns, docs/boards.md row 129): ko_last = ko == C - 1, tap_last = the pixel's
        # last tap (ky, kx, ko) = (2, 2, C - 1), first = its first (0, 0, 0)
        ko_last = Signal(init=int(C == 1), name="ko_last")
        tap_last = Signal(name="tap_last")
        first = Signal(init=1, name="first")
        # (the tap after this one is the last: index 9 C - 2)
        before_last = (ky == 2) & ((kx == 2) & (ko == C - 2) if C > 1 else (kx == 1))
        with m.If(issue):
            m.d.sync += [ko_last.eq(1 if C == 1 else ~ko_last & (ko == C - 2)),
                         tap_last.eq(before_last), first.eq(tap_last)]
        c_val = Signal(layouts.feature(self.fmt))     # output register
        c_inside = Signal()
        c_last = Signal()
        if NB > 1:
            # Stages A (address copies) and E (group ORs) keep every cycle's routes within a bank
            # group or between a group and the unit's control: the read address's next value (a
            # select by the issue) went to the copies beside all 37 banks of x4-base (13.7 ns),
            # the issue's one-hot bank select to all of them (12.4 ns), and the OR of 37 bank
            # registers into the output register was 13.85 ns (docs/boards.md row 123).
            # Each group's enables come from the group's own copies of the five valid flags (hw/
            # replica.py), each copy following the same recurrence from the same inputs (o.ready,
            # may_issue): one net per group instead of one to every bank (row 118: b_valid -> LUT
            # -> 37 DP16KD OCE pins, 12.1 ns).
            def flags(av, bv, dv, ev, ov):
                """One copy of the A / B / D / E / C valid flags (hw/flag.py, no clock enables of
                their own); returns the stages' enables: {a_free: A loads (the address copies;
                an issue may go), b_free: B loads (the read registers), a_move, b_move (D loads:
                the bank registers), d_move (E loads), e_move (C loads)}."""
                o_free = ~ov | self.o.ready
                e_free = ~ev | o_free
                d_free = ~dv | e_free
                b_free_ = ~bv | d_free
                a_free = ~av | b_free_
                a_move, b_move, d_move, e_move = av & b_free_, bv & d_free, dv & e_free, ev & o_free
                set_clear(m, av, a_free & may_issue, a_move)      # (a_free & may_issue: issue)
                set_clear(m, bv, a_move, b_move)
                set_clear(m, dv, b_move, d_move)
                set_clear(m, ev, d_move, e_move)
                set_clear(m, ov, e_move, self.o.ready)
                return {"a_free": a_free, "b_free": b_free_, "a_move": a_move, "b_move": b_move,
                        "d_move": d_move, "e_move": e_move}
            a_valid, b_valid, d_valid, e_valid = (Signal(name=f"{n}_valid") for n in "abde")
            en = flags(a_valid, b_valid, d_valid, e_valid, self.o.valid)
            m.d.comb += b_free.eq(en["a_free"])
            c_load = en["e_move"]
            copies = [Replicated(len(wgroups), f"fw_{n}_valid") for n in "abde"] + [Replicated(len(wgroups), "fw_o_valid")]
            a_bank = Replicated(len(wgroups), "fw_a_bank", range(NB), reset_less=True)
            a_inside = Replicated(len(wgroups), "fw_a_inside", reset_less=True)
            b_sel = Signal(NB)                        # one-hot: the bank holding an inside tap
            g_dmove = []
            for j, (lo, hi) in enumerate(wgroups):
                g = flags(*(c[j] for c in copies))
                m.d.comb += [g_free[j].eq(g["b_free"]), g_load[j].eq(g["b_move"])]
                g_dmove.append(g["d_move"])
                with m.If(g["a_free"]):
                    m.d.sync += [raddr[j].eq(ra[:ob]), a_bank[j].eq(ra[ob:]), a_inside[j].eq(row_ok & col_ok)]
                with m.If(g["b_free"]):
                    m.d.sync += [b_sel[k].eq((a_bank[j] == k) & a_inside[j]) for k in range(lo, hi)]
            # the last-tap flag along the pipeline (master flags' enables)
            a_last, b_last, d_last, e_last = (Signal(name=f"{n}_last") for n in "abde")
            for dst, src, load in ((a_last, tap_last, issue), (b_last, a_last, en["a_move"]),
                                   (d_last, b_last, en["b_move"]), (e_last, d_last, en["d_move"])):
                with m.If(load):
                    m.d.sync += dst.eq(src)
            src_val = bank_select(m, per_bank(g_load), b_sel, rq, layouts.feature(self.fmt), "d_val",
                                  groups=wgroups, group_load=g_dmove)
            src_inside, src_last = 1, e_last
        else:
            b_valid = Signal()                        # B holds a value
            b_inside = Signal()
            b_last = Signal()
            c_free = ~self.o.valid | self.o.ready
            c_load = b_valid & c_free
            m.d.comb += b_free.eq(~b_valid | c_load)
            set_clear(m, b_valid, issue, c_load)
            set_clear(m, self.o.valid, c_load, self.o.ready)
            with m.If(issue):
                m.d.sync += [b_inside.eq(row_ok & col_ok), b_last.eq(tap_last)]
            src_val, src_inside, src_last = rq[0], b_inside, b_last
        m.d.comb += [may_issue.eq(~first | start_ok), issue.eq(b_free & may_issue)]
        if NB > 1:
            for j, (lo, hi) in enumerate(wgroups):
                m.d.comb += [rds[k].addr.eq(raddr[j]) for k in range(lo, hi)]
        else:
            m.d.comb += rds[0].addr.eq(ra)
        m.d.comb += [self.o.payload.value.eq(Mux(c_inside, c_val, 0)), self.o.payload.last.eq(c_last)]
        # (the valid flags: set_clear above)
        with m.If(c_load):
            m.d.sync += [c_val.eq(src_val), c_inside.eq(src_inside), c_last.eq(src_last)]

        # ---------------------------------------------------------------- read address walk
        opix = issue & tap_last
        out_row_done = opix & xo_last
        # next-position flags: every candidate from registers, selected by the late controls
        xo_adv, yo_adv = Signal.like(xo), Signal.like(yo)
        m.d.comb += [xo_adv.eq(Mux(xo_last, 0, xo + 1)), yo_adv.eq(Mux(yo_last, 0, yo + 1))]
        last_flag(m, xo_last, xo, opix, wper)
        last_flag(m, yo_last, yo, out_row_done, hper)
        with m.If(opix):
            m.d.sync += xo.eq(xo_adv)
        with m.If(out_row_done):
            m.d.sync += yo.eq(yo_adv)
        # gap = xo - ci at the next positions: candidates from registers, selected by the controls;
        # "the next gap >= 2" (in_ok, below) likewise, from compares of the registers
        def gap_ge(k):                                # gap >= k (k >= 1), from its bits
            return ~sign & (gu >= k)

        def gap_le(k):                                # gap <= -k (k >= 1): ~gap = -gap - 1 >= k - 1
            return sign & ((~gu) >= k - 1)
        # behind2 (the next gap <= -2) is set beside gap, from the same candidates
        with m.If(opix & ~xo_last):
            with m.If(ipix & ci_last):
                m.d.sync += [gap.eq(xo + 1), behind2.eq(0)]
            with m.Elif(~ipix):
                m.d.sync += [gap.eq(gap + 1), behind2.eq(gap_le(3))]
        with m.Elif(opix):                            # xo wraps to 0
            with m.If(ipix & ci_last):
                m.d.sync += [gap.eq(0), behind2.eq(0)]
            with m.Elif(ipix):
                m.d.sync += [gap.eq(-(ci + 1)), behind2.eq(ci >= 1)]
            with m.Else():
                m.d.sync += [gap.eq(-ci), behind2.eq(ci >= 2)]
        with m.Else():
            with m.If(ipix & ci_last):
                m.d.sync += [gap.eq(xo), behind2.eq(0)]
            with m.Elif(ipix):
                m.d.sync += [gap.eq(gap - 1), behind2.eq(sign)]
        rowdiff_n = Signal.like(rowdiff)
        m.d.comb += rowdiff_n.eq(rowdiff + in_row_done - out_row_done)
        m.d.sync += rowdiff.eq(rowdiff_n)
        # in_ok's next value for either value of this cycle's input pixel (ipix), each from
        # registers, then selected by ipix: the input's valid (from cut_fwin) -> fire -> ci_last's
        # next value -> in_ok was x4-base's critical path (docs/boards.md row 131, 11.8 ns); the
        # select puts the fire one LUT in front of in_ok.
        # The output side is left out: the candidates assume no output pixel this cycle. Output
        # progress only adds room (xo + 1 raises the gap; a finished output row lowers the row
        # distance, which is >= 1 then: output row y waits for input row y + 1, or the frame's last
        # row), so this in_ok is never set where the exact one is not; an output pixel's room shows
        # a cycle later (the input then waits one cycle more, with 9 C output cycles per C input
        # words). With the output's issue in it (the tail's ready -> the pipeline flags -> the issue
        # -> in_ok), it was x4-base's critical path in rows 137 and 138 (11.9, 12.8 ns, mostly
        # routing across the unit).
        def ok_if(ip: int):
            rd = Signal.like(rowdiff, name=f"rowdiff_if{ip}")        # (wraps as rowdiff_n)
            m.d.comb += rd.eq(rowdiff + (ci_last if ip else 0))
            # ci_last's next value (without an input pixel ci_last itself: W is stable within a
            # frame, and ci_last follows a new W long before the frame's first pixel)
            cl = last_next(ci_last, ci, 1, wper) if ip else ci_last
            a2 = Mux(ci_last, xo >= 2, gap_ge(3)) if ip else ahead2
            ok = Signal(name=f"in_ok_if{ip}", attrs={"keep": 1})   # (kept: abc would merge the select)
            m.d.comb += ok.eq((wait <= 1) & ((rd < 2) | ((rd == 2) & ~cl & a2)))
            return ok
        m.d.sync += in_ok.eq(Mux(ipix, ok_if(1), ok_if(0)))
        # The row starts of the next kernel row / pixel as registers (sums of the slot offsets and
        # the column offset, one cycle behind them): the read address's next value is then a select
        # among registers and ra + 1, with no adder chain from so / col_off in front of ra and its
        # per-group copies (x4-base docs/boards.md row 118: so_mid -> adder -> ra_n -> copies,
        # 14.35 ns). They are read 3 C issues or more after so / col_off change: a kernel row
        # takes 3 C issues, and a pixel's first address (col_off + C) 9 C after the last change.
        row1, row2, next_pix = Signal(A, name="ra_row1"), Signal(A, name="ra_row2"), Signal(A, name="ra_next_pix")
        m.d.sync += [row1.eq(so[1] + col_off), row2.eq(so[2] + col_off), next_pix.eq(so[0] + col_off + C)]
        ra_n = Signal.like(ra)                        # the next read address
        m.d.comb += ra_n.eq(ra)
        m.d.sync += ra.eq(ra_n)                       # (banked: stage A's copies load ra)
        with m.If(issue):
            m.d.sync += ko.eq(ko + 1)
            m.d.comb += ra_n.eq(ra + 1)
            with m.If(ko_last):
                m.d.sync += [ko.eq(0), kx.eq(kx + 1)]
                with m.If(kx == 2):
                    m.d.sync += [kx.eq(0), ky.eq(ky + 1)]
                    m.d.comb += ra_n.eq(Mux(ky == 0, row1, row2))
                    with m.If(ky == 2):
                        m.d.sync += [ky.eq(0), col_off.eq(col_off + C)]
                        m.d.comb += ra_n.eq(next_pix)
                        with m.If(xo_last):
                            m.d.sync += [col_off.eq(0), so[0].eq(so[1]), so[1].eq(so[2]), so[2].eq(so[0])]
                            m.d.comb += ra_n.eq(so[1])
        return m
