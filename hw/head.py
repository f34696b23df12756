"""HeadConv: full-precision 3x3 convolution colors -> C on u8 pixel windows, requantised to features.

Stream signature
  i: In(stream of layouts.window(8*colors))   one 3x3 pixel window per output pixel: tap t = 3*ky+kx
                                               at bits [t*8*colors, (t+1)*8*colors), colour k of the
                                               tap at bits [8k, 8k+8) inside it; mask bit t = 1 when
                                               the tap is inside the image (masked taps count as 0,
                                               whatever their bits hold)
  o: Out(stream of layouts.feature(fmt))       C features per pixel, channel-serial (channel 0 first)

Arithmetic (docs/arithmetic.md section 2), per output channel o:
  acc = sum over taps t, colours k of Wq[o,k,t] * p[k,t]             (21 bits signed)
  y   = sat_{FW+2}((M[o]*acc + B[o]) >> SH)
  act = y if y >= 0 else (y*act_mult + 2^(act_shift-1)) >> act_shift  ("lrelu")  | max(y, 0) ("relu")
  x   = sat_FW(act)

Architecture: `macs` 8x8 multipliers work on `macs` (tap, colour) products per cycle, so one output
channel takes steps = ceil(9*colors / macs) cycles (macs=1: 9*colors cycles). The window is not
copied: the unit works on the input payload while it is held valid (the stream rule keeps it
stable) and takes it (ready) on the last step of the last channel. Weights (int8, `macs` per ROM
word, C*steps words) and the per-channel M/B constants live in ROMs (lib.memory, sync read).
Pipeline (one global enable, in three copies for its three parts, stalled only by output
back-pressure): operand pre-select (groups of the window's bytes by the step counter's low bits,
registered; not with window_port) -> operand select -> weights and operands registered -> products
-> (adder tree, macs > 2) -> accumulator -> sum and M/B registered -> M*acc -> shift/saturate ->
(lrelu multiply; split_lrelu: over two stages) -> output register. Every multiplier takes
registered operands (no block-RAM output drives a multiplier directly).

Cycle model: C*steps cycles per pixel (throughput). As the window is taken on its last step, the
first input transfer happens C*steps - 1 cycles after the first window is offered:
  cycle_model(w, h) = (w*h - 1)*C*steps + 1 + latency
with latency = the pipeline depth after the last step (see `latency`).
Golden twin: sw.golden.head.
"""
from __future__ import annotations

import math

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats
from sw.formats import FeatureFormat
from sw.program import HeadLayer

from . import layouts
from .mul import DSP_BITS, LUT_MUL_WIDTH, serial_mul, serial_steps, split_mul
from .replica import Replicated


def signed_bits(*values) -> int:
    """Width of a signed word that holds every value given."""
    return max(max(int(v).bit_length() for v in values) + 1, 2)


def saturate(v, lo: int, hi: int):
    """Clamp a Value to [lo, hi] (constants).

    The ranges of the number formats ([-2^(k-1), 2^(k-1) - 1] and [0, 2^k - 1]) are tested on the
    bits above the range (not all equal to the sign bit) instead of by two comparisons: on the
    iCE40 a comparison is a carry chain of one logic cell per bit, the bit test a few LUT4."""
    shape = Value.cast(v).shape()
    w = shape.width
    under = over = None
    if shape.signed and lo < 0 and -lo == hi + 1 and hi + 1 == 1 << (hi + 1).bit_length() - 1:
        k = (hi + 1).bit_length()              # the range is that of a signed k-bit word
        if k >= w:
            under = over = Const(0)
        else:
            top = v[k - 1:]                    # the bits that must all equal the sign
            under, over = v[w - 1] & ~top.all(), ~v[w - 1] & top.any()
    elif lo == 0 and hi > 0 and hi + 1 == 1 << hi.bit_length():
        k = hi.bit_length()                    # [0, 2^k - 1]
        mag = w - 1 if shape.signed else w     # bits below the sign
        if k >= mag:
            over = Const(0)
        else:
            over = v[k:mag].any()
        under = v[w - 1] if shape.signed else Const(0)
        over = over & ~under
    if under is None:
        return Mux(v < lo, lo, Mux(v > hi, hi, v))
    return Mux(under, lo, Mux(over, hi, v))


def gt_const(v, k: int):
    """v > k for an unsigned Value v and a constant k >= 0, as logic on the bits (the bits above k's
    width any, then most significant first) rather than a comparison, which the iCE40 flow builds
    as a carry chain of one logic cell per bit of v."""
    w = len(v)
    n = k.bit_length()
    if n >= w + 1 or k >= (1 << w) - 1:
        return Const(0, 1)
    gt, eq = (v[n:].any() if n < w else Const(0, 1)), Const(1, 1)
    for i in reversed(range(n)):
        if (k >> i) & 1:
            eq = eq & v[i]
        else:
            gt = gt | (eq & v[i])
            eq = eq & ~v[i]
    return gt


