"""BilinearSkip: the SR global skip, x r bilinear up-sampling of the LR input pixels in 2^-16 units.

Stream signature
  i: In(stream of layouts.pixel(colors))                 LR pixels, raster order
  o: Out(stream of ArrayLayout(unsigned(24), colors))    HR skip words, raster order (H*r rows of W*r)
  width, height: In(unsigned)                             LR frame geometry, stable during a frame
                                                          and from 3 cycles before its first input

Arithmetic (docs/arithmetic.md section 4): separable, rows then columns, per 1-D phase j the
weights (off, w0, w1) of golden.bilinear_weights_1d(r), w0 + w1 = 256, indices clamped to the
image (edge replication):
  V[x]    = w0_i * P[y+off_i][x] + w1_i * P[y+off_i+1][x] = (Pa << 8) + w1_i * (Pb - Pa)   (16 bits)
  out[X]  = (Va << 8) + u1_j * (Vb - Va)                   with X = r*x + j              (24 bits)
mode="identity" (r = 1, denoising/JPEG skip): out = p << 16, one output per input, in input order.

Architecture (bilinear): LR rows go to a 4-row line buffer (lib.memory, one write and one sync read
port; row y in slot y mod 4, so rows y-1..y+1 in use plus the row being written). A producer walks
the HR rows (LR row y, phase i, column x) and reads Pa and Pb (two cycles per column) into the
vertical interpolator (read, register, difference, weighting: a pipeline with one enable); its V
values enter a 4-deep FIFO. The consumer holds V[x-1], V[x] in
registers and the FIFO head as V[x+1], and emits r outputs per column, one per cycle, through a
two-stage pipeline (operand select, horizontal interpolation). The weights are constants per
phase, so both interpolators are shift-and-add terms and a small mux (no multipliers). Row y's phase i starts once LR row
y+off_i+1 (clamped) has arrived; the input may run up to two LR rows ahead of the producer; a new
frame's input starts once the producer has read the old frame.

Cycle model (no bubbles, no back-pressure, one frame): the first HR row needs LR row 0, then
outputs flow one per cycle:
  cycle_model(w, h) = w + r*r*w*h + 13 - (w == 1) + (r*h - 1) * max(0, 2*w + 2 - r*w) (bilinear);
  w*h + 1 (identity)
(measured exactly for r = 2, 3, 4 and the LR sizes of tests/test_hw_bilinear.py: the producer
needs 2 cycles per column plus 2 settle cycles per row of V values, the consumer r per column; the
last term is where the producer is the slower one)
Golden twin: sw.golden.bilinear_skip (identity: pix << 16).
"""
from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from sw import formats
from sw.golden import bilinear_weights_1d

from . import layouts
from .bram_fifo import BlockRamFIFO
from .head import const_mul, csd, last_flag, next_is_last, period_regs, select
from .ram_read import NO_RW_CHECK, registered_read

#: width of a skip word (2^-16 pixel units)
SKIP_BITS = formats.PIXEL_BITS + formats.BILINEAR_FRAC
#: bits of a vertically interpolated value (2^-8 pixel units)
V_BITS = formats.PIXEL_BITS + formats.BILINEAR_FRAC_1D
FIFO_DEPTH = 4


def skip_layout(colors: int):
    return data.ArrayLayout(unsigned(SKIP_BITS), colors)


