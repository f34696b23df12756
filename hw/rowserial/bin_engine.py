"""BinRowEngine: the row-serial accelerator's shared binary datapath. One job = one output row of
one binary layer (BBCU-B at LR or HR, or the BBCU-U), for every layer of the program.

Signature
  job:  In(stream of job_layout(...))  a row job; accepted when the engine is idle. The engine
                                       reads the payload until `done` without copying it: the
                                       sender holds it stable (the sequencer does)
  done: Out(1)                         one-cycle pulse after the job's last write
  ram:  Out(memmap.RamPort)            16-bit single-ported RAM: parameter records, residual reads,
                                       result writes (at most one access per cycle)
  src:  Out(memmap.BitsRead)           the input bits ring (rows y-1, y, y+1 at job.src[0..2])
  dst:  Out(memmap.BitsWrite)          the next layer's bits ring (one bit per write)

Job (for output channel co, pixel x; layouts in hw/rowserial/memmap.py)
  dot = XNOR-popcount of the 3x3 window of input bits (taps outside the image masked)
  y = sat_y((A*dot + B) >> sa); q = y if y >= 0 else (y*S + 2^(ss-1)) >> ss; v = sat_y(q + Z)
  o = sat_FW(v + ram[res + x*C + c])                   -> ram[out[i] + (r*x + j)*C + c]
  bit = o >= T                                         -> dst[dst[i] + r*x + j] bit c (if dst_en)
  with c = co, i = j = 0 for BBCU-B jobs and co = c*r*r + i*r + j for the BBCU-U (job.up).
  An in-place BBCU-B job has out[0] == res: the result overwrites the residual after reading it.

Schedule (static: no stall once a job starts). Output channel outermost:
  LOAD  P cycles: the channel's record (P = ParamLayout.record_words words) is read word by word;
        the weight words go into a small block RAM of 9 taps (hw/masked_ram.MaskedRAM, a tap of
        cin bits per word), each constant word into its own register.
  ROW   9 cycles per pixel, one tap (ky, kx) per cycle: the input bits of column x + kx - 1 of
        row ky come from src and the tap's weights from the tap RAM; their C lanes (XNOR) go
        through a carry-chain popcount (hw/popcount.popcount_carry, masked where the tap lies
        outside the image) and add up over the 9 taps. Why one tap and not one kernel row (3C
        lanes, 3 cycles per pixel, until row 36 of docs/boards.md): that needed the 9C weight
        bits and two window columns (6C bits) in flip-flops and a 3C-lane popcount, about 700
        of the UP5K's 5,280 logic cells, for 2.7x the binary layers' throughput.
  then the scale / RPReLU / residual pipeline; the residual read and the result write fall on
        different cycles of the 9-cycle pixel step, so one RAM port suffices.
  DRAIN until the channel's last result is written, then the next channel's LOAD.
Cycle model: cout * (P + 9*W + DRAIN) + 1 cycles per job (cycles_per_job).
Golden twin: hw.rowserial.schedule.binary_row.
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats
from sw.formats import TAPS
from sw.program import Program

from ..estimate import throwaway
from ..head import lt_const, rshift_round, saturate
from ..masked_ram import MaskedRAM
from ..popcount import _Pipe, popcount_carry
from . import memmap
from .memmap import WORD
from .schedule import _shape


def _shift_by(v, amount, values):
    """v >> amount for the shift amounts the program uses (a mux over constant shifts)."""
    out = v >> values[-1]
    for s in values[-2::-1]:
        out = Mux(amount == s, v >> s, out)
    return out


def _round_shift_by(v, amount, values):
    """(v + 2^(amount-1)) >> amount (amount = 0: v) for the amounts the program uses."""
    out = rshift_round(v, values[-1])
    for s in values[-2::-1]:
        out = Mux(amount == s, rshift_round(v, s), out)
    return out


def job_layout(r: int, ram_aw: int, bits_aw: int, width_bits: int) -> data.StructLayout:
    return data.StructLayout({
        "width": unsigned(width_bits),      # pixels of the input row (LR row for the BBCU-U)
        "top": 1,                           # row y-1 exists
        "bot": 1,                           # row y+1 exists
        "src": data.ArrayLayout(unsigned(bits_aw), 3),   # bits of rows y-1, y, y+1, column 0
        "res": unsigned(ram_aw),            # residual row, pixel 0 channel 0
        "out": data.ArrayLayout(unsigned(ram_aw), r),    # output row i (of r), pixel 0 channel 0
        "dst": data.ArrayLayout(unsigned(bits_aw), r),   # next layer's bits row i, column 0
        "dst_en": 1,                        # a binary layer follows: write its bits
        "up": 1,                            # BBCU-U job (cout = C*r*r, pixel shuffle)
        "param": unsigned(ram_aw),          # the layer's parameter block
        "sa": unsigned(6),
        "ss": unsigned(6),
    })


class BinRowEngine(wiring.Component):
    #: adder levels per register level in the popcount tree (hw/popcount.popcount_carry): half the
    #: tree's flip-flops; two 2..6-bit carry chains per cycle are expected to meet the UP5K's
    #: 48 MHz; not the limiting path yet (row 59 of docs/boards.md: the x2-tiny design places at 15.4 MHz,
    #: limited by the sequencer-to-SPRAM address path)
    POPCOUNT_STRIDE = 2

    def __init__(self, prog: Program, max_width: int, ram_aw: int = 16, bits_aw: int = 10,
                 ext: bool = False):
        """ext: lend the multiplier to other units while no job runs (the head's and the tail's
        LeakyReLU products): while ext_en, the product register takes ext_a * ext_b (prod_o, one
        cycle later)."""
        n, r = _shape(prog)
        self.prog, self.fmt, self.r = prog, prog.fmt, r
        self.C = prog.config.channels
        self.pl = memmap.param_layout(prog)
        if self.pl.cin != self.C:
            raise ValueError(f"binary layers have cin {self.pl.cin}, the program C = {self.C}")
        self.max_width = max_width * r       # the widest row a job sees (HR rows)
        self.ram_aw, self.bits_aw = ram_aw, bits_aw
        self.layout = job_layout(r, ram_aw, bits_aw, memmap.addr_bits(self.max_width + 1))
        self.lp = self._popcount_latency()
        # the shifts the program uses: the datapath shifts by these constants only (job.sa/ss
        # must be one of them: the sequencer takes them from the program)
        self.sa_values = sorted({int(l.shift) for l in prog.binary_layers})
        self.ss_values = sorted({int(l.slope_shift) for l in prog.binary_layers})
        self.ext = ext
        members = {
            "job": In(stream.Signature(self.layout)),
            "done": Out(1),
            "ram": Out(memmap.RamPort(ram_aw)),
            "src": Out(memmap.BitsRead(bits_aw, self.C)),
            "dst": Out(memmap.BitsWrite(bits_aw, self.C)),
        }
        if ext:
            yw = self.fmt.y_bits
            members.update({"ext_en": In(1), "ext_a": In(signed(yw)),
                            "ext_b": In(signed(max(formats.dot_bits(self.C), self.pl.width("S")))),
                            "prod_o": Out(signed(max(self.pl.width("A"), yw) + max(formats.dot_bits(self.C),
                                                                                   self.pl.width("S"))))})
        super().__init__(members)

    # ------------------------------------------------------------------ models
    def _popcount_latency(self) -> int:
        m = Module()
        a, w = Signal(self.C), Signal(self.C)
        _, lat = popcount_carry(m, _Pipe(m, "probe"), a, w, [Const(1)], self.C, self.POPCOUNT_STRIDE)
        throwaway(m)
        return lat

    #: cycles from a channel's last ROW cycle to its last result write
    def drain(self) -> int:
        return 1 + self.lp + 1 + 8 + 1

    def cycles_per_job(self, width: int, up: bool = False) -> int:
        """Cycles from accepting a job to its `done` pulse (width: the input row's pixels)."""
        cout = self.C * (self.r * self.r if up else 1)
        return cout * (self.pl.record_words + TAPS * width + self.drain()) + 1

    def resource_estimate(self) -> dict:
        C, pl = self.C, self.pl
        # FFs: constant fields, popcount tree and its delays (~C + 40 at stride 2), pointers, the
        # scale/RPReLU/residual pipeline
        ff = sum(pl.widths) + C + 40 + 3 * 2 * self.ram_aw + 120
        # LUTs: XNOR/popcount (2.4 per lane), control, the scale/RPReLU/residual adders, shifts and
        # saturations (~300), pointer adders
        lut = int(2.4 * C) + 250 + 300 + 6 * self.ram_aw
        return {"lut": lut, "ff": ff, "bram_bits": TAPS * WORD * pl.tap_words, "dsp": 1}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        C, r, fmt, pl = self.C, self.r, self.fmt, self.pl
        P, TW, WW = pl.record_words, pl.tap_words, pl.weight_words
        job = self.job.payload              # held by the sequencer until `done` (not copied)
        busy = Signal()
        state = Signal(range(3))           # 0 LOAD, 1 ROW, 2 DRAIN
        LOAD, ROW, DRAIN = 0, 1, 2
        k = Signal(range(max(P, self.drain()) + 1))
        x = Signal(range(self.max_width + 1))
        ky = Signal(range(3))
        kx = Signal(range(3))
        tap = Signal(range(TAPS))
        c = Signal(range(C))
        i = Signal(range(r))
        j = Signal(range(r))
        NC = P - WW
        cwords = [Signal(16, name=f"cst{q}") for q in range(NC)]        # the record's constant words
        cst = Cat(*cwords)
        rd_ptr = Signal(self.ram_aw)        # the next record word to read
        # the channel's weights, one tap of C bits (TW words) per RAM word
        m.submodules.taps = taps = MaskedRAM(WORD * TW, TAPS, 4)

        m.d.comb += self.job.ready.eq(~busy)
        m.d.sync += self.done.eq(0)

        def field(name):
            off, n = pl.offset(name) - WW, pl.words(name)
            return cst[16 * off:16 * (off + n)][:pl.width(name)].as_signed()

        with m.If(self.job.valid & ~busy):
            p = self.job.payload
            m.d.sync += [busy.eq(1), state.eq(LOAD), k.eq(0), c.eq(0), i.eq(0), j.eq(0),
                         rd_ptr.eq(p.param)]

        # ---------------- LOAD: record word k is read in cycle k and stored in cycle k + 1
        d_w, d_c = Signal(), Signal()
        w_tap, w_lane = Signal(range(TAPS)), Signal(range(max(TW, 2)))    # where word k goes
        d_tap, d_lane = Signal.like(w_tap), Signal.like(w_lane)
        d_j = Signal(range(max(NC, 2)))     # the constant word arriving with d_c
        m.d.sync += [d_w.eq(0), d_c.eq(0)]
        with m.If(busy & (state == LOAD)):
            m.d.comb += self.ram.addr.eq(rd_ptr)
            m.d.sync += [rd_ptr.eq(rd_ptr + 1), k.eq(k + 1), d_w.eq(lt_const(k, WW)), d_c.eq(~lt_const(k, WW)),
                         d_j.eq(k - WW), d_tap.eq(w_tap), d_lane.eq(w_lane)]
            with m.If(w_lane == TW - 1):
                m.d.sync += [w_lane.eq(0), w_tap.eq(w_tap + 1)]
            with m.Else():
                m.d.sync += w_lane.eq(w_lane + 1)
            with m.If(k == P - 1):
                m.d.sync += [state.eq(ROW), x.eq(0), ky.eq(0), kx.eq(0), tap.eq(0)]
        with m.If(~busy | (state != LOAD)):
            m.d.sync += [w_tap.eq(0), w_lane.eq(0)]
        # word k is on rdata in cycle k + READ_LATENCY (memmap): the d_* delayed to then (e_*)
        e_w, e_c, e_tap, e_lane, e_j = memmap.delay_line(m, [d_w, d_c, d_tap, d_lane, d_j], memmap.READ_LATENCY)[-1]
        m.d.comb += [taps.waddr.eq(e_tap), taps.wdata.eq(self.ram.rdata.replicate(TW)),
                     taps.wen.eq(Mux(e_w, Const((1 << WORD) - 1, WORD * TW) << (WORD * e_lane), 0))]
        # each constant word into its own register (its unused bits then need no flip-flop)
        for q_, cw in enumerate(cwords):
            with m.If(e_c & (e_j == q_)):
                m.d.sync += cw.eq(self.ram.rdata)

        # ---------------- ROW: issue tap (ky, kx) of pixel x: column x + kx - 1 of row ky
        width = job.width
        s1 = Signal()                       # stage 1 valid: src data and the tap's weights present
        s1_first, s1_last, s1_mask = Signal(), Signal(), Signal()
        row_ok = Mux(ky == 0, job.top, Mux(ky == 1, 1, job.bot))
        col_ok = Mux(kx == 0, x != 0, Mux(kx == 1, 1, x + 1 != width))
        with m.If(busy & (state == ROW)):
            # (a tap outside the image reads a neighbouring word: masked below)
            m.d.comb += [self.src.addr.eq(job.src[ky] + x + kx - 1), taps.raddr.eq(tap), taps.ren.eq(1)]
            m.d.sync += [s1_first.eq(tap == 0), s1_last.eq(tap == TAPS - 1), s1_mask.eq(row_ok & col_ok)]
            m.d.sync += tap.eq(tap + 1)
            with m.If(kx == 2):
                m.d.sync += [kx.eq(0), ky.eq(ky + 1)]
            with m.Else():
                m.d.sync += kx.eq(kx + 1)
            with m.If(tap == TAPS - 1):
                m.d.sync += [tap.eq(0), ky.eq(0), kx.eq(0), x.eq(x + 1)]
                with m.If(x + 1 == width):
                    m.d.sync += [state.eq(DRAIN), k.eq(0)]
        m.d.sync += s1.eq(busy & (state == ROW))

        # stage 1: the tap's C lanes
        pipe = _Pipe(m, "pc")
        cnt, lat = popcount_carry(m, pipe, self.src.data, taps.rdata[:C], [s1_mask], C, self.POPCOUNT_STRIDE)
        assert lat == self.lp
        meta = Cat(s1, s1_first, s1_last, s1_mask)
        for _ in range(lat):
            nxt = Signal(len(meta))
            m.d.sync += nxt.eq(meta)
            meta = nxt
        cv, cfirst, clast, cmask = meta[0], meta[1], meta[2], meta[3]

        # accumulate the nine taps -> dot
        acc = Signal(formats.popcount_bits(formats.TAPS * C))
        nacc = Signal(range(TAPS + 1))
        dot = Signal(signed(formats.dot_bits(C)))
        dv = Signal()
        m.d.sync += dv.eq(0)
        with m.If(cv):
            m.d.sync += [acc.eq(Mux(cfirst, 0, acc) + cnt), nacc.eq(Mux(cfirst, 0, nacc) + cmask)]
            with m.If(clast):
                m.d.sync += [dv.eq(1), dot.eq(2 * (acc + cnt) - C * (nacc + cmask))]

        # ---------------- scale / RPReLU / residual pipeline (8 stages)
        # One multiplier for both products: A*dot when a dot arrives (stage 1) and y*S three cycles
        # later (stage 4). Dots arrive 9 cycles apart within a row and much further apart across
        # channels (a LOAD and a DRAIN lie between), never 3 apart, so the two uses never collide.
        A, B, S, Z, T = field("A"), field("B"), field("S"), field("Z"), field("T")
        yw = fmt.y_bits
        v1, v2, v3, v4, v5, v6, v7, v8 = (Signal(name=f"pv{q}") for q in range(1, 9))
        mul_a = Signal(signed(max(len(A), yw)))
        mul_b = Signal(signed(max(len(dot), len(S))))
        prod = Signal(signed(len(mul_a) + len(mul_b)), reset_less=True)   # (no reset: packed into the DSP blocks)
        t0 = Signal(signed(max(len(A) + len(dot), len(B)) + 1))
        y = Signal(signed(yw))
        yd, yneg = Signal(signed(yw)), Signal()
        # q: y, or y*S shifted right by ss (>= the smallest ss the program uses): as wide as that
        q = Signal(signed(max(yw, yw + len(S) + 1 - min(self.ss_values)) + 1))
        v = Signal(signed(yw))
        o = Signal(signed(fmt.bits))
        obit = Signal()
        if not self.ext:
            m.d.comb += [mul_a.eq(Mux(dv, A, y)), mul_b.eq(Mux(dv, dot, S))]
        else:
            # lent out while ext_en (no job: dv low)
            m.d.comb += [mul_a.eq(Mux(dv, A, Mux(self.ext_en, self.ext_a, y))),
                         mul_b.eq(Mux(dv, dot, Mux(self.ext_en, self.ext_b, S))),
                         self.prod_o.eq(prod)]
        m.d.sync += [v1.eq(dv), v2.eq(v1), v3.eq(v2), v4.eq(v3), v5.eq(v4), v6.eq(v5), v7.eq(v6), v8.eq(v7)]
        m.d.sync += [prod.eq(mul_a * mul_b),                                  # 1: A*dot, 4: y*S
                     t0.eq(prod + B),                                         # 2
                     y.eq(saturate(_shift_by(t0, job.sa, self.sa_values), fmt.y_lo, fmt.y_hi)),  # 3
                     yd.eq(y), yneg.eq(y < 0),                                # 4 (prod = y*S)
                     q.eq(Mux(yneg, _round_shift_by(prod, job.ss, self.ss_values), yd)),        # 5
                     v.eq(saturate(q + Z, fmt.y_lo, fmt.y_hi))]                   # 6
        # the residual read is requested READ_LATENCY + 1 cycles before stage 7 adds its word (stage 3
        # at memmap.READ_LATENCY = 2): the word goes through a register (res_q) first, so no RAM
        # output select lies before the adder
        res_ptr = Signal(self.ram_aw)
        out_ptr = Signal(self.ram_aw)
        dst_ptr = Signal(self.bits_aw)
        ch = Signal(range(C))
        res_req = (v1, v2, v3, v4)[4 - memmap.READ_LATENCY]
        with m.If(res_req):
            m.d.comb += self.ram.addr.eq(res_ptr)
            m.d.sync += res_ptr.eq(res_ptr + C)
        # stage 7 adds the residual from its register; stage 8 saturates and compares with the
        # threshold
        osum = Signal(signed(max(yw, 16) + 1))
        res_q = Signal(signed(16))
        m.d.sync += res_q.eq(self.ram.rdata)
        m.d.sync += [osum.eq(v + res_q),                                             # 7
                     o.eq(saturate(osum, fmt.lo, fmt.hi)),                            # 8
                     obit.eq(saturate(osum, fmt.lo, fmt.hi) >= T)]
        with m.If(v8):
            m.d.comb += [self.ram.addr.eq(out_ptr), self.ram.we.eq(1), self.ram.wdata.eq(o)]
            m.d.comb += [self.dst.addr.eq(dst_ptr), self.dst.bit.eq(ch), self.dst.data.eq(obit),
                         self.dst.en.eq(job.dst_en)]
            m.d.sync += [out_ptr.eq(out_ptr + Mux(job.up, r * C, C)), dst_ptr.eq(dst_ptr + Mux(job.up, r, 1))]

        # per-channel pointers, set while the channel's record loads
        out_i = job.out[i]
        dst_i = job.dst[i]
        with m.If(busy & (state == LOAD) & (k == 0)):
            m.d.sync += [res_ptr.eq(job.res + c), ch.eq(c),
                         out_ptr.eq(out_i + memmap.feature_offset(j, c, C)), dst_ptr.eq(dst_i + j)]

        # ---------------- DRAIN, next channel
        last_ch = Signal()
        m.d.comb += last_ch.eq((c == C - 1) & (~job.up | ((i == r - 1) & (j == r - 1))))
        with m.If(busy & (state == DRAIN)):
            m.d.sync += k.eq(k + 1)
            with m.If(k == self.drain() - 1):
                with m.If(last_ch):
                    m.d.sync += [busy.eq(0), self.done.eq(1)]
                with m.Else():
                    m.d.sync += [state.eq(LOAD), k.eq(0)]
                    with m.If(job.up & ~((i == r - 1) & (j == r - 1))):
                        with m.If(j == r - 1):
                            m.d.sync += [j.eq(0), i.eq(i + 1)]
                        with m.Else():
                            m.d.sync += j.eq(j + 1)
                    with m.Else():
                        m.d.sync += [c.eq(c + 1), i.eq(0), j.eq(0)]
        return m