def lt_const(v, k: int):
    """v < k (unsigned v, constant k) as bit logic (gt_const)."""
    return Const(0, 1) if k <= 0 else ~gt_const(v, k - 1)


def next_is_last(last, count, n: int):
    """The value of a registered "count == n - 1" flag once a counter of period n (0..n-1,
    wrapping) has advanced: no compare with the counter's value in front of what the flag drives."""
    return Mux(last, n == 1, count == n - 2)


def period_regs(m, n, prefix: str):
    """(n - 1, n - 2, n == 1) as registers, for a period n set at run time (a frame's width or
    height: stable long before it is used), so that no subtract sits in front of a compare."""
    m1, m2, one = Signal.like(n, name=f"{prefix}m1"), Signal.like(n, name=f"{prefix}m2"), Signal(name=f"{prefix}_one")
    m.d.sync += [m1.eq(n - 1), m2.eq(n - 2), one.eq(n == 1)]
    return m1, m2, one


def last_flag(m, last, count, advance, period):
    """Drive the register `last` = "count == n - 1" of a counter that moves to its next value
    (count + 1, or 0 after n - 1) in cycles with `advance`; `period` = period_regs(n). On an advance
    the flag is set from the registered n - 2 and n == 1 (no compare with the counter's new value),
    else recomputed from n - 1, so it also follows a new n between frames. Returns its next value."""
    last_n = Signal(name=f"{last.name}_n")
    m.d.comb += last_n.eq(last_next(last, count, advance, period))
    m.d.sync += last.eq(last_n)
    return last_n


def last_next(last, count, advance, period):
    """The next value of a last_flag register, as an expression (`advance` may be a constant: a
    unit that needs the flag's next value for either case, hw/feature_window.py's in_ok)."""
    m1, m2, one = period
    return Mux(advance, Mux(last, one, count == m2), count == m1)


def tree_sum(values):
    """Balanced adder tree (a Python sum() would build a linear chain)."""
    values = list(values)
    while len(values) > 1:
        nxt = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        if len(values) % 2:
            nxt.append(values[-1])
        values = nxt
    return values[0]


def select(index, values):
    """values[index] as a binary tree of 2:1 Muxes on the index bits.

    Used instead of Array(...)[index] / Switch: yosys writes those as `always @*` case blocks, which
    Icarus (-g2012) never evaluates at time zero, so a select whose inputs do not change between
    reset and first use would read X in simulation; Mux becomes a continuous assignment."""
    values = list(values)
    if len(values) == 1:
        return values[0]
    level, bit = values, 0
    while len(level) > 1:
        nxt = []
        for i in range(0, len(level), 2):
            nxt.append(Mux(index[bit], level[i + 1], level[i]) if i + 1 < len(level) else level[i])
        level, bit = nxt, bit + 1
    return level[0]


def or_tree(values):
    """The OR of `values` as a balanced binary tree (the bank and fold selects that OR words
    zeroed unless selected)."""
    values = list(values)
    while len(values) > 1:
        values = [values[i] | values[i + 1] if i + 1 < len(values) else values[i] for i in range(0, len(values), 2)]
    return values[0]


def csd(c: int) -> list[tuple[int, int]]:
    """Canonical signed-digit form of an integer: [(sign, shift)] with c = sum(sign << shift)."""
    terms, shift = [], 0
    while c:
        if c & 1:
            d = 2 - (c & 3)          # +1 if c = 1 mod 4, -1 if c = 3 mod 4
            terms.append((d, shift))
            c -= d
        c >>= 1
        shift += 1
    return terms


def _csd_mul(x, c: int):
    terms = csd(int(c))
    if not terms:
        return Const(0, 1)
    pos = [x << s for d, s in terms if d > 0]
    neg = [x << s for d, s in terms if d < 0]
    if not pos:
        return -tree_sum(neg)
    return tree_sum(pos) - tree_sum(neg) if neg else tree_sum(pos)


def csd_pair_regs(m, en, x, c: int, name: str = "am_pair") -> list:
    """x * c's CSD terms added in pairs, each pair sum a register loaded with `en` (the first adder
    level of the product); tree_sum of the registers is x * c a cycle later (one adder level per
    stage instead of the whole product in one cycle)."""
    terms = [(x << s) if d > 0 else -(x << s) for d, s in csd(int(c))] or [Const(0, 1)]
    exprs = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    regs = [Signal(e.shape(), name=f"{name}{k}", reset_less=True) for k, e in enumerate(exprs)]
    with m.If(en):
        m.d.sync += [r.eq(e) for r, e in zip(regs, exprs)]
    return regs


