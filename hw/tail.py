"""TailConv: full-precision 3x3 convolution C -> colors plus the global skip, to u8 pixels.

Stream signature
  i:    In(stream of {value: layouts.feature(fmt), last: 1})   per output pixel 9*C feature values,
        tap t outer, channel c inner (0 where the tap is outside the image), last = 1 on the pixel's
        final value (FeatureWindow's order)
  skip: In(stream of ArrayLayout(unsigned(24), colors))        one per output pixel: the skip in 2^-16
        pixel units (golden.bilinear_skip for SR, p << 16 for identity)
  o:    Out(stream of layouts.pixel(colors))                    one per output pixel (byte_out: its
        bytes one by one, colour 0 first, each as soon as it is requantised: the row-serial tail)

Arithmetic (docs/arithmetic.md section 4), per colour o:
  g      = x >= 0 ? x : (x*act_mult + 2^(act_shift-1)) >> act_shift      (in_act "lrelu"; else g = x)
  acc[o] = sum over the 9*C values of Wq[o,c,t] * g
  out[o] = clamp((M[o]*acc[o] + B[o] + (skip[o] << (ST-16))) >> ST, 0, 255)

Architecture: one 8 x FW multiplier per colour accumulates one value per cycle (weights: a ROM of
9*C words of `colors` int8, addressed by the value's index in its pixel). On `last` the sums move to
a snapshot register and the accumulators restart, so the next pixel streams in without a gap; one
shared requantiser (one M*acc multiplier) then works through the colours of the snapshot, one per
cycle, joined with the pixel's skip word, and the output pixel is assembled and registered. The MAC
pipeline stalls only when a pixel ends while the previous snapshot is still waiting (output
back-pressure or a missing skip word): requantising takes `colors` cycles, a pixel 9*C >= colors.
With serial_req (the UP5K) there is no snapshot: the serial requantiser reads the accumulators,
and the next pixel's first product waits until the last colour is done. There each accumulator
adds the product of the registered weight and value without a product register and is cleared
by a load of 0 in a cycle that adds nothing (once after reset, and as the last colour is done):
the form yosys' ice40_dsp packs whole into one SB_MAC16 (multiplier, 32-bit accumulator, OLOAD,
OHOLD), so the accumulators cost no logic cells (docs/boards.md row 56).

Cycle model: 9*C cycles per pixel (serial_req: + colors * req_latency + 1);
cycle_model(w, h) = w*h*cycles_per_pixel() + latency.
Golden twin: sw.golden.tail.
"""
from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats
from sw.formats import FeatureFormat
from sw.program import TailLayer

from . import layouts
from .head import csd, csd_pair_regs, rshift_round, saturate, select, signed_bits, tree_sum
from .mul import DSP_BITS, LUT_MUL_WIDTH, serial_mul, serial_steps, split_mul

#: width of a skip word (2^-16 pixel units: 255 << 16 < 2^24)
SKIP_BITS = formats.PIXEL_BITS + formats.BILINEAR_FRAC


def skip_layout(colors: int):
    return data.ArrayLayout(unsigned(SKIP_BITS), colors)


def input_layout(fmt: FeatureFormat):
    return data.StructLayout({"value": layouts.feature(fmt), "last": 1})


