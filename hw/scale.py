"""ScaleRPReLU: per-channel scale + RPReLU of binary dot products (docs/arithmetic.md section 3.3).

Stream signature
  i: In(stream of {value: dot (signed dot_bits(cin)), ch: unsigned(max(1, bits(cout-1)))})
        one dot product per transfer, tagged with its conv output channel `ch` (< cout)
  o: Out(stream of v (signed FW+2 bits))      one result per input, in input order

For the constants of channel ch (A, B, SA, S, SS, Z = layer.mult/bias/shift/slope/slope_shift/zeta):
  y = sat_{FW+2}((A*d + B) >> SA)
  q = y                          if y >= 0
      (y*S + 2^(SS-1)) >> SS     otherwise
  v = sat_{FW+2}(q + Z)
The per-channel constants sit in one ROM (amaranth.lib.memory, synchronous read, addressed by ch)
whose field widths are derived from the actual constants; every datapath width below is derived
from the exact value ranges (per channel, over d in [-9cin, 9cin]), so nothing can overflow.

Two implementations (`mult`):
  "dsp"       both products with `*` (yosys maps them to DSP blocks: ECP5 MULT18X18D, iCE40
              SB_MAC16 with -dsp); a 7-stage pipeline with one global enable
              (en = ~o.valid | o.ready), one result per cycle; each pair of stages takes it from
              its own copy of o.valid (hw/replica.py), so no one net enables all ~200 flip-flops
              (x4-base: 10.8 ns to their clock enables, docs/boards.md row 123).
              Cycle model: n items take n + 7 cycles (first input to last output transfer).
  "shiftadd"  no DSP: two sequential radix-2 shift-and-add multipliers (shift-right product
              register, the sign bit of a signed multiplier is subtracted) working as a two-stage
              pipeline.  Stage 1 forms A*d + B iterating over the K1 = dot_bits(cin) bits of d
              (B enters as the base of the first step); stage 2 forms y*S + 2^(SS-1) iterating over
              the K2 bits of the narrower of y and S (the rounding half is the initial accumulator).
              Each stage needs one extra cycle to hand over, so one result every
              P = max(K1, K2) + 1 cycles.
              Cycle model: n items take (n - 1) * P + K1 + K2 + 4 cycles.
Golden twin: sw.golden.scale_rprelu.
"""
from __future__ import annotations

from amaranth import Cat, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats
from sw.formats import FeatureFormat
from sw.program import BinaryLayer

from . import layouts
from .replica import Replicated


def _shape(lo: int, hi: int) -> Shape:
    """Smallest shape holding every integer in [lo, hi] (at least 1 bit)."""
    return Shape.cast(range(min(int(lo), 0), max(int(hi), 1) + 1))


def _sat(x, lo: int, hi: int):
    return Mux(x > hi, hi, Mux(x < lo, lo, x))


def ch_shape(cout: int) -> Shape:
    return unsigned(max(1, (cout - 1).bit_length()))


def in_layout(layer: BinaryLayer) -> data.StructLayout:
    """Payload of the input stream: {value: dot, ch: conv output channel}."""
    return data.StructLayout({"value": layouts.dot(layer.cin), "ch": ch_shape(layer.cout)})


class _Ranges:
    """Exact value ranges of every intermediate quantity (python ints), per layer."""

    def __init__(self, layer: BinaryLayer, fmt: FeatureFormat):
        A = [int(a) for a in layer.mult]
        B = [int(b) for b in layer.bias]
        S = [int(s) for s in layer.slope]
        Z = [int(z) for z in layer.zeta]
        if not (len(A) == len(B) == len(S) == len(Z) == layer.cout):
            raise ValueError("constant arrays must have cout entries")
        self.A, self.B, self.S, self.Z = A, B, S, Z
        self.sa, self.ss = int(layer.shift), int(layer.slope_shift)
        if self.sa < 0 or self.ss < 0:
            raise ValueError("shifts must be >= 0")
        self.half = (1 << (self.ss - 1)) if self.ss else 0
        dmax = formats.TAPS * layer.cin
        self.d = (-dmax, dmax)
        prods = [(min(a * -dmax, a * dmax), max(a * -dmax, a * dmax)) for a in A]
        self.p = (min(p[0] for p in prods), max(p[1] for p in prods))
        sums = [(p[0] + b, p[1] + b) for p, b in zip(prods, B)]
        self.t0 = (min(s[0] for s in sums), max(s[1] for s in sums))          # A*d + B
        self.t = (self.t0[0] >> self.sa, self.t0[1] >> self.sa)               # >> SA
        ylo, yhi = fmt.y_lo, fmt.y_hi
        self.y = (min(max(self.t[0], ylo), yhi), max(min(self.t[1], yhi), ylo))
        ms = [v * s for s in S for v in self.y]
        self.m = (min(ms), max(ms))                                           # y * S
        self.m0 = (self.m[0] + self.half, self.m[1] + self.half)              # y * S + half
        qs = [0, max(self.y[1], 0)]
        if self.y[0] < 0:
            for s in S:
                qs += [(v * s + self.half) >> self.ss for v in (self.y[0], -1)]
        self.q = (min(qs), max(qs))
        self.qz = (self.q[0] + min(Z), self.q[1] + max(Z))
        self.fmt = fmt