def _mul_plan(c: int, depth: int = 3) -> tuple:
    """The cheapest shift-and-add plan for x * c (c > 0) found among: the CSD terms; a factor
    2^i +- 1 of c, x * f first and then the rest by (x * f); c - d for a power of two d whose plan
    is not plain CSD (one adder more). Returns (adders, plan), plan one of ("csd", c),
    ("shl", k, plan), ("fac", f, plan), ("off", d, plan). E.g. 6554 (LeakyReLU's 0.1 * 2^16):
    6 adders as CSD, 4 as 2 * (4 * 3 * 273 + 1)."""
    best = (max(len(csd(c)) - 1, 0), ("csd", c))
    if depth == 0 or c < 8:
        return best
    tz = (c & -c).bit_length() - 1
    if tz:
        cost, plan = _mul_plan(c >> tz, depth)
        return (cost, ("shl", tz, plan)) if cost < best[0] else best
    for i in range(2, c.bit_length() + 1):
        for f in ((1 << i) - 1, (1 << i) + 1):
            if f < c and c % f == 0:
                cost, plan = _mul_plan(c // f, depth - 1)
                if cost + 1 < best[0]:
                    best = (cost + 1, ("fac", f, plan))
    for k in range(c.bit_length()):
        for d in (1 << k, -(1 << k)):
            rest = c - d
            if rest <= 0:
                continue
            cost, plan = _mul_plan(rest, depth - 1)
            if plan[0] != "csd" and cost + 1 < best[0]:
                best = (cost + 1, ("off", d, plan))
    return best


def _apply_plan(x, plan):
    kind = plan[0]
    if kind == "csd":
        return _csd_mul(x, plan[1])
    if kind == "shl":
        return _apply_plan(x, plan[2]) << plan[1]
    if kind == "fac":
        return _apply_plan(_csd_mul(x, plan[1]), plan[2])
    _, d, rest = plan                      # "off": x * rest + d * x
    return _apply_plan(x, rest) + (x << (abs(d).bit_length() - 1)) if d > 0 else \
        _apply_plan(x, rest) - (x << (abs(d).bit_length() - 1))


def const_mul(x, c: int):
    """x * c as shift-and-add terms (c a Python integer): a few adders instead of a multiplier
    (the fewest adders among the plans of _mul_plan)."""
    c = int(c)
    if c <= 0:
        return _csd_mul(x, c)
    return _apply_plan(x, _mul_plan(c)[1])


def rshift_round(v, s: int):
    """(v + 2^(s-1)) >> s, s = 0: v (arithmetic shift of a signed Value)."""
    return v if s == 0 else (v + (1 << (s - 1))) >> s


class HeadConv(wiring.Component):
    """serial_req: the requantiser's M*acc by hw/mul.serial_mul (two bits of M per cycle, no DSP
    block) instead of a DSP multiplier: allowed when a channel's `steps` cycles cover its latency
    (the row-serial head on the UP5K, whose 8 SB_MAC16 do not cover three per product).

    window_port (macs = 2 only): the window's bytes are not in the payload (its `bits` are
    ignored, its `mask` counts) but in a block RAM of the sender, read through `win_step` /
    `win_en` / `win_data`: 16-bit words, one per step, synchronous (data the cycle after, held
    while win_en is low). Column kx of the window is col_words = ceil(3*colors/2) words, byte
    b = ky*colors + k of the column at word b // 2, byte b % 2; step s >= 1 reads word
    (s - 1) % col_words of column (s - 1) // col_words (window_word; steps = 3*col_words + 1; a
    pad byte counts as masked). No operand select: the row-serial head on the UP5K, whose window
    lives in one EBR instead of 216 flip-flops. Step 0 is a pad step in both lanes: each lane's
    accumulator is cleared there (a load of 0) and adds the product of the registered operands on
    the other steps, without a product register: the form yosys' ice40_dsp packs whole into the
    lane's SB_MAC16 (accumulator in its output register), so the sums cost no logic cells; the
    two lanes' sums are added as the serial requantiser takes them.

    mac_dsp: the weight and pixel registers in front of the MAC products are LUT_MUL_WIDTH + 1 bits
    wide, so the board flow puts each product on a DSP block (hw/mul.py) instead of building an
    8 x 9-bit LUT multiplier (the row-serial head on the UP5K: 2 of its 8 SB_MAC16)."""

    def __init__(self, layer: HeadLayer, fmt: FeatureFormat, colors: int, macs: int = 1,
                 serial_req: bool = False, window_port: bool = False, mac_dsp: bool = False,
                 ext_lrelu: bool = False, split_lrelu: bool = False, dsp_reg: bool = False):
        w = np.asarray(layer.weight).astype(np.int64)
        if w.ndim != 4 or w.shape[1] != colors or w.shape[2:] != (3, 3):
            raise ValueError(f"head weight shape {w.shape} does not match colors={colors}")
        if layer.act not in ("lrelu", "relu"):
            raise ValueError(f"unknown head activation {layer.act!r}")
        self.layer, self.fmt, self.colors = layer, fmt, colors
        self.channels = w.shape[0]
        self.n = formats.TAPS * colors                     # products per output channel
        if not 1 <= macs <= self.n:
            raise ValueError(f"macs must be in 1..{self.n}, got {macs}")
        self.macs = macs
        self.window_port = window_port
        self.mac_dsp = mac_dsp
        # ext_lrelu: the LeakyReLU product y * act_mult comes from a multiplier outside (the
        # row-serial binary engine's, idle while the head runs): lrelu_y out, lrelu_p in, the
        # product of the previous cycle's lrelu_y, registered by the provider
        self.ext_lrelu = ext_lrelu and layer.act == "lrelu"
        # split_lrelu: the shift-and-add product y * act_mult over two stages, the CSD terms' pair
        # sums registered first (one adder level per stage; the whole product in one cycle was
        # 11.7-12.8 ns on the ECP5, docs/boards.md rows 119-122); one cycle more latency
        self.split_lrelu = split_lrelu and layer.act == "lrelu" and not self.ext_lrelu
        if window_port and macs != 2:
            raise ValueError(f"window_port reads two bytes per step: macs must be 2, not {macs}")
        self.col_words = math.ceil(3 * colors / 2)
        self.steps = self.channel_steps(colors, macs, window_port)
        self.mult = [int(v) for v in layer.mult]
        self.bias = [int(v) for v in layer.bias]
        self.shift = int(layer.shift)
        if len(self.mult) != self.channels or len(self.bias) != self.channels:
            raise ValueError("head mult/bias length does not match the weight")
        # product n = t*colors + k (tap-major, colour inner: the window's byte order)
        wflat = w.transpose(0, 2, 3, 1).reshape(self.channels, self.n)      # [o, t*colors + k]
        # lane_product[s][j]: the product n that MAC j computes on step s, None for a pad lane
        self.lane_product = [[self.product_of(s, j) for j in range(macs)] for s in range(self.steps)]
        rom = []
        for o in range(self.channels):
            for s in range(self.steps):
                rom.append([int(wflat[o, n]) if n is not None else 0 for n in self.lane_product[s]])
        self.rom_init = rom
        self.acc_bits = signed_bits(formats.WEIGHT_QMAX * formats.PIXEL_MAX * self.n,
                                    -formats.WEIGHT_QMAX * formats.PIXEL_MAX * self.n)
        self.m_bits = signed_bits(*self.mult)
        self.b_bits = signed_bits(*self.bias)
        self.tree_stage = macs > 2
        # window_port: the lanes accumulate in their DSP blocks (no product stage, see above)
        self.dsp_acc = window_port
        # stages after the last step: operands, products, [tree], acc, M*acc, y, [lrelu], out
        self.serial_req = serial_req
        self.dsp_reg = dsp_reg and not serial_req
        if serial_req:
            self.req_latency = self.serial_latency(layer)
            if not self.serial_fits(layer, colors, macs, window_port) or self.steps < self.const_words + 2:
                raise ValueError(f"serial_req needs >= {max(self.req_latency, self.const_words + 2)} cycles "
                                 f"per channel, the head has {self.steps} (macs={macs})")
        else:
            # hw/mul.py split_mul (dsp_reg: its out_reg, one more cycle)
            self.req_latency = (2 if self.acc_bits > DSP_BITS else 1) + int(dsp_reg)
        # (the serial requantiser loads the sum itself: no S4r register stage)
        # (the operand pre-select: one stage more without window_port)
        self.presel = not window_port
        self.latency = (6 if serial_req else 7) + self.req_latency + int(self.tree_stage) + int(layer.act == "lrelu") \
            + int(self.split_lrelu) - int(self.dsp_acc) + int(self.presel)
        members = {
            "i": In(stream.Signature(layouts.window(formats.PIXEL_BITS * colors))),
            "o": Out(stream.Signature(layouts.feature(fmt))),
        }
        if window_port:
            members.update({"win_step": Out(range(self.steps)), "win_en": Out(1), "win_data": In(16)})
        if self.ext_lrelu:
            members.update({"lrelu_y": Out(layouts.y_value(fmt)),
                            "lrelu_p": In(signed(fmt.y_bits + signed_bits(int(layer.act_mult))))})
        super().__init__(members)

    @property
    def const_words(self) -> int:
        """16-bit words of a channel's M and B in the serial requantiser's constant ROM."""
        return -(-(self.m_bits + self.b_bits) // 16)

    def const_rom(self) -> list[int]:
        """The serial requantiser's constant ROM: channel c's M (low m_bits) and B (next b_bits),
        two's complement, as const_words little-endian 16-bit words at c * const_words."""
        words = []
        for mm, bb in zip(self.mult, self.bias):
            v = (mm & ((1 << self.m_bits) - 1)) | ((bb & ((1 << self.b_bits) - 1)) << self.m_bits)
            words += [(v >> (16 * i)) & 0xFFFF for i in range(self.const_words)]
        return words

    @staticmethod
    def channel_steps(colors: int, macs: int, window_port: bool = False) -> int:
        """Cycles per output channel: ceil(9*colors / macs), or 3*ceil(3*colors/2) + 1 (window_port:
        with the pad step 0)."""
        if window_port:
            return 3 * math.ceil(3 * colors / 2) + 1
        return math.ceil(formats.TAPS * colors / macs)

    def product_of(self, s: int, j: int):
        """The product n = t*colors + k on step s, lane j (None: a pad lane)."""
        if not self.window_port:
            n = s * self.macs + j
            return n if n < self.n else None
        if s == 0:
            return None
        kx, w = self.window_word(s)
        b = 2 * w + j
        if b >= 3 * self.colors:
            return None
        ky, k = divmod(b, self.colors)
        return (3 * ky + kx) * self.colors + k

    def window_word(self, s: int) -> tuple[int, int]:
        """window_port: the window column kx and its word that step s reads ((0, 0) for the pad
        step 0, whose bytes are masked)."""
        return divmod(s - 1, self.col_words) if s else (0, 0)

    @staticmethod
    def serial_latency(layer: HeadLayer) -> int:
        """Cycles of the serial requantiser (hw/mul.py serial_mul on M's width, + the result register)."""
        return serial_steps(signed_bits(*[int(v) for v in layer.mult])) + 1

    @classmethod
    def serial_fits(cls, layer: HeadLayer, colors: int, macs: int, window_port: bool = False) -> bool:
        """Whether serial_req=True is allowed: a channel's cycles cover the serial product."""
        return cls.channel_steps(colors, macs, window_port) >= cls.serial_latency(layer)

    # ------------------------------------------------------------------ models
    def cycles_per_pixel(self) -> int:
        return self.channels * self.steps

    def cycle_model(self, width: int, height: int) -> int:
        return (width * height - 1) * self.cycles_per_pixel() + 1 + self.latency

    def resource_estimate(self) -> dict:
        macs, fw = self.macs, self.fmt.bits
        lrelu = self.layer.act == "lrelu"
        y_bits = fw + 2
        ff = (8 * macs + 1) + 17 * macs + (self.acc_bits if self.tree_stage else 0) + self.acc_bits \
            + (self.m_bits + self.acc_bits) + self.b_bits + y_bits + (2 * y_bits + 18 if lrelu else 0) \
            + fw + 8 + 2 * math.ceil(math.log2(max(self.channels * self.steps, 2))) + 12
        # registered weights/operands (S1r) and registered sum/constants (S4r, DSP requantiser) in
        # front of the multipliers
        ff += 16 * macs + 8 + (0 if self.serial_req else self.acc_bits + self.m_bits + self.b_bits + 1)
        ff += 3                            # the output valid's copies for the enables
        if self.presel:                    # pre-selected operand groups, the step's flags and address
            sb = max(1, (self.steps - 1).bit_length())
            ff += 8 * macs * -(-self.steps >> (sb // 2)) + sb + 3 + 2 * math.ceil(math.log2(max(self.channels * self.steps, 2)))
        if self.serial_req:                # serial M*acc + B: a, b, acc (from B), count
            ff += self.acc_bits + self.m_bits + max(self.acc_bits + 2, self.b_bits + 1) + 4
        elif self.acc_bits > DSP_BITS:     # split M*acc: two partial products, bias and valid delayed
            ff += 2 * self.m_bits + self.acc_bits + 1 + self.b_bits + 1
        if not self.serial_req and self.dsp_reg:   # the DSP outputs' own registers, valid and bias
            ff += self.m_bits + self.acc_bits + 2 * (self.acc_bits > DSP_BITS) + self.b_bits + 1
        # operand muxes (steps:1 per byte: steps-1 2:1 muxes, ~0.8 LUT4 each; a mask bit select and
        # an AND per byte with window_port), adder tree + accumulator, requant adder + saturation;
        # the M/B ROM (C words) is LUTs when C <= 32
        # (the serial requantiser's constants are in a block RAM, fetched into KW 16-bit registers)
        rom_lut = (self.m_bits + self.b_bits) * -(-self.channels // 16) \
            if self.channels <= 32 and not self.serial_req else 0
        if self.serial_req:
            ff += 16 * self.const_words + 8
        sel = macs * (8 + self.steps // 2) if self.window_port else int(0.8 * 8 * macs * (self.steps - 1))
        lut = sel + (macs + 1) * self.acc_bits \
            + (self.m_bits + self.acc_bits) + 2 * y_bits + (y_bits + 18 if lrelu else 0) + 2 * fw + 20 + rom_lut
        if self.split_lrelu:               # CSD terms' adders; their pair sums and y registered once more
            am = int(self.layer.act_mult)
            q_bits = y_bits + signed_bits(am)
            lut += q_bits * max(len(csd(am)) - 1, 0)
            ff += q_bits * -(-len(csd(am)) // 2) + y_bits + 1
        elif lrelu and not self.ext_lrelu:                     # shift-add lrelu
            lut += (y_bits + 4) * _mul_plan(int(self.layer.act_mult))[0]
        if self.serial_req:                # Booth select + adder (from B: no adder after it)
            lut += 2 * (self.acc_bits + 3) - (self.m_bits + self.acc_bits)
            dsp = macs
        else:
            dsp = macs + math.ceil(self.acc_bits / 18) * math.ceil(self.m_bits / 18)
        bram = self.channels * self.steps * 8 * macs + self.channels * (
            16 * self.const_words if self.serial_req else self.m_bits + self.b_bits)
        return {"lut": lut, "ff": ff, "bram_bits": bram, "dsp": dsp}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        C, steps, macs, n, colors = self.channels, self.steps, self.macs, self.n, self.colors
        fmt = self.fmt

        m.submodules.wrom = wrom = memory.Memory(
            shape=data.ArrayLayout(signed(formats.WEIGHT_BITS), macs), depth=C * steps, init=self.rom_init)
        wrd = wrom.read_port(domain="sync")
        if self.serial_req:
            # M and B of channel c as KW 16-bit words at c*KW (one block RAM): fetched into kst
            # after each channel's load of the serial requantiser, for the next channel
            KW = self.const_words
            m.submodules.krom = krom = memory.Memory(shape=16, depth=KW * C, init=self.const_rom(),
                                                     attrs={"ram_style": "block"})
        else:
            klay = data.StructLayout({"m": signed(self.m_bits), "b": signed(self.b_bits)})
            m.submodules.krom = krom = memory.Memory(
                shape=klay, depth=C, init=[{"m": mm, "b": bb} for mm, bb in zip(self.mult, self.bias)])
        krd = krom.read_port(domain="sync")

        # the global pipeline enable, ~o.valid | o.ready, in three copies (front: counters,
        # operands, products; middle: tree and accumulator; back: requantiser, activation, output),
        # each from its own copy of the output's valid: one enable for the whole head was placed
        # far from most of its loads (x4-base docs/boards.md row 139: o.valid -> the enable ->
        # a 5.3 ns route -> the step counter's enables, 12.1 ns)
        ov_r = Replicated(3, "head_ov")
        adv, adv_m, adv_b = Signal(name="adv_f"), Signal(name="adv_m"), Signal(name="adv_b")
        m.d.comb += [a.eq(~ov_r[k] | self.o.ready) for k, a in enumerate((adv, adv_m, adv_b))]

        # ---- S0: step / channel counters over the held input window
        s_cnt = Signal(range(max(steps, 2)))
        o_cnt = Signal(range(max(C, 2)))
        waddr = Signal(range(max(C * steps, 2)))
        # "s_cnt / o_cnt is the last" and both, as registers set from the counters' values before
        # they move (constant compares), so that i.ready is adv and one flag: it enables the input
        # skid's main register (225 bits; the compares in front were x4-base's paths over 8 ns,
        # docs/boards.md row 127)
        last_s = Signal(init=int(steps == 1), name="last_s")
        last_o = Signal(init=int(C == 1), name="last_o")
        last_so = Signal(init=int(steps == 1 and C == 1), name="last_so")
        last_s_n = Mux(last_s, 0, s_cnt == steps - 2) if steps > 1 else Const(1)
        last_o_n = Mux(last_s, Mux(last_o, 0, o_cnt == C - 2), last_o) if C > 1 else Const(1)
        with m.If(self.i.valid & adv):
            m.d.sync += [last_s.eq(last_s_n), last_o.eq(last_o_n), last_so.eq(last_s_n & last_o_n)]
        go = Signal()
        m.d.comb += [go.eq(self.i.valid & adv),
                     self.i.ready.eq(adv & last_so),
                     wrd.en.eq(adv)]
        with m.If(go):
            m.d.sync += waddr.eq(Mux(last_so, 0, waddr + 1))
            m.d.sync += s_cnt.eq(Mux(last_s, 0, s_cnt + 1))
            with m.If(last_s):
                m.d.sync += o_cnt.eq(Mux(last_o, 0, o_cnt + 1))

        # operand select: product n = t*colors + k is byte n of the window (tap n // colors)
        bits, mask = self.i.payload.bits, self.i.payload.mask
        ops = [Signal(8, name=f"op{j}") for j in range(macs)]
        if self.window_port:
            # the sender's RAM holds the bytes: read word s now, mask its bytes when they arrive
            m.d.comb += [self.win_step.eq(s_cnt), self.win_en.eq(adv)]
            mk0 = [Signal(name=f"mk0_{j}") for j in range(macs)]
            mk1 = [Signal(name=f"mk1_{j}") for j in range(macs)]
            for j in range(macs):
                cand = [mask[pn // colors] if pn is not None else Const(0, 1)
                        for pn in (self.lane_product[s][j] for s in range(steps))]
                m.d.comb += mk0[j].eq(select(s_cnt, cand))
                with m.If(adv):
                    m.d.sync += mk1[j].eq(mk0[j])
        else:
            # in two stages: the groups of 2**k candidates by the step counter's low k bits, registered
            # with the counter's high bits, then the group (one 27:1 byte select from the counter was
            # x4-base's head path, docs/boards.md row 135: 46 endpoints over 8 ns, 10.0 ns)
            sb = len(s_cnt)
            k = sb // 2
            hi0 = Signal(max(sb - k, 1), name="s_hi0")
            with m.If(adv):
                m.d.sync += hi0.eq(s_cnt[k:])
            for j in range(macs):
                cand = [Mux(mask[pn // colors], bits[8 * pn:8 * pn + 8], 0) if pn is not None else Const(0, 8)
                        for pn in (self.lane_product[s][j] for s in range(steps))]
                grp = [Signal(8, name=f"op{j}_g{g}", reset_less=True) for g in range(-(-steps >> k))]
                with m.If(adv):
                    m.d.sync += [q.eq(select(s_cnt[:k], cand[g << k:(g + 1) << k])) for g, q in enumerate(grp)]
                m.d.comb += ops[j].eq(select(hi0, grp))

        # ---- S0r (presel): the step's flags and weight address beside the pre-selected operands
        if self.presel:
            v0, first0, last0, ch0 = Signal(), Signal(), Signal(), Signal(range(max(C, 2)))
            waddr0 = Signal.like(waddr, name="waddr0")
            with m.If(adv):
                m.d.sync += [v0.eq(go), first0.eq(s_cnt == 0), last0.eq(last_s), ch0.eq(o_cnt), waddr0.eq(waddr)]
            m.d.comb += wrd.addr.eq(waddr0)
        else:
            v0, first0, last0, ch0 = go, s_cnt == 0, last_s, o_cnt
            m.d.comb += wrd.addr.eq(waddr)

        # ---- S1: operands (weights arrive from the ROM in this stage)
        v1, first1, last1, ch1 = Signal(), Signal(), Signal(), Signal(range(max(C, 2)))
        p1 = [Signal(8, name=f"p1_{j}") for j in range(macs)]
        # ---- S1r: weights and operands registered (block-RAM clock-to-out and a multiplier in one
        # cycle was an ECP5 critical path)
        v1r, first1r, last1r, ch1r = Signal(), Signal(), Signal(), Signal(range(max(C, 2)))
        # (data registers without reset: the board flow can then pack them into the SB_MAC16)
        p1r = [Signal(LUT_MUL_WIDTH + 1 if self.mac_dsp else 8, name=f"p1r_{j}", reset_less=True)
               for j in range(macs)]
        w1r = Signal(data.ArrayLayout(signed(LUT_MUL_WIDTH + 1 if self.mac_dsp else formats.WEIGHT_BITS), macs),
                     reset_less=True)
        # ---- S2: products
        v2, first2, last2, ch2 = Signal(), Signal(), Signal(), Signal(range(max(C, 2)))
        prod2 = [Signal(signed(17), name=f"prod2_{j}", reset_less=True) for j in range(macs)]
        with m.If(adv):
            m.d.sync += [v1.eq(v0), first1.eq(first0), last1.eq(last0), ch1.eq(ch0)]
            if not self.window_port:
                m.d.sync += [p1[j].eq(ops[j]) for j in range(macs)]
            m.d.sync += [v1r.eq(v1), first1r.eq(first1), last1r.eq(last1), ch1r.eq(ch1)]
            m.d.sync += [w1r[j].eq(wrd.data[j]) for j in range(macs)]
            m.d.sync += [p1r[j].eq(p1[j]) for j in range(macs)]
            if not self.dsp_acc:
                m.d.sync += [v2.eq(v1r), first2.eq(first1r), last2.eq(last1r), ch2.eq(ch1r)]
                m.d.sync += [prod2[j].eq(w1r[j] * p1r[j]) for j in range(macs)]

        if self.window_port:            # S1: the RAM word of the step, masked
            m.d.comb += [p1[j].eq(Mux(mk1[j], self.win_data[8 * j:8 * j + 8], 0)) for j in range(macs)]

        # ---- S3 (macs > 2): adder tree
        if self.tree_stage:
            v3, first3, last3, ch3 = Signal(), Signal(), Signal(), Signal(range(max(C, 2)))
            sum3 = Signal(signed(self.acc_bits))
            with m.If(adv_m):
                m.d.sync += [v3.eq(v2), first3.eq(first2), last3.eq(last2), ch3.eq(ch2),
                             sum3.eq(tree_sum(prod2))]
        else:
            v3, first3, last3, ch3 = v2, first2, last2, ch2
            sum3 = tree_sum(prod2)

        # ---- S4: accumulator; constants ROM read so that M/B arrive with the finished sum
        acc = Signal(signed(self.acc_bits))
        v4 = Signal()
        if not self.serial_req:
            # (dsp_acc: the last step adds in the cycle of stage S1r)
            m.d.comb += [krd.addr.eq(ch1r if self.dsp_acc else ch3), krd.en.eq(adv_m)]
        if self.dsp_acc:
            # per lane, in its SB_MAC16: cleared on the pad step 0, the products of the registered
            # operands added on the others; the lanes' sum is complete the cycle after the last step
            lane_acc = [Signal(signed(self.acc_bits), name=f"lane_acc{j}", reset_less=True) for j in range(macs)]
            with m.If(adv_m & v1r):
                m.d.sync += [a.eq(Mux(first1r, 0, a + w1r[j] * p1r[j])) for j, a in enumerate(lane_acc)]
            with m.If(adv_m):
                m.d.sync += v4.eq(v1r & last1r)
            m.d.comb += acc.eq(tree_sum(lane_acc))
        else:
            with m.If(adv_m):
                m.d.sync += v4.eq(v3 & last3)
                with m.If(v3):
                    m.d.sync += acc.eq(Mux(first3, 0, acc) + sum3)

        # ---- S5: M * acc (two stages when acc is wider than a DSP operand, or serially: hw/mul.py)
        if self.serial_req:
            # the constants of channel kch in kst: fetched word by word (kn) after reset and after
            # each load, for the next channel (channels come in order, C - 1 wraps to 0); a
            # channel's steps (>= KW + 2 cycles) leave time for the fetch before its load
            kst = [Signal(16, name=f"kst{i}") for i in range(KW)]
            kch = Signal(range(max(C, 2)))
            kn = Signal(range(KW + 1))
            kcap, kcap_i = Signal(), Signal(range(max(KW, 2)))
            m.d.sync += kcap.eq(0)
            with m.If(kn != KW):
                m.d.comb += krd.addr.eq(kch * KW + kn)
                m.d.sync += [kn.eq(kn + 1), kcap.eq(1), kcap_i.eq(kn)]
            with m.If(kcap):
                for i, w in enumerate(kst):
                    with m.If(kcap_i == i):
                        m.d.sync += w.eq(krd.data)
            kall = Cat(*kst)
            k_m, k_b = kall[:self.m_bits].as_signed(), kall[self.m_bits:self.m_bits + self.b_bits].as_signed()
            with m.If(adv_b & v4):
                m.d.sync += [kch.eq(Mux(kch == C - 1, 0, kch + 1)), kn.eq(0)]
            # the serial multiplier captures the finished sum and M on its load and starts from B:
            # p5 = M*acc + B, no adder after it
            p5, v5, req_lat, _ = serial_mul(m, adv_b, v4, acc, k_m, "req", addend=k_b)
            b5 = Const(0, 1)                 # (B is in p5 already; the DSP path adds it below)
        else:
            # ---- S4r: the finished sum and its constants registered before the DSP multiplier
            v4r = Signal()
            acc_r = Signal(signed(self.acc_bits))
            m_r, b_r = Signal(signed(self.m_bits)), Signal(signed(self.b_bits))
            with m.If(adv_b):
                m.d.sync += [v4r.eq(v4), acc_r.eq(acc), m_r.eq(krd.data.m), b_r.eq(krd.data.b)]
            p5, req_lat, (v5, b5) = split_mul(m, adv_b, m_r, acc_r, "req", along=(v4r, b_r), out_reg=self.dsp_reg)
        assert req_lat == self.req_latency
        # ---- S6: y = sat_y((P + B) >> SH)
        v6 = Signal()
        y6 = Signal(layouts.y_value(fmt))
        with m.If(adv_b):
            m.d.sync += [v6.eq(v5), y6.eq(saturate((p5 + b5) >> self.shift, fmt.y_lo, fmt.y_hi))]

        # ---- activation, S7 (lrelu: y * act_mult), output register
        if self.layer.act == "lrelu":
            am = int(self.layer.act_mult)
            v7 = Signal()
            y7 = Signal(layouts.y_value(fmt))
            q7 = Signal(signed(fmt.y_bits + signed_bits(am)))
            if self.ext_lrelu:
                # from the provider's multiplier, which registers it every cycle: it gets the value
                # y7 will hold next (y6 when the pipeline advances, else y7 again)
                m.d.comb += [self.lrelu_y.eq(Mux(adv_b, y6, y7)), q7.eq(self.lrelu_p)]
                with m.If(adv_b):
                    m.d.sync += [v7.eq(v6), y7.eq(y6)]
            elif self.split_lrelu:
                # (module docstring) S7a: the CSD pair sums, registered with y and valid; S7: their sum
                pairs = csd_pair_regs(m, adv_b, y6, am)
                v7a = Signal()
                y7a = Signal(layouts.y_value(fmt), reset_less=True)
                with m.If(adv_b):
                    m.d.sync += [v7a.eq(v6), y7a.eq(y6)]
                    m.d.sync += [v7.eq(v7a), y7.eq(y7a), q7.eq(tree_sum(pairs))]
            else:
                with m.If(adv_b):
                    # y * act_mult as shift-and-add: a constant needs no DSP block (it took two
                    # SB_MAC16 on the UP5K, where there are eight)
                    m.d.sync += [v7.eq(v6), y7.eq(y6), q7.eq(const_mul(y6, am))]
            act = Mux(y7 >= 0, y7, rshift_round(q7, int(self.layer.act_shift)))
            vlast = v7
        else:
            act = Mux(y6 >= 0, y6, 0)
            vlast = v6
        with m.If(adv_b):
            m.d.sync += [self.o.valid.eq(vlast), *ov_r.eq(vlast), self.o.payload.eq(saturate(act, fmt.lo, fmt.hi))]
        return m