class TailConv(wiring.Component):
    """serial_req: the requantiser's M*acc by hw/mul.serial_mul (no DSP block), one colour after
    the other, reading the sums from the accumulators (no snapshot registers): the next pixel's
    first product waits until the last colour's product is done, colors * req_latency + 1 cycles
    per pixel more (the row-serial tail on the UP5K: 288 + 34 for x2-tiny). Allowed where that is
    less than a pixel's 9*C MAC cycles."""

    def __init__(self, layer: TailLayer, fmt: FeatureFormat, channels: int, colors: int,
                 serial_req: bool = False, act_dsp: bool = False, byte_out: bool = False,
                 ext_act: bool = False, dsp_reg: bool = False):
        w = np.asarray(layer.weight).astype(np.int64)
        if w.shape != (colors, channels, 3, 3):
            raise ValueError(f"tail weight shape {w.shape} does not match ({colors}, {channels}, 3, 3)")
        if layer.in_act not in ("lrelu", "none"):
            raise ValueError(f"unknown tail input activation {layer.in_act!r}")
        if layer.shift < formats.BILINEAR_FRAC:
            raise ValueError(f"tail shift {layer.shift} < {formats.BILINEAR_FRAC}")
        self.layer, self.fmt, self.channels, self.colors = layer, fmt, channels, colors
        self.byte_out = byte_out
        self.n = formats.TAPS * channels
        self.mult = [int(v) for v in layer.mult]
        self.bias = [int(v) for v in layer.bias]
        self.shift = int(layer.shift)
        self.lrelu = layer.in_act == "lrelu"
        # ext_act: the LeakyReLU product x * act_mult comes from a multiplier outside (the
        # row-serial binary engine's, idle while the tail runs): lrelu_x out, lrelu_p in, the
        # product of the previous cycle's lrelu_x, registered by the provider (two stages, as
        # without act_dsp, and no DSP block of its own)
        self.ext_act = ext_act and self.lrelu
        self.act_dsp = act_dsp and self.lrelu and not self.ext_act
        # value index n = t*C + c (tap outer, channel inner)
        wflat = w.transpose(0, 2, 3, 1).reshape(colors, self.n)             # [o, t*C + c]
        self.rom_init = [[int(wflat[o, n]) for o in range(colors)] for n in range(self.n)]
        gmax = max(-fmt.lo, fmt.hi)
        self.acc_bits = signed_bits(formats.WEIGHT_QMAX * gmax * self.n, -formats.WEIGHT_QMAX * gmax * self.n)
        self.m_bits = signed_bits(*self.mult)
        sk_max = ((1 << SKIP_BITS) - 1) << (self.shift - formats.BILINEAR_FRAC)
        self.s_bits = signed_bits(*[b + sk_max for b in self.bias], *self.bias)
        # MAC side: input reg, [lrelu: multiply, select], products, accumulate -> snapshot;
        # requant side: operand select, M*acc, shift/clamp -> output (colors - 1 more cycles)
        self.mac_latency = 4 + (1 if self.act_dsp else 2) * int(self.lrelu)
        self.serial_req = serial_req
        self.dsp_reg = dsp_reg and not serial_req
        if serial_req:
            # the accumulators add the products of the registered operands directly (no product
            # register): each multiply-accumulate then fits in one SB_MAC16 (see elaborate)
            self.mac_latency -= 1
        if serial_req:
            self.req_latency = serial_steps(self.m_bits) + 1              # hw/mul.py serial_mul
            # colour k's product is loaded on the cycle colour k-1's is done: req_latency apart
            self.latency = self.mac_latency + 1 + colors * self.req_latency
            if not self.serial_fits(layer, channels, colors):
                raise ValueError(f"serial_req needs more than {self._serial_cycles(self.m_bits, colors)} "
                                 f"cycles per pixel, the tail has {self.n}")
        else:
            # hw/mul.py split_mul (dsp_reg: its out_reg, one more cycle)
            self.req_latency = (2 if self.acc_bits > DSP_BITS else 1) + int(dsp_reg)
            self.latency = self.mac_latency + 2 + self.req_latency + colors - 1
        super().__init__({
            "i": In(stream.Signature(input_layout(fmt))),
            "skip": In(stream.Signature(skip_layout(colors))),
            "o": Out(stream.Signature(unsigned(8) if byte_out else layouts.pixel(colors))),
            **({"lrelu_x": Out(signed(fmt.bits)),
                "lrelu_p": In(signed(fmt.bits + signed_bits(int(layer.act_mult))))} if self.ext_act else {}),
        })

    @staticmethod
    def _serial_cycles(m_bits: int, colors: int) -> int:
        # from the pixel's last product until its last colour's product is done
        return colors * (serial_steps(m_bits) + 1) + 1

    @classmethod
    def serial_fits(cls, layer: TailLayer, channels: int, colors: int) -> bool:
        """Whether serial_req=True is allowed: the colours' serial products take less than a
        pixel's 9*C MAC cycles (not for very narrow networks: C = 2 RGB has 18 cycles per pixel)."""
        return formats.TAPS * channels > cls._serial_cycles(signed_bits(*[int(v) for v in layer.mult]), colors)

    # ------------------------------------------------------------------ models
    def cycles_per_pixel(self) -> int:
        # serial_req: the next pixel's first product waits for the last colour's (no snapshot)
        return self.n + (self.colors * self.req_latency + 1 if self.serial_req else 0)

    def cycle_model(self, width: int, height: int) -> int:
        return width * height * self.cycles_per_pixel() + self.latency

    def resource_estimate(self) -> dict:
        fw, colors = self.fmt.bits, self.colors
        idx = max(1, int(self.n - 1).bit_length())
        ff = (fw + 2 + idx) * (3 + 2 * int(self.lrelu)) + (fw + 18 if self.lrelu else 0) \
            + colors * (fw + 8) + 2 * colors * self.acc_bits \
            + self.acc_bits + self.m_bits + self.s_bits + (self.m_bits + self.acc_bits) + self.s_bits \
            + 8 * (2 * colors - 1) + 12
        ff += fw + 8 * colors + 2          # value and weights registered in front of the multipliers
        if self.serial_req:                # serial M*acc + bias/skip: b, acc (from the bias), count, held
            ff += self.m_bits + max(self.acc_bits + 2, self.s_bits + 1) + 8
        elif self.acc_bits > DSP_BITS:     # split M*acc: two partial products, the delayed stage registers
            ff += 2 * self.m_bits + self.acc_bits + 1 + self.s_bits + 4
        if not self.serial_req and self.dsp_reg:   # the DSP outputs' own registers, the delayed side
            ff += self.m_bits + self.acc_bits + 2 * (self.acc_bits > DSP_BITS) + self.s_bits + 4
        lut = colors * self.acc_bits + (2 * fw if self.lrelu else 0) + self.acc_bits * (colors - 1) \
            + self.m_bits + 2 * self.s_bits + 2 * (self.m_bits + self.acc_bits) + 8 * colors + 30
        if self.lrelu and not (self.act_dsp or self.ext_act):     # x * act_mult as shift-and-add
            lut += (fw + 4) * max(len(csd(int(self.layer.act_mult))) - 1, 0)
            # (its first adder level registered in stage 1: the CSD terms' pair sums)
            ff += (len(csd(int(self.layer.act_mult))) + 1) // 2 * (fw + int(self.layer.act_mult).bit_length() + 1)
        if self.serial_req:                # Booth select + adder of acc_bits + 3
            lut += 2 * (self.acc_bits + 3)
            dsp = colors + int(self.act_dsp)
        else:
            dsp = colors + (self.acc_bits // 18 + 1) * (self.m_bits // 18 + 1) + int(self.act_dsp)
        return {"lut": lut, "ff": ff, "bram_bits": self.n * 8 * colors, "dsp": dsp}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        fmt, colors, n = self.fmt, self.colors, self.n
        idx_shape = range(max(n, 2))

        m.submodules.wrom = wrom = memory.Memory(
            shape=data.ArrayLayout(signed(formats.WEIGHT_BITS), colors), depth=n, init=self.rom_init)
        wrd = wrom.read_port(domain="sync")

        # ================================================================ MAC side
        adv = Signal()                      # MAC pipeline enable
        snap_full = Signal()
        cnt = Signal(idx_shape)             # index of the next value within its pixel
        fire = Signal()
        m.d.comb += [self.i.ready.eq(adv), fire.eq(self.i.valid & adv)]
        with m.If(fire):
            m.d.sync += cnt.eq(Mux(self.i.payload.last, 0, cnt + 1))

        # stage list: (valid, last, index, value) registers, one per stage
        def stage(name, shape):
            return Signal(name=f"v_{name}"), Signal(name=f"l_{name}"), Signal(idx_shape, name=f"n_{name}"), \
                Signal(shape, name=f"x_{name}")

        v1, l1, n1, _ = stage("1", signed(fmt.bits))
        x1 = Signal(signed(fmt.bits), name="x_1", reset_less=True)   # (data: packed into the DSP with act_dsp)
        with m.If(adv):
            m.d.sync += [v1.eq(fire), l1.eq(self.i.payload.last), n1.eq(cnt), x1.eq(self.i.payload.value)]
        if self.lrelu and self.act_dsp:
            # x * act_mult on a DSP block, combinational, and the select in the same stage
            am = int(self.layer.act_mult)
            v2, l2, n2, g2 = stage("2", signed(fmt.bits))
            q1 = Signal(signed(fmt.bits + signed_bits(am)))
            m.d.comb += q1.eq(x1 * Const(am, signed(signed_bits(am))))
            with m.If(adv):
                m.d.sync += [v2.eq(v1), l2.eq(l1), n2.eq(n1),
                             g2.eq(Mux(x1 >= 0, x1, rshift_round(q1, int(self.layer.act_shift))))]
            vg, lg, g, n_before = v2, l2, g2, n1
        elif self.lrelu:
            am = int(self.layer.act_mult)
            if not self.ext_act:
                # x * act_mult as shift-and-add over two stages: the CSD terms' pair sums registered
                # with x_1 (from the input payload), their sum into q2 (the whole product between x_1
                # and q2 was x4-base's critical path, docs/boards.md row 119: 13.86 ns)
                pairs = csd_pair_regs(m, adv, self.i.payload.value, am)
            v2, l2, n2, x2 = stage("2", signed(fmt.bits))
            q2 = Signal(signed(fmt.bits + signed_bits(am)))
            v3, l3, n3, g3 = stage("3", signed(fmt.bits))
            if self.ext_act:
                # the provider registers the product every cycle: give it the value stage 2 will
                # hold next (x1 when the pipeline advances, else x2 again), so that q2 is x2's product
                m.d.comb += [self.lrelu_x.eq(Mux(adv, x1, x2)), q2.eq(self.lrelu_p)]
            with m.If(adv):
                # x * act_mult as shift-and-add (the pair sums above; no DSP block), or from outside;
                # (the CSD form has more adders than const_mul's plan, 6 against 4 for 6554, but
                # its first level stands alone, so it splits over the two stages)
                m.d.sync += [v2.eq(v1), l2.eq(l1), n2.eq(n1), x2.eq(x1)]
                if not self.ext_act:
                    m.d.sync += q2.eq(tree_sum(pairs))
                m.d.sync += [v3.eq(v2), l3.eq(l2), n3.eq(n2),
                             g3.eq(Mux(x2 >= 0, x2, rshift_round(q2, int(self.layer.act_shift))))]
            vg, lg, g, n_before = v3, l3, g3, n2
        else:
            vg, lg, g, n_before = v1, l1, x1, cnt
        # weight of the value in stage g: read one stage earlier (sync ROM)
        m.d.comb += [wrd.addr.eq(n_before), wrd.en.eq(adv)]

        # weights and value registered before the multipliers (block-RAM clock-to-out and a
        # multiplier in one cycle was an ECP5 critical path)
        vr, lr = Signal(), Signal()
        gr = Signal(signed(fmt.bits), reset_less=True)
        # (weight registers LUT_MUL_WIDTH + 1 bits wide: the products go to SB_MAC16, not to LUT
        # multipliers, in the iCEBreaker flow, hw/mul.py; data registers without reset, so that the
        # flow can pack them into the SB_MAC16)
        wr = Signal(data.ArrayLayout(signed(max(formats.WEIGHT_BITS, LUT_MUL_WIDTH + 1)), colors),
                    reset_less=True)
        with m.If(adv):
            m.d.sync += [vr.eq(vg), lr.eq(lg), gr.eq(g)] + [wr[o].eq(wrd.data[o]) for o in range(colors)]
        if self.serial_req:
            # no snapshot: the requantiser reads the finished sums from the accumulators, and the
            # next pixel's first product waits until the last colour is done. Each accumulator adds
            # the product of the registered operands directly and is cleared (a load of 0) when the
            # last colour is done and once after reset, in cycles that add nothing: yosys then
            # packs multiplier, adder and accumulator register into one SB_MAC16 (its output
            # register, OLOAD and OHOLD), no fabric adder or flip-flops (hw/tail.py docstring)
            acc = [Signal(signed(self.acc_bits), name=f"acc{o}", reset_less=True) for o in range(colors)]
            snap = acc
            clr, need_clr = Signal(), Signal(init=1)
            m.d.sync += need_clr.eq(0)
            m.d.comb += adv.eq(~(vr & snap_full))
            with m.If((adv & vr) | clr):
                m.d.sync += [acc[o].eq(Mux(clr, 0, acc[o] + wr[o] * gr)) for o in range(colors)]
            with m.If(adv & vr & lr):
                m.d.sync += snap_full.eq(1)
        else:
            acc = [Signal(signed(self.acc_bits), name=f"acc{o}") for o in range(colors)]
            vp, lp = Signal(), Signal()
            prod = [Signal(signed(fmt.bits + formats.WEIGHT_BITS), name=f"prod{o}", reset_less=True)
                    for o in range(colors)]
            with m.If(adv):
                m.d.sync += [vp.eq(vr), lp.eq(lr)]
                m.d.sync += [prod[o].eq(wr[o] * gr) for o in range(colors)]
            snap = [Signal(signed(self.acc_bits), name=f"snap{o}") for o in range(colors)]
            m.d.comb += adv.eq(~(vp & lp & snap_full))
            with m.If(adv & vp):
                with m.If(lp):
                    m.d.sync += [snap[o].eq(acc[o] + prod[o]) for o in range(colors)]
                    m.d.sync += [acc[o].eq(0) for o in range(colors)]
                    m.d.sync += snap_full.eq(1)
                with m.Else():
                    m.d.sync += [acc[o].eq(acc[o] + prod[o]) for o in range(colors)]

        # ================================================================ requant side
        radv = Signal()
        m.d.comb += radv.eq(~self.o.valid | self.o.ready)
        k = Signal(range(max(colors, 2)))
        k_last = k == colors - 1
        go = Signal()
        free = Signal()                     # the multiplier takes an operand now
        issued = Signal()                   # every colour of the snapshot has gone (serial_req)
        m.d.comb += [go.eq(snap_full & ~issued & self.skip.valid & radv & free),
                     self.skip.ready.eq(snap_full & ~issued & radv & free & k_last)]
        with m.If(go):
            m.d.sync += k.eq(Mux(k_last, 0, k + 1))

        sh_skip = self.shift - formats.BILINEAR_FRAC
        m_k = select(k, [Const(v, signed(self.m_bits)) for v in self.mult])
        s_k = (select(k, [Const(v, signed(self.s_bits)) for v in self.bias])
               + (select(k, [self.skip.payload[o] for o in range(colors)]) << sh_skip))
        if self.serial_req:
            # one product at a time, loaded at `go`: the next colour goes when this one is done. The
            # multiplier reads acc from the snapshot (colour r2k, held from the load), so the
            # snapshot stays full until the last colour's product is done
            # (the product starts from the bias and skip term: p2 = M*acc + s_k, no adder after it)
            a_live = Signal(signed(self.acc_bits))
            p2, r2v, req_lat, (r2l, r2k) = serial_mul(m, radv, go, a_live, m_k, "req",
                                                      along=(k_last, k), live_a=True, addend=s_k)
            s2 = Const(0, 1)                 # (the bias and skip are in p2 already; the DSP path adds them)
            # a_live is a register, loaded each cycle with the colour the multiplier works on from
            # the next cycle on (k at a load, else the held index): no colour select before its adder
            m.d.sync += a_live.eq(select(Mux(go, k, r2k), snap))
            inflight = Signal()
            m.d.comb += free.eq(~inflight | r2v)
            with m.If(go):
                m.d.sync += inflight.eq(1)
            with m.Elif(radv & r2v):
                m.d.sync += inflight.eq(0)
            with m.If(go & k_last):
                m.d.sync += issued.eq(1)
            with m.If(radv & r2v & r2l):
                m.d.sync += [snap_full.eq(0), issued.eq(0)]
            m.d.comb += clr.eq(need_clr | (radv & r2v & r2l))
        else:
            # M * acc in two stages when acc is wider than a DSP operand (hw/mul.py); operands
            # registered first, the valid, last, colour index and bias+skip follow stage by stage
            r1v, r1l, r1k = Signal(), Signal(), Signal(range(max(colors, 2)))
            a1 = Signal(signed(self.acc_bits))
            m1 = Signal(signed(self.m_bits))
            s1 = Signal(signed(self.s_bits))
            with m.If(radv):
                m.d.sync += [r1v.eq(go), r1l.eq(k_last), r1k.eq(k), a1.eq(select(k, snap)), m1.eq(m_k), s1.eq(s_k)]
            with m.If(go & k_last):
                m.d.sync += snap_full.eq(0)
            p2, req_lat, (r2v, r2l, r2k, s2) = split_mul(m, radv, m1, a1, "req", along=(r1v, r1l, r1k, s1),
                                                         out_reg=self.dsp_reg)
            m.d.comb += free.eq(1)
        assert req_lat == self.req_latency
        res = Signal(formats.PIXEL_BITS)
        m.d.comb += res.eq(saturate((p2 + s2) >> self.shift, 0, formats.PIXEL_MAX))
        if self.byte_out:
            # each colour's byte goes out as it is done (no assembly registers)
            with m.If(radv):
                m.d.sync += self.o.valid.eq(r2v)
                with m.If(r2v):
                    m.d.sync += self.o.payload.eq(res)
            return m
        asm = [Signal(formats.PIXEL_BITS, name=f"asm{o}") for o in range(colors - 1)]
        with m.If(radv):
            m.d.sync += self.o.valid.eq(r2v & r2l)
            with m.If(r2v):
                with m.If(r2l):
                    m.d.sync += self.o.payload.eq(Cat(*asm, res))
                with m.Else():
                    with m.Switch(r2k):
                        for o in range(colors - 1):
                            with m.Case(o):
                                m.d.sync += asm[o].eq(res)
        return m