class ScaleRPReLU(wiring.Component):
    PIPE_LATENCY = 8

    def __init__(self, layer: BinaryLayer, fmt: FeatureFormat, mult: str = "dsp"):
        if mult not in ("dsp", "shiftadd"):
            raise ValueError(f"mult must be 'dsp' or 'shiftadd', not {mult!r}")
        self.layer, self.fmt, self.mult = layer, fmt, mult
        self.cout, self.cin = int(layer.cout), int(layer.cin)
        self.rg = rg = _Ranges(layer, fmt)
        # ROM field shapes, from the constants
        self.a_shape = _shape(min(rg.A), max(rg.A))
        self.b_shape = _shape(min(rg.B), max(rg.B))
        self.s_shape = _shape(min(rg.S), max(rg.S))
        self.z_shape = _shape(min(rg.Z), max(rg.Z))
        self.d_shape = layouts.dot(self.cin)
        self.y_shape = _shape(*rg.y)
        # shift-add iteration counts
        self.k1 = self.d_shape.width
        self.iter_y = self.y_shape.width <= self.s_shape.width   # stage 2 iterates over y (else S)
        self.k2 = self.y_shape.width if self.iter_y else self.s_shape.width
        super().__init__({
            "i": In(stream.Signature(in_layout(layer))),
            "o": Out(stream.Signature(layouts.y_value(fmt))),
        })

    # ------------------------------------------------------------------ models
    def rom_layout(self) -> data.StructLayout:
        return data.StructLayout({"a": self.a_shape, "b": self.b_shape, "s": self.s_shape, "z": self.z_shape})

    def period(self) -> int:
        """Cycles between results in steady state."""
        return 1 if self.mult == "dsp" else max(self.k1, self.k2) + 1

    def latency(self) -> int:
        """Cycles from an input transfer to its output transfer (no back-pressure)."""
        return self.PIPE_LATENCY if self.mult == "dsp" else self.k1 + self.k2 + 3

    def cycle_model_items(self, n: int) -> int:
        """Cycles from the first input transfer to the last output transfer for n items, inclusive."""
        return (n - 1) * self.period() + self.latency() + 1

    def cycle_model(self, width: int, height: int) -> int:
        """One frame: width*height pixels, cout dots per pixel."""
        return self.cycle_model_items(width * height * self.cout)

    def resource_estimate(self) -> dict:
        rg, fmt = self.rg, self.fmt
        rom_bits = self.cout * self.rom_layout().size
        # a constants ROM of <= 32 words becomes LUTs in yosys (one LUT4 per bit per 16 words)
        rom_lut = self.rom_layout().size * -(-self.cout // 16) if self.cout <= 32 else 0
        yb = fmt.y_bits
        wt0 = _shape(*rg.t0).width
        wq = _shape(*rg.q).width
        wqz = _shape(*rg.qz).width
        sat_y = max(0, _shape(*rg.t).width - yb) + yb          # compare + mux
        sat_v = max(0, wqz - yb) + yb
        tail = wq + wqz + sat_v                                 # q mux, +Z adder, saturation
        if self.mult == "dsp":
            wa, wd, ws = self.a_shape.width, self.d_shape.width, self.s_shape.width
            wy = self.y_shape.width
            # ECP5 MULT18X18D count (iCE40 SB_MAC16 is 16x16: an 18-bit operand takes two)
            dsp = (-(-wa // 18)) * (-(-wd // 18)) + (-(-wy // 18)) * (-(-ws // 18))
            wm0 = _shape(*rg.m0).width
            lut = wt0 + sat_y + wm0 + tail + 8 + rom_lut
            ff = (1 + wd + _shape(*rg.p).width + self.b_shape.width + wt0 + 2 * wy + _shape(*rg.m).width
                  + wq + yb + 4 * (self.s_shape.width + self.z_shape.width) + self.PIPE_LATENCY
                  + wd + wa + self.b_shape.width + self.s_shape.width + self.z_shape.width)   # stage 1r
            ff += 4                                    # the stage pairs' copies of o.valid
            lut += 4                                   # (and their enables)
            return {"lut": lut, "ff": ff, "bram_bits": rom_bits, "dsp": dsp}
        wh1, wh2 = self._hi_widths()
        cnt = 2 * (max(self.k1, self.k2) + 1).bit_length()
        lut = (wh1 + self.a_shape.width + wh1                   # adder, +-A select, base mux
               + wh2 + self._mc_shape().width                    # adder, +-mcand select
               + sat_y + 2 * self.k2 + tail + cnt + 8 + rom_lut)
        ff = (wh1 + self.k1 + wh2 + self.k2 + self._mc_shape().width + self.y_shape.width
              + self.z_shape.width + yb + cnt + 4)
        return {"lut": lut, "ff": ff, "bram_bits": rom_bits, "dsp": 0}

    def _mc_shape(self) -> Shape:
        return self.s_shape if self.iter_y else self.y_shape

    def _hi_widths(self) -> tuple[int, int]:
        rg = self.rg
        amax = max(abs(a) for a in rg.A)
        bmax = max(abs(b) for b in rg.B)
        wh1 = _shape(-(bmax + 2 * amax + 2), bmax + 2 * amax + 2).width
        mcmax = max(abs(v) for v in (rg.S if self.iter_y else rg.y))
        wh2 = _shape(-(rg.half + 2 * mcmax + 2), rg.half + 2 * mcmax + 2).width
        return wh1, wh2

    # ------------------------------------------------------------------ gateware
    def _rom(self, m):
        init = [{"a": a, "b": b, "s": s, "z": z} for a, b, s, z in zip(self.rg.A, self.rg.B, self.rg.S, self.rg.Z)]
        m.submodules.rom = rom = memory.Memory(shape=self.rom_layout(), depth=self.cout, init=init)
        return rom.read_port(domain="sync")

    def elaborate(self, platform):
        m = Module()
        if self.mult == "dsp":
            self._elab_dsp(m)
        else:
            self._elab_shiftadd(m)
        return m

    def _elab_dsp(self, m):
        rg, fmt = self.rg, self.fmt
        rd = self._rom(m)
        en = Signal()
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en),
                     rd.addr.eq(self.i.payload.ch), rd.en.eq(en)]

        v = [Signal(name=f"v{k}") for k in range(1, 7)]
        d1, d1r = Signal(self.d_shape), Signal(self.d_shape)
        v1r = Signal()
        # the ROM word, registered before it reaches the multiplier (block-RAM clock-to-out plus a
        # DSP in one cycle was an ECP5 critical path); no reset, so that the board build makes these
        # registers the block RAM's output register (boards/outreg.py moves no reset). They load
        # from the ROM while en, which the reset holds high (o.valid is reset), so they hold ROM
        # words once the reset ends. (Only these: reset-less registers further on, loaded with
        # whatever the reset left, gave yosys-derived resets an unknown value in the strict
        # post-synthesis proof.)
        D = dict(reset_less=True)
        a1r, b1r = Signal(self.a_shape, **D), Signal(self.b_shape, **D)
        s1r, z1r = Signal(self.s_shape, **D), Signal(self.z_shape, **D)
        # the products (p2, m5) have no reset either: the board build makes them the DSP blocks'
        # output registers (boards/outreg.py), which moves no reset
        p2, b2 = Signal(_shape(*rg.p), reset_less=True), Signal(self.b_shape)
        t3 = Signal(_shape(*rg.t))
        y4, y5 = Signal(self.y_shape), Signal(self.y_shape)
        m5 = Signal(_shape(*rg.m), reset_less=True)
        q6 = Signal(_shape(*rg.q))
        s2, s3, s4 = (Signal(self.s_shape, name=f"s{k}") for k in (2, 3, 4))
        z2, z3, z4, z5, z6 = (Signal(self.z_shape, name=f"z{k}") for k in (2, 3, 4, 5, 6))

        neg = m5 + rg.half
        stages = [
            # stage 1: ROM read (addressed by ch) and the dot
            [v[0].eq(self.i.valid), d1.eq(self.i.payload.value)],
            # stage 1r: the ROM word registered
            [v1r.eq(v[0]), d1r.eq(d1), a1r.eq(rd.data.a), b1r.eq(rd.data.b), s1r.eq(rd.data.s), z1r.eq(rd.data.z)],
            # stage 2: A * d (DSP)
            [v[1].eq(v1r), p2.eq(a1r * d1r), b2.eq(b1r), s2.eq(s1r), z2.eq(z1r)],
            # stage 3: (A*d + B) >> SA
            [v[2].eq(v[1]), t3.eq((p2 + b2) >> rg.sa), s3.eq(s2), z3.eq(z2)],
            # stage 4: saturate to FW+2 bits
            [v[3].eq(v[2]), y4.eq(_sat(t3, fmt.y_lo, fmt.y_hi)), s4.eq(s3), z4.eq(z3)],
            # stage 5: y * S (DSP)
            [v[4].eq(v[3]), m5.eq(y4 * s4), y5.eq(y4), z5.eq(z4)],
            # stage 6: PReLU select with rounding
            [v[5].eq(v[4]), q6.eq(Mux(y5 < 0, neg >> rg.ss, y5)), z6.eq(z5)],
            # stage 7: + zeta, saturate (output register)
            [self.o.valid.eq(v[5]), self.o.payload.eq(_sat(q6 + z6, fmt.y_lo, fmt.y_hi))],
        ]
        # (module docstring) stage pair g enabled from copy g of o.valid, loaded as o.valid is
        ov = Replicated(len(stages) // 2, "sc_o_valid")
        for g in range(len(ov)):
            with m.If(~ov[g] | self.o.ready):
                m.d.sync += stages[2 * g] + stages[2 * g + 1] + [ov[g].eq(v[5])]

    def _elab_shiftadd(self, m):
        rg, fmt = self.rg, self.fmt
        rd = self._rom(m)
        k1, k2 = self.k1, self.k2
        wh1, wh2 = self._hi_widths()

        # stage 1: A*d + B, iterating over the bits of d (signed: last step subtracts)
        busy1, cnt1 = Signal(), Signal(range(k1 + 1))
        hi1, lo1 = Signal(signed(wh1)), Signal(k1)
        done1 = busy1 & (cnt1 == k1)
        # stage 2: y*S + half, iterating over the narrower operand
        busy2, cnt2 = Signal(), Signal(range(k2 + 1))
        hi2, lo2 = Signal(signed(wh2)), Signal(k2)
        mc2 = Signal(self._mc_shape())
        y2, z2 = Signal(self.y_shape), Signal(self.z_shape)
        done2 = busy2 & (cnt2 == k2)
        it2_signed = self.y_shape.signed if self.iter_y else self.s_shape.signed

        out_free = ~self.o.valid | self.o.ready
        load2 = Signal()     # stage 2 takes the result of stage 1
        free2 = Signal()
        out_load = Signal()  # output register takes the result of stage 2
        accept = Signal()
        m.d.comb += [
            out_load.eq(done2 & out_free),
            free2.eq(~busy2 | out_load),
            load2.eq(done1 & free2),
            self.i.ready.eq(~busy1 | load2),
            accept.eq(self.i.valid & self.i.ready),
            rd.addr.eq(self.i.payload.ch), rd.en.eq(accept),
        ]

        def step(base, mcand, lo, hi, cnt, k, signed_mult):
            neg = (cnt == k - 1) if signed_mult else 0
            addend = Mux(lo[0], Mux(neg, -mcand, mcand), 0)
            s = Signal(hi.shape(), name=f"{hi.name}_sum")
            m.d.comb += s.eq(base + addend)
            m.d.sync += [hi.eq(s >> 1), lo.eq(Cat(lo[1:], s[0])), cnt.eq(cnt + 1)]

        # ---- stage 1
        with m.If(accept):
            m.d.sync += [busy1.eq(1), cnt1.eq(0), lo1.eq(self.i.payload.value)]
        with m.Elif(load2):
            m.d.sync += busy1.eq(0)
        with m.Elif(busy1 & ~done1):
            step(Mux(cnt1 == 0, rd.data.b, hi1), rd.data.a, lo1, hi1, cnt1, k1, True)

        prod1 = Cat(lo1, hi1).as_signed()            # A*d + B once done1
        y = Signal(self.y_shape)
        m.d.comb += y.eq(_sat(prod1 >> rg.sa, fmt.y_lo, fmt.y_hi))

        # ---- stage 2
        with m.If(load2):
            m.d.sync += [busy2.eq(1), cnt2.eq(0), hi2.eq(rg.half), y2.eq(y), z2.eq(rd.data.z)]
            if self.iter_y:
                m.d.sync += [lo2.eq(y), mc2.eq(rd.data.s)]
            else:
                m.d.sync += [lo2.eq(rd.data.s), mc2.eq(y)]
        with m.Elif(out_load):
            m.d.sync += busy2.eq(0)
        with m.Elif(busy2 & ~done2):
            step(hi2, mc2, lo2, hi2, cnt2, k2, it2_signed)

        prod2 = Cat(lo2, hi2).as_signed()            # y*S + half once done2
        q = Mux(y2 < 0, prod2 >> rg.ss, y2)
        with m.If(out_load):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.eq(_sat(q + z2, fmt.y_lo, fmt.y_hi))]
        with m.Elif(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
