"""WindowGen: 3x3 sliding-window generator over a raster stream of E-bit words (binary maps).

Stream signature
  i: In(stream of unsigned(E))            one word per input pixel, raster order
  o: Out(stream of layouts.window(E))     one window per output pixel: tap t = 3*ky + kx holds
                                          pixel (y+ky-1, x+kx-1) at bits [t*E, (t+1)*E), 0 outside
                                          the image; mask bit t = 1 iff the tap is inside
  width, height: In(unsigned)             frame geometry, 1..max_width / 1..max_height, stable
                                          during a frame and from 2 cycles before its first
                                          input; frames follow back to back
Output order: output rows y = 0..H-1, each row emitted `replay` times in a row (passes), pixels
x = 0..W-1 within a pass.

Structure. A line buffer (lib.memory, max_width words of K lanes of E bits, K = 2 for
replay = 1, K = 3 for replay > 1) holds input row r in lane r mod K; a live step writes only
its lane (write granularity E), so there is no read-modify-write. The unit walks "passes" of
W column steps each:
  - live pass (input row s = 0..H-1): accepts column x of row s, reads rows s-2, s-1 at column x
    (prefetched one step ahead), writes row s; from s >= 1 on it produces window row s-1;
  - replay passes (replay > 1: passes 1..replay-1 of window row s-1): from memory, no input;
  - flush passes (after input row H-1): window row H-1 (bottom row padded), no input.
A step shifts three column registers (the newest holds the memory lanes exactly as read, the
older two are rotated into top/mid/bottom order) and, for x >= 1, makes window (y, x-1)
pending; the right-edge window (y, W-1) is pending after the last step of a pass. Pending
windows are assembled from registers only into the output register, while the next steps go
on (the edge window is taken from the shifted registers if the next pass has already started).
The memory data go straight into registers, and the read port needs no collision logic
(no_rw_check: a step never reads the word written in the same cycle; for W = 1 a live step is
followed by one idle cycle instead).
Latency (replay = 1): window (y, x) is offered 2 cycles after input (y+1, x+1) is accepted,
window (y, W-1) 3 cycles after input (y+1, W-1); window row H-1 follows the frame's last input
pixel without needing any further input (in raster order it cannot precede row H-2). The input
is accepted while the unit emits; it is stalled only during replay and flush passes.

Sub-words (`sub` = Q > 1, a power of two dividing E). A line-buffer word of K lanes x E bits is
wide (K*E = 128 bits for C = 64) and shallow (max_width), so it takes several block RAMs for their
port width, not their capacity (an ECP5 DP16KD is at most 36 bits wide, an iCE40 EBR 16). With
Q > 1 the memory holds Q sub-words per column instead, word j = bits [j*S, (j+1)*S) of every lane
(S = E/Q, word K*S bits, depth Q*max_width), and a step takes P = Q + 2 cycles: after a step,
sub-word j of the accepted pixel is written (lane rot, granularity S) in the j-th cycle and
sub-word j of the next column is read one cycle later (so for W = 1, where both are the same
column, the read sees the write), into a gather register; the next step may happen once the
last sub-word is on the read port. For a layer whose engine takes G*F >= P cycles per window
(hw/bbcu_layer.py chooses Q so) the unit is never the bottleneck.

Cycle model (no bubbles, no back-pressure), first input to last output:
  per frame P * W * (1 + H * replay) cycles (one column step per P cycles, P = 1 without
  sub-words: W for input row 0, which emits nothing, then W * replay per window row), + H per
  frame for W = 1 and Q = 1 (the idle cycle after each live step), + 3 cycles of output latency
  at the end (2 for W = 1), - (P - 1) (the first step needs no gathering).
Golden twin: sw.golden.window3x3 (bit c of the E-bit word = channel c).
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.hdl import unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import bits_for

from sw import formats

from . import layouts
from .ram_read import NO_RW_CHECK, registered_read
from .replica import Replicated, groups

#: channels per enable group: the column and output registers of each group of this many channels
#: take their step / emit enable from their own copy of the control flags (hw/replica.py)
GROUP_CHANNELS = 16


class WindowGen(wiring.Component):
    def __init__(self, elem_bits: int, max_width: int, max_height: int, replay: int = 1, sub: int = 1,
                 decoupled: bool = False, group_channels: int = GROUP_CHANNELS):
        if elem_bits < 1 or max_width < 1 or max_height < 1 or replay < 1:
            raise ValueError("elem_bits, max_width, max_height and replay must be >= 1")
        if sub < 1 or sub & (sub - 1) or elem_bits % sub:
            raise ValueError(f"sub must be a power of two dividing elem_bits ({elem_bits}), not {sub}")
        self.elem_bits = elem_bits
        self.max_width = max_width
        self.max_height = max_height
        self.replay = replay
        self.sub = sub
        self.decoupled = decoupled
        self.lanes = 2 if replay == 1 else 3          # input rows held per line-buffer word
        self.groups = groups(elem_bits, group_channels)  # [lo, hi) channel ranges, one enable each
        super().__init__({
            "i": In(stream.Signature(unsigned(elem_bits))),
            "o": Out(stream.Signature(layouts.window(elem_bits))),
            "width": In(unsigned(bits_for(max_width))),
            "height": In(unsigned(bits_for(max_height))),
        })

    # ------------------------------------------------------------------ models
    @property
    def step_cycles(self) -> int:
        """Cycles per column step (P): 1, or sub + 2 with sub-words."""
        return 1 if self.sub == 1 else self.sub + 2

    def cycle_model(self, width: int, height: int, frames: int = 1) -> int:
        P = self.step_cycles
        if self.decoupled and P == 1:
            # a step that makes a window pending waits for the output register to be empty: two
            # cycles per window in the emitting passes (the W = 1 hold cycle is one of them), one
            # less per frame for W > 1 (its first window row starts at the full rate)
            per_frame = width + 2 * width * height * self.replay - (width > 1)
            return frames * per_frame + (2 if width == 1 else 3)
        per_frame = P * width * (1 + height * self.replay) + (height if width == 1 and P == 1 else 0)
        per_frame += int(self.decoupled and width > 1)   # (sub-words: a step every P >= 4 cycles anyway)
        return frames * per_frame + (2 if width == 1 else 3) - (P - 1)

    def resource_estimate(self) -> dict:
        e, k = self.elem_bits, self.lanes
        ctr = bits_for(self.max_width) + bits_for(self.max_height) + bits_for(self.replay) + 2
        win = formats.TAPS * e + formats.TAPS
        ff = 6 * e + (k + 1) * e + win + 2 * ctr + 16     # column registers, output register, control
        ff += 8 * len(self.groups)                        # replicated flags (hw/replica.py; the control's copy)
        per_bit = 1.3 if k == 2 else 1.9                  # LUTs per window bit (rotation, shift, mask)
        lut = int(per_bit * formats.TAPS * e) + 4 * ctr + 60
        if self.sub > 1:                                  # gather register, write shifter, phase
            ff += (k * e - k * e // self.sub) + e + 8
            lut += e + k * e // self.sub + 12
        return {"lut": lut, "ff": ff, "bram_bits": k * e * self.max_width, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        E, K, R = self.elem_bits, self.lanes, self.replay
        W, H = self.width, self.height

        Q = self.sub
        S = E // Q                                       # bits of a lane per sub-word
        qb = Q.bit_length() - 1
        m.submodules.mem = mem = memory.Memory(shape=unsigned(K * S), depth=max(self.max_width, 2) * Q, init=[],
                                               attrs=NO_RW_CHECK)
        wr = mem.write_port(granularity=S)
        rd_en = Signal()                                 # the read data register's load (hw/ram_read.py)
        rd, rd_q = registered_read(m, mem, rd_en, "rd_q")

        # ---------------------------------------------------------------- pass state
        col = Signal(range(max(self.max_width, 2)))      # column of the next step
        s = Signal(range(self.max_height + 2))           # input row of the live pass; H = flush
        p = Signal(range(max(R, 2)))                     # pass index (replay)
        rot = Signal(range(max(K, 2)))                   # s mod K: lane of input row s
        hold = Signal()                                  # W = 1: idle cycle after a live step
        # pass flags, registered (computed when the pass advances; H is stable within a frame and
        # the values at s = 0 do not depend on it)
        NG = len(self.groups)
        # flags read by the enables of the column and output registers: a copy per channel group
        # (hw/replica.py), copy 0 also for the control logic
        # (copies 0..NG-1 for the channel groups, copy CT = NG for the control: the step's enable
        # of the pass registers, the column counter, the line buffer and i.ready, so no group's
        # flags are also the control's, which the placer put with that group's column registers,
        # away from the pass registers: x4-base rows 135-139, the rot / s enables, 9.6-11.1 ns)
        CT = NG
        live_r = Replicated(NG + 1, "live", init=1)      # s < H and p == 0
        live = live_r[CT]
        emits = Signal()                                 # s != 0 (input row 0 makes no window)
        cur_top = Signal()                               # s >= 2: window row y = s - 1 >= 1
        cur_bot = Signal(init=1)                         # s < H: window row y <= H - 2
        # "col is the last column" is a register of this unit (set by the step that enters the
        # column, and from W == 1 while idle at column 0), so no compare with the frame width sits
        # in front of the step logic. A compare there started at a W - 1 register that yosys shares
        # between all window generators (same input): a high-fanout net across the chip was the
        # ECP5 critical path. W - 2 and W == 1 are registered too, so W must be stable 2 cycles
        # before the first input of a frame (the link sets it long before).
        wm2 = Signal.like(W)
        w_one = Signal()
        m.d.sync += [wm2.eq(W - 2), w_one.eq(W == 1)]
        last_col = Signal()
        # the column after col, Mux(last_col, 0, col + 1), with col + 1 as a register (recomputed
        # every cycle from the next col): it is the read address (Q = 1), and the adder in front of
        # the pixel window's LUT-RAM address was x2-base's critical path (docs/boards.md row 92).
        # (Not the whole Mux as a register: yosys makes "last_col_n" its synchronous reset, X
        # before the geometry copies settle: tests/test_postsynth.py.)
        col_p1 = Signal.like(col, init=1)
        next_col = Mux(last_col, 0, col_p1)
        # "col is 0", a register too (a step enters column 0 exactly when it leaves the last one):
        # its compare sat in front of the step logic, whose enable reaches every column register
        # (the ECP5 critical path of x2-base once the reset tree was in, docs/boards.md)
        col_zero = Signal(init=1)

        # ---------------------------------------------------------------- column registers
        # (no reset on the column data c0, c1, c2_in: the pass flags say what they hold, and windows
        # are taken only from columns loaded since. c2_lanes keeps it: without, the iCE40 netlist
        # makes yosys' emulation of the read register's initial value its reset, X in the strict
        # proof until the line buffer's first read, and a step may come first)
        c0 = Signal(3 * E, reset_less=True)              # (top, mid, bottom) rows, oldest column
        c1 = Signal(3 * E, reset_less=True)
        c2_lanes = Signal(K * E)                         # newest column: memory lanes as read
        c2_in = Signal(E, reset_less=True)               # newest column: input pixel (live) or 0
        c2_rot_r = Replicated(NG, "c2_rot", range(max(K, 2)))
        c2_live_r = Replicated(NG, "c2_live")

        def rows(v, lo, hi):
            """channels [lo, hi) of the (top, mid, bottom) rows of a column value"""
            return Cat(*[v[r * E + lo:r * E + hi] for r in range(3)])

        def lanes_of(v, lo, hi):
            """channels [lo, hi) of the K lanes of a line-buffer word"""
            return Cat(*[v[k * E + lo:k * E + hi] for k in range(K)])

        def c2_group(g):
            """newest column, channels of group g, in (top, mid, bottom) order (from copy g of its
            lane rotation)"""
            lo, hi = self.groups[g]
            lanes = [c2_lanes[k * E + lo:k * E + hi] for k in range(K)]
            c2_rot, c2_live, inp = c2_rot_r[g], c2_live_r[g], c2_in[lo:hi]
            if K == 2:     # lane rot holds row s-2 (top), lane 1-rot row s-1 (mid)
                return Cat(Mux(c2_rot, lanes[1], lanes[0]), Mux(c2_rot, lanes[0], lanes[1]), inp)
            # top: lane (rot+1)%3, mid: lane (rot+2)%3, bottom: input or lane rot (replay)

            def pick(off):
                return Mux(c2_rot == 0, lanes[off % 3], Mux(c2_rot == 1, lanes[(1 + off) % 3], lanes[(2 + off) % 3]))
            return Cat(pick(1), pick(2), Mux(c2_live, inp, pick(0)))

        # ---------------------------------------------------------------- pending windows
        pa_r = Replicated(NG + 1, "pa")                  # window (y, x) from (c0, c1, c2)
        a_top, a_bot, a_left = Signal(), Signal(), Signal()
        pe_r = Replicated(NG + 1, "pe")                  # right-edge window from (c1, c2) / (c0, c1)
        e_top, e_bot, e_left = Signal(), Signal(), Signal()
        esh_r = Replicated(NG + 1, "esh")                # the edge window's columns moved to (c0, c1)
        ov_r = Replicated(NG + 1, "ov")                  # copies of o.valid
        pa, pe, esh = pa_r[CT], pe_r[CT], esh_r[CT]

        # decoupled: the output register counts as free only when empty, so o.ready (from the
        # consumer, a flag of another unit that may sit far away) reaches o.valid alone, not the
        # step logic and its fan-out (engine skid flag -> step -> pass and column registers was the
        # ECP5 critical path of x2-base and x4-base, docs/boards.md rows 99-101). It costs a
        # cycle per window, free beside an engine that takes two or more (hw/bbcu_layer.py).
        def out_free(g):
            return ~ov_r[g] if self.decoupled else ~ov_r[g] | self.o.ready

        def emit_a(g):
            return pa_r[g] & out_free(g)

        def emit_e(g):
            return ~pa_r[g] & pe_r[g] & out_free(g)
        # a step shifts the columns: a pending window must leave first (or now), except that the
        # first step of a pass may shift the edge window once (esh)
        # `step` enables every column register (~6E flip-flops), so it is computed from few
        # registers in few levels (the ECP5 critical path of x4-base row 78 ran through five LUTs
        # to it): "col is 0 and not the last" (the edge window may still shift once) and "may
        # step" (no W = 1 hold cycle, sub-words gathered) are registers of their own.
        # The step of channel group g (its column registers' enable) comes from copy g of these
        # flags; copy 0's also drives the control (hw/replica.py: one ~1,000-load net was x4-base's
        # critical path, docs/boards.md row 108).
        # sub-words: phase ph = 0..Q+1 since the last step (Q+1: gathered, ready to step)
        ph = Signal(range(Q + 2), init=Q + 1)
        go_r = Replicated(NG + 1, "go", init=1)          # ~hold (Q = 1) / ph == Q + 1 (Q > 1)
        # "edge_ok" = (col_zero & ~last_col) | ~pe, one register (from the next values of the three):
        # with the two terms apart, `step` had seven inputs, three LUT levels, and the pass
        # registers' enables two more (x4-base docs/boards.md row 135: layer 10's rot, 10.1 ns)
        edge_ok_r = Replicated(NG + 1, "edge_ok", init=1)
        steps = [Signal(name=f"step_{g}") for g in range(NG + 1)]
        for g in range(NG + 1):
            can = (~pa_r[g] | out_free(g)) & (edge_ok_r[g] | (~pa_r[g] & out_free(g))) & go_r[g]
            m.d.comb += steps[g].eq(can & (self.i.valid | ~live_r[g]))
            if g == CT:
                m.d.comb += self.i.ready.eq(live & can)
        step = steps[CT]

        # ---------------------------------------------------------------- line buffer
        # The read port prefetches the next step's column: it reads next_col at every step (and in
        # the W = 1 hold cycle, after the step wrote that same column) and holds its data
        # otherwise, so the address depends on registers only and `step` only reaches the read
        # enable (ECP5 timing). The first step after a reset takes undefined lanes: they belong to
        # input row 0, whose pass emits no window, and are shifted out before row 1's windows.
        if Q == 1:
            m.d.comb += [
                rd.addr.eq(next_col),
                rd_en.eq(step | hold),
                wr.addr.eq(col),
                wr.data.eq(Cat(*[self.i.payload] * K)),
            ]
            for k in range(K):
                m.d.comb += wr.en[k].eq(step & live & (rot == k))
            new_lanes = rd_q
        else:
            # after a step at column wcol: cycle j = 0..Q-1 writes sub-word j of the accepted pixel
            # (shifted out of wbuf), cycle j+1 reads sub-word j of the next column (col) into the
            # gather register; the last sub-word stays on the read port (en low) until the step
            # (the step's lane and liveness are c2_rot / c2_live, registered with the column)
            wcol = Signal.like(col)
            wbuf = Signal(E, reset_less=True)
            gat = Signal(K * S * (Q - 1))
            sub_w = ph[:qb]
            sub_r = Signal(qb)
            m.d.comb += sub_r.eq(ph - 1)
            m.d.comb += [
                wr.addr.eq(Cat(sub_w, wcol)),
                wr.data.eq(Cat(*[wbuf[:S]] * K)),
                rd.addr.eq(Cat(sub_r, col)),
                rd_en.eq((ph >= 1) & (ph <= Q)),
            ]
            for k in range(K):
                m.d.comb += wr.en[k].eq((ph < Q) & c2_live_r[0] & (c2_rot_r[0] == k))
            gathered = ph == Q + 1
            with m.If(step):
                m.d.sync += [ph.eq(0), wcol.eq(col), wbuf.eq(self.i.payload), *go_r.eq(0)]
            with m.Elif(~gathered):
                m.d.sync += [ph.eq(ph + 1), wbuf.eq(wbuf >> S), *go_r.eq(ph == Q)]
            with m.If((ph >= 2) & (ph <= Q)):
                m.d.sync += gat.eq(Cat(gat[K * S:], rd_q)) if Q > 2 else gat.eq(rd_q)
            words = Cat(gat, rd_q)                    # sub-word j at [j*K*S, (j+1)*K*S)
            new_lanes = Cat(*[words[j * K * S + k * S: j * K * S + (k + 1) * S]
                              for k in range(K) for j in range(Q)])

        # ---------------------------------------------------------------- output register
        # per channel group g: the taps' channels [lo, hi) from copy g of the flags, loaded with
        # copy g's emit
        bits = self.o.payload.bits
        for g, (lo, hi) in enumerate(self.groups):
            pa_g = pa_r[g]
            e_unshifted = ~pa_g & ~esh_r[g]
            c0g, c1g, c2g = rows(c0, lo, hi), rows(c1, lo, hi), c2_group(g)
            cols = [Mux(e_unshifted, c1g, c0g), Mux(e_unshifted, c2g, c1g), c2g]
            row_ok = [Mux(pa_g, a_top, e_top), Const(1), Mux(pa_g, a_bot, e_bot)]
            col_ok = [Mux(pa_g, a_left, e_left), Const(1), pa_g]
            taps, mask = [], []
            n = hi - lo
            for ky in range(3):
                for kx in range(3):
                    ok = Signal(name=f"ok{ky}{kx}_{g}")
                    m.d.comb += ok.eq(row_ok[ky] & col_ok[kx])
                    mask.append(ok)
                    taps.append(Mux(ok, cols[kx][ky * n:(ky + 1) * n], 0))
            with m.If(emit_a(g) | emit_e(g)):
                m.d.sync += Cat(*[bits[t * E + lo:t * E + hi] for t in range(formats.TAPS)]).eq(Cat(*taps))
                if g == 0:
                    m.d.sync += self.o.payload.mask.eq(Cat(*mask))
        with m.If(emit_a(CT) | emit_e(CT)):
            m.d.sync += [self.o.valid.eq(1), *ov_r.eq(1)]
        with m.Elif(self.o.ready):
            m.d.sync += [self.o.valid.eq(0), *ov_r.eq(0)]
        with m.If(emit_a(CT)):
            m.d.sync += pa_r.eq(0)
        with m.If(emit_e(CT)):
            m.d.sync += [*pe_r.eq(0), *esh_r.eq(0)]

        # ---------------------------------------------------------------- step
        if Q == 1:
            m.d.sync += [hold.eq(step & live & w_one), *go_r.eq(~(step & live & w_one))]
        col_zero_n, last_col_n = Signal(), Signal()      # next values of col_zero / last_col
        m.d.comb += [col_zero_n.eq(col_zero), last_col_n.eq(last_col)]
        with m.If(step):
            m.d.comb += [col_zero_n.eq(last_col), last_col_n.eq(Mux(last_col, w_one, col == wm2))]
        with m.Elif(col_zero):                           # idle at column 0: follow W == 1
            m.d.comb += last_col_n.eq(w_one)
        # edge_ok's next value for a step and for no step, selected by the step (each from registers:
        # col_zero & ~last_col becomes last_col & ~w_one after a step, col_zero & ~w_one without;
        # pe is set by the last step of an emitting pass, else cleared by the edge window's emit)
        pe_kept = pe & ~emit_e(CT)
        m.d.sync += [col_zero.eq(col_zero_n), last_col.eq(last_col_n),
                     *edge_ok_r.eq(Mux(step, (last_col & ~w_one) | ~((last_col & emits) | pe_kept),
                                       (col_zero & ~w_one) | ~pe_kept))]
        col_n = Mux(step, next_col, col)                 # (col moves only with a step, to next_col)
        m.d.sync += col_p1.eq(col_n + 1)

        # the next pass's state, from registers only (H is stable within a frame, and the values
        # at s = 0 do not depend on it); it is loaded by the last step of a pass, so each pass
        # register has that step as its only enable
        # "H >= 2" and "s + 1 < H" as registers, recomputed every cycle (the compare with the
        # geometry copy, a carry chain, sat in front of the pass flags: x4-base row 109, layers 0,
        # 2, 3, 7). One cycle stale after s moves, which no pass end that reads it can see: s moves
        # only at a pass end, and the next pass end that reads s + 1 < H (the last pass of a row)
        # is at least two cycles later: after a live pass end the W = 1 hold cycle, with replay > 1
        # the live pass is followed by replay passes, and sub-word steps are >= 4 cycles apart.
        # (tests/test_hw_window.py runs W = 1 with and without replay, one frame and back to back.)
        h2, s1_lt_h = Signal(), Signal()
        m.d.sync += [h2.eq(H >= 2), s1_lt_h.eq((s + 1) < H)]
        cur = dict(s=s, p=p, rot=rot, live=live, emits=emits, cur_top=cur_top, cur_bot=cur_bot)
        nxt = {k: Signal.like(v, name=f"n_{k}") for k, v in cur.items()}

        def next_pass(**v):
            m.d.comb += [nxt[k].eq(v.get(k, cur[k])) for k in nxt]
        with m.If(~emits):                               # s == 0 -> s = 1
            next_pass(s=1, p=0, rot=1, live=h2, emits=1, cur_top=0, cur_bot=h2)
        with m.Elif(p != R - 1):                         # next replay pass of the same row
            next_pass(p=p + 1, live=0)
        with m.Elif(~cur_bot):                           # s == H: frame done -> s = 0
            next_pass(s=0, p=0, rot=0, live=1, emits=0, cur_top=0, cur_bot=1)
        with m.Else():                                   # s -> s + 1
            next_pass(s=s + 1, p=0, rot=Mux(rot == K - 1, 0, rot + 1), live=s1_lt_h, cur_top=1, cur_bot=s1_lt_h)

        pass_end = Signal(name="pass_end")
        m.d.comb += pass_end.eq(step & last_col)
        with m.If(pass_end):
            m.d.sync += [cur[k].eq(nxt[k]) for k in nxt]
            m.d.sync += live_r.eq(nxt["live"])

        # the column registers, per channel group with that group's step
        for g, (lo, hi) in enumerate(self.groups):
            with m.If(steps[g]):
                m.d.sync += [rows(c0, lo, hi).eq(rows(c1, lo, hi)), rows(c1, lo, hi).eq(c2_group(g)),
                             lanes_of(c2_lanes, lo, hi).eq(lanes_of(new_lanes, lo, hi)),
                             c2_in[lo:hi].eq(Mux(live_r[g], self.i.payload[lo:hi], 0))]
        with m.If(step):
            m.d.sync += [*c2_rot_r.eq(rot), *c2_live_r.eq(live), col.eq(next_col)]
            with m.If(emits & ~col_zero):
                m.d.sync += [*pa_r.eq(1), a_top.eq(cur_top), a_bot.eq(cur_bot), a_left.eq(col >= 2)]
            with m.If(pe & ~emit_e(CT)):
                m.d.sync += esh_r.eq(1)
            with m.If(last_col):
                with m.If(emits):
                    m.d.sync += [*pe_r.eq(1), *esh_r.eq(0), e_top.eq(cur_top), e_bot.eq(cur_bot),
                                 e_left.eq(~col_zero)]
        return m