class BilinearSkip(wiring.Component):
    #: cycles from LR row 0 complete to the first output transfer (read V[0], V[1]: 2 cycles each,
    #: read-data register, FIFO (memory, output register), prime, operand, weighted-difference and
    #: output registers);
    #: one less for w = 1 (no V[1])
    LATENCY = 13

    def __init__(self, r: int, colors: int, max_width: int, max_height: int, mode: str = "bilinear"):
        if mode not in ("bilinear", "identity"):
            raise ValueError(f"mode must be 'bilinear' or 'identity', got {mode!r}")
        if mode == "identity" and r != 1:
            raise ValueError("identity mode has r = 1")
        if mode == "bilinear" and r < 2:
            raise ValueError("bilinear mode needs r >= 2 (x1 bilinear is the identity: use mode='identity')")
        if max_width < 1 or max_height < 1:
            raise ValueError("max_width and max_height must be >= 1")
        self.r, self.colors, self.mode = r, colors, mode
        self.max_width, self.max_height = max_width, max_height
        self.sbits = ceil_log2(max_width)            # column bits of a line-buffer address
        self.weights = bilinear_weights_1d(r) if mode == "bilinear" else [(0, 256, 0)]
        for off, w0, w1 in self.weights:
            assert off in (-1, 0) and w0 + w1 == 1 << formats.BILINEAR_FRAC_1D
        super().__init__({
            "i": In(stream.Signature(layouts.pixel(colors))),
            "o": Out(stream.Signature(skip_layout(colors))),
            "width": In(range(max_width + 1)),
            "height": In(range(max_height + 1)),
        })

    # ------------------------------------------------------------------ models
    def cycle_model(self, width: int, height: int) -> int:
        if self.mode == "identity":
            return width * height + 1
        # a row of V values takes the producer 2 cycles per column (two line-buffer reads) plus its
        # two settle cycles, the consumer r per column: where the producer is slower (r = 2; r = 3
        # at width 1) each row of V values after the first adds the difference
        extra = (self.r * height - 1) * max(0, 2 * width + 2 - self.r * width)
        return width + self.r * self.r * width * height + self.LATENCY - int(width == 1) + extra

    def resource_estimate(self) -> dict:
        c = self.colors
        if self.mode == "identity":
            return {"lut": 2, "ff": 8 * c + 1, "bram_bits": 0, "dsp": 0}
        cnt = 2 * (self.sbits + ceil_log2(self.max_height + 1) + ceil_log2(self.r)) + self.sbits + 8
        ff = cnt + 8 * c + 9 + (V_BITS * c + 1) + 2 * V_BITS * c + (2 * V_BITS + 1) * c + 9 + SKIP_BITS * c + 8
        ff += V_BITS * c + 10                      # the V FIFO's output register and pointers
        ff += 4                                    # in_x_last, px_last, py_first, py_last
        ff += 3 + 2                                # in_room's dist, y_last, y_end
        ff += (9 + 8) * c + 1 + self.r.bit_length()  # stage 3: difference, Pa, valid, phase
        # per lane: vertical (9-bit diff, one shift-add per phase term, mux, add) and horizontal
        # (17-bit diff, same) interpolators, operand muxes; FIFO in LUT RAM / registers
        terms = sum(max(1, len(csd(w1)) - 1) for _, _, w1 in self.weights)
        lut = 2 * cnt + 60 + c * (9 + terms * 10 + 9 + 17 + terms * 18 + SKIP_BITS + 3 * V_BITS) \
            + FIFO_DEPTH * V_BITS * c // 4
        return {"lut": lut, "ff": ff, "bram_bits": 4 * (1 << self.sbits) * 8 * c, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        if self.mode == "identity":
            return self._identity()
        return self._bilinear()

    def _identity(self):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += self.o.valid.eq(1)
            m.d.sync += [self.o.payload[k].eq(self.i.payload[k] << formats.BILINEAR_FRAC)
                         for k in range(self.colors)]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        return m

    def _bilinear(self):
        m = Module()
        r, colors, sbits = self.r, self.colors, self.sbits
        W, H = self.width, self.height
        xs, ys, ps = range(max(self.max_width, 2)), range(self.max_height + 1), range(max(r, 2))
        one = formats.BILINEAR_FRAC_1D

        # (NO_RW_CHECK: a read whose data are used never meets the write of its word; the rows
        # read, row_a and row_b, lie below in_y and at most 3 rows below it, and the write row is
        # in_y, modulo 4; the read data of a cycle without p_go are not used)
        m.submodules.lines = lines = memory.Memory(shape=layouts.pixel(colors), depth=4 << sbits, init=[],
                                                   attrs=NO_RW_CHECK)
        wp = lines.write_port()

        def addr(x, row):
            return Cat(x[:sbits], row[:2]) if sbits else row[:2]

        # W - 1 and H - 1 registered (stable within a frame, set long before its first pixel): the
        # subtracts in front of the compares were on the ECP5 critical path
        # (with W - 2, H - 2, W == 1, H == 1 for the consumer's last flags: hw/head.period_regs)
        wper, hper = period_regs(m, W, "w"), period_regs(m, H, "h")
        wm1, hm1 = wper[0], hper[0]

        # ================================================================ input: LR rows -> line buffer
        in_x, in_y = Signal(xs), Signal(ys)
        py = Signal(ys)                         # producer's LR row
        in_fire = Signal()
        # ready = (in_y <= H - 1) & (in_y <= py + 2), as a register for the next in_y and py: the
        # compares behind it reached the skip FIFO's block-RAM read enable (an ECP5 path over 8 ns
        # by the depth map). Every candidate (in_y or in_y + 1, py or py + 1) is compared from
        # registers and the late controls only select (compares after the increments were x2-base
        # row 81's critical path, 22 ns)
        in_room = Signal(init=1)
        y_inc, p_inc, f_read = Signal(), Signal(), Signal()   # in_y + 1, py + 1, frame read (both 0)
        m.d.comb += [self.i.ready.eq(in_room),
                     in_fire.eq(self.i.valid & self.i.ready),
                     wp.addr.eq(addr(in_x, in_y)), wp.data.eq(self.i.payload), wp.en.eq(in_fire)]
        in_x_last = Signal(name="in_x_last")              # in_x == W - 1, a register
        last_flag(m, in_x_last, in_x, in_fire, wper)
        with m.If(in_fire):
            with m.If(in_x_last):
                m.d.sync += [in_x.eq(0), in_y.eq(in_y + 1)]
                m.d.comb += y_inc.eq(1)
            with m.Else():
                m.d.sync += in_x.eq(in_x + 1)

        # ================================================================ producer: V values -> FIFO
        # (FIFO_DEPTH words in memory and one in an output register: the head the consumer computes
        # with is a register. As lib.fifo.SyncFIFO its asynchronous read went from a LUT-RAM, whose
        # read address yosys had merged with the pop logic in front, into the V registers: x2-base's
        # ECP5 critical path in docs/boards.md row 96, 15.5 ns)
        m.submodules.vfifo = vfifo = BlockRamFIFO(width=V_BITS * colors, depth=FIFO_DEPTH + 1)
        pi, px, pab = Signal(ps), Signal(xs), Signal()
        neg = select(pi, [Const(int(off == -1), 1) for off, _, _ in self.weights])
        row_a = Signal(ys)
        row_b = Signal(ys)
        # "py is the first / last LR row" as registers (the H - 1 compare in front of row_b_r was
        # x4-base's ECP5 critical path, docs/boards.md row 127: 11.9 ns): py moves only when a row of
        # V values of the last phase is done (py_adv), to py + 1 or to 0 after H - 1
        py_first, py_last = Signal(init=1, name="py_first"), Signal(name="py_last")
        py_adv = Signal()
        last_flag(m, py_last, py, py_adv, hper)
        with m.If(py_adv):
            m.d.sync += py_first.eq(py_last)
        m.d.comb += [row_a.eq(Mux(neg, Mux(py_first, 0, py - 1), py)),
                     row_b.eq(Mux(neg | py_last, py, py + 1))]
        # the source rows as registers that follow row_a / row_b (the H - 1 compare, the increment
        # and the select in front of the compare below and of the read address were over 8 ns on
        # the ECP5 by the depth map), and "both source rows are in the line buffer", registered
        # from them. in_y only grows within a frame, so a stale value is only late; row_b moves
        # (and in_y is cleared) only when a row of V values is done, and the two cycles after that
        # (`settle`: the row registers, then rows_in) issue nothing while they update.
        row_a_r, row_b_r = Signal(ys, name="row_a_r"), Signal(ys, name="row_b_r")
        m.d.sync += [row_a_r.eq(row_a), row_b_r.eq(row_b)]
        rows_in, settle = Signal(), Signal(2)
        m.d.sync += rows_in.eq(in_y > row_b_r)
        vv = Signal()                            # V register valid (entering the FIFO)
        padv = Signal()
        rp, line_q = registered_read(m, lines, padv, "line_q")
        p_go = Signal()
        m.d.comb += [padv.eq(~vv | vfifo.w_rdy),
                     p_go.eq(padv & rows_in & (settle == 0)),
                     rp.addr.eq(addr(px, Mux(pab, row_b_r, row_a_r)))]
        px_last = Signal(name="px_last")                  # px == W - 1, a register
        last_flag(m, px_last, px, p_go & pab, wper)
        m.d.sync += settle.eq(Cat(p_go & pab & px_last, settle[0]))
        with m.If(p_go):
            m.d.sync += pab.eq(~pab)
            with m.If(pab):
                with m.If(px_last):
                    m.d.sync += px.eq(0)
                    with m.If(pi == r - 1):
                        m.d.sync += pi.eq(0)
                        m.d.comb += py_adv.eq(1)
                        with m.If(py_last):
                            m.d.sync += [py.eq(0), in_y.eq(0)]      # frame read: the next may come in
                            m.d.comb += f_read.eq(1)
                        with m.Else():
                            m.d.sync += py.eq(py + 1)
                            m.d.comb += p_inc.eq(1)
                    with m.Else():
                        m.d.sync += pi.eq(pi + 1)
                with m.Else():
                    m.d.sync += px.eq(px + 1)

        # in_y + a <= H - 1 and in_y + a <= py + b + 2, for a, b in {0, 1}, from registers kept
        # beside in_y and py, so no adder or compare lies in front of in_room (py -> py + 2 and
        # in_y + 1 -> the compare, two carry chains, was x4-base's ECP5 critical path, docs/boards.md
        # row 135: 10.9 ns):
        # - dist = py + 2 - in_y, moved by the increments (in_y <= py + 2 by in_room, and
        #   in_y >= py: py moves on only when its rows are in, so dist stays in 0..2);
        # - y_last / y_end: in_y == H - 1 / in_y == H (in_y counts 0..H and goes back to 0 on the
        #   frame read; H changes only between frames, where in_y is 0 and y_end 0; y_last follows
        #   a new H like hw/head.last_flag's flags).
        dist = Signal(range(-4, 4), init=2, name="dist")
        with m.If(f_read):
            m.d.sync += dist.eq(2)
        with m.Elif(y_inc & ~p_inc):
            m.d.sync += dist.eq(dist - 1)
        with m.Elif(p_inc & ~y_inc):
            m.d.sync += dist.eq(dist + 1)
        y_last, y_end = Signal(name="y_last"), Signal(name="y_end")
        m.d.sync += [y_last.eq(Mux(f_read, hper[2], Mux(y_inc, in_y == hper[1], in_y == hm1))),
                     y_end.eq(~f_read & Mux(y_inc, y_last, y_end))]
        y_ok = [Signal(name=f"y_ok{a}") for a in range(2)]
        p_ok = [[Signal(name=f"p_ok{a}{b}") for b in range(2)] for a in range(2)]
        m.d.comb += [y_ok[0].eq(~y_end), y_ok[1].eq(~y_end & ~y_last)]
        for a in range(2):
            for b in range(2):
                m.d.comb += p_ok[a][b].eq(dist >= a - b)
        room = Mux(y_inc, y_ok[1] & Mux(p_inc, p_ok[1][1], p_ok[1][0]), y_ok[0] & Mux(p_inc, p_ok[0][1], p_ok[0][0]))
        m.d.sync += in_room.eq(f_read | room)

        # stage 1: the read data arrive; stage 2: registered (no arithmetic behind the block RAM's
        # output, which is slow on the ECP5: 5.6 ns clock-to-out without its output register)
        v1, ab1, ph1 = Signal(), Signal(), Signal(ps)
        v2, ab2, ph2 = Signal(), Signal(), Signal(ps)
        # (pd, loaded straight from the read register, has no reset: the board build makes it the
        # block RAM's output register, boards/outreg.py, which moves no reset)
        pd = Signal(layouts.pixel(colors), reset_less=True)
        pa = Signal(layouts.pixel(colors))
        vreg = [Signal(V_BITS, name=f"v{k}") for k in range(colors)]
        # stage 3: the difference Pb - Pa registered (with Pa and the phase) before the weighting:
        # difference -> shift-and-add -> phase select -> + Pa in one cycle was x4-base's ECP5
        # critical path, 12.4 ns (docs/boards.md row 112)
        v3, ph3 = Signal(), Signal(ps)
        d3 = [Signal(signed(9), name=f"d3_{k}") for k in range(colors)]
        pa3 = Signal(layouts.pixel(colors))
        with m.If(padv):
            m.d.sync += [v1.eq(p_go), ab1.eq(pab), ph1.eq(pi), v2.eq(v1), ab2.eq(ab1), ph2.eq(ph1), pd.eq(line_q)]
            with m.If(v2 & ~ab2):
                m.d.sync += pa.eq(pd)
            m.d.sync += [v3.eq(v2 & ab2), ph3.eq(ph2), pa3.eq(pa), vv.eq(v3)]
            for k in range(colors):
                m.d.sync += d3[k].eq(pd[k] - pa[k])              # signed 9 bits
                # w1 * diff for this phase: constant shift-and-add per phase, then a small mux
                m.d.sync += vreg[k].eq((pa3[k] << one) + select(ph3, [const_mul(d3[k], w1) for _, _, w1 in self.weights]))
        m.d.comb += [vfifo.w_en.eq(vv), vfifo.w_data.eq(Cat(*vreg))]

        # ================================================================ consumer: HR outputs
        head = [vfifo.r_data[V_BITS * k:V_BITS * (k + 1)] for k in range(colors)]
        cy, ci, cx, cj = Signal(ys), Signal(ps), Signal(xs), Signal(ps)
        primed = Signal()
        vm = [Signal(V_BITS, name=f"vm{k}") for k in range(colors)]
        v0 = [Signal(V_BITS, name=f"v0_{k}") for k in range(colors)]
        cadv = Signal()
        # "cx is the last column", "cj / ci the last phase", "cy the last row" as registers (hw/head
        # last_flag / next_is_last): their compares sat in front of the FIFO pop, the V registers'
        # enables and selects (x4-base docs/boards.md rows 109-110, 281 endpoints over 8 ns)
        x_last, j_last, i_last, y_last = Signal(), Signal(init=r == 1), Signal(init=r == 1), Signal()
        row_last, need_head = Signal(), Signal()
        out_go, prime_go, pop = Signal(), Signal(), Signal()
        adv_i = out_go & j_last & x_last                 # a HR row of outputs ends
        last_flag(m, x_last, cx, out_go & j_last, wper)
        last_flag(m, y_last, cy, adv_i & i_last, hper)
        with m.If(out_go):
            m.d.sync += j_last.eq(next_is_last(j_last, cj, r))
        with m.If(adv_i):
            m.d.sync += i_last.eq(next_is_last(i_last, ci, r))
        m.d.comb += [
            cadv.eq(~self.o.valid | self.o.ready),
            row_last.eq(y_last & i_last),
            need_head.eq(~x_last | (j_last & ~row_last)),
            out_go.eq(primed & cadv & (vfifo.r_rdy | ~need_head)),
            prime_go.eq(~primed & vfifo.r_rdy),
            vfifo.r_en.eq(pop),
        ]
        # the V registers load on the pop (priming, or a HR column's last phase unless the
        # frame ends), v0 the FIFO's head, vm v0 within a row and the head on a new one: as the
        # branches below their enables and selects were 4-5 LUTs from o.ready (x4-base docs/
        # boards.md row 130: v0 / vm 80 endpoints over 8 ns, 11.3 ns). With j_last the head is
        # needed (need_head) unless the frame ends, so the load needs only the FIFO's r_rdy; the
        # load is the FIFO's pop (prime_go | out_go & j_last & need_head). col_end, a function of
        # four flags, is kept as a wire of its own: abc otherwise shared the pop's logic with the
        # FIFO's and put o.ready 4 LUTs in front of the V registers.
        col_end = Signal(attrs={"keep": 1})
        m.d.comb += [col_end.eq(j_last & ~(x_last & row_last)),
                     pop.eq(prime_go | (primed & cadv & vfifo.r_rdy & col_end))]
        with m.If(pop):
            m.d.sync += [v0[k].eq(head[k]) for k in range(colors)]
            m.d.sync += [vm[k].eq(Mux(~primed | x_last, head[k], v0[k])) for k in range(colors)]
        with m.If(prime_go):
            m.d.sync += primed.eq(1)
        with m.If(out_go):
            with m.If(j_last):
                m.d.sync += cj.eq(0)
                with m.If(~x_last):
                    m.d.sync += cx.eq(cx + 1)
                with m.Else():
                    m.d.sync += cx.eq(0)
                    with m.If(row_last):
                        m.d.sync += primed.eq(0)
                    with m.If(i_last):
                        m.d.sync += [ci.eq(0), cy.eq(Mux(y_last, 0, cy + 1))]
                    with m.Else():
                        m.d.sync += ci.eq(ci + 1)
            with m.Else():
                m.d.sync += cj.eq(cj + 1)

        hneg = select(cj, [Const(int(off == -1), 1) for off, _, _ in self.weights])
        c1v, cj1 = Signal(), Signal(ps)
        a1 = [Signal(V_BITS, name=f"a1_{k}") for k in range(colors)]
        d1 = [Signal(signed(V_BITS + 1), name=f"d1_{k}") for k in range(colors)]
        c2v = Signal()
        a2 = [Signal(V_BITS, name=f"a2_{k}") for k in range(colors)]
        wsel = [select(cj1, [const_mul(d1[k], u1) for _, _, u1 in self.weights]) for k in range(colors)]
        wd2 = [Signal(wsel[k].shape(), name=f"wd2_{k}") for k in range(colors)]
        with m.If(cadv):
            m.d.sync += [c1v.eq(out_go), cj1.eq(cj)]
            for k in range(colors):
                vp = Mux(x_last, v0[k], head[k])
                va = Mux(hneg, vm[k], v0[k])
                vb = Mux(hneg, v0[k], vp)
                m.d.sync += [a1[k].eq(va), d1[k].eq(vb - va)]
            # the phase's weighted difference registered before the sum (shift-and-add -> phase
            # select -> + a1 in one cycle was 11.4 ns on x4-base, docs/boards.md row 133)
            m.d.sync += [c2v.eq(c1v), self.o.valid.eq(c2v)]
            for k in range(colors):
                m.d.sync += [a2[k].eq(a1[k]), wd2[k].eq(wsel[k])]
                m.d.sync += self.o.payload[k].eq((a2[k] << one) + wd2[k])
        return m
