"""PopcountEngine: folded XNOR-popcount 3x3 binary convolution (BBCU-B and BBCU-U).

Stream signature
  i: In(stream of layouts.window(cin))     one 3x3 window per transfer: `bits` (9*cin, tap t at
                                            bits [t*cin, (t+1)*cin), 0 where masked), `mask` (9 bits,
                                            1 = tap inside the image)
  o: Out(stream of {value: layouts.dot(cin), ch: channel})   one dot product per transfer
  width: In(unsigned)                       windows per LR row (only used when passes > 1),
                                            held stable for the whole frame
Output order
  passes = 1: per window, channels 0..cout-1.
  passes = r > 1 (BBCU-U, cout = C*r*r): the window stream is each LR row of `width` windows sent
  r times; on pass i of a row, per window, the C*r channels c*r*r + i*r + j, j outer, c inner
  (docs/units.md "BBCU-U in stream order"); `ch` carries the conv channel of every dot.
Arithmetic (docs/arithmetic.md 3.2)
  dot = 2*matches - valid; matches = XNOR matches over the window bits of in-image taps,
  valid = cin * popcount(mask).
Folding and cycle model
  K = cout / passes channels per window, computed `pe` at a time (G = K / pe channel groups), each
  group over F = 9*cin / simd folds of `simd` window bits: one (group, fold) step per cycle, so a
  window takes G*F cycles; the next window is accepted while the last step of the previous one
  issues (or earlier, into a skid register: i.ready is a flag, no function of the pipeline). The
  pe dots of a group are serialised (one per transfer, from a shift register) while the next
  group computes, so the steady state is max(G*F, K) cycles per window (= G*F when
  F >= pe). For N = width*height*passes windows (cycle_model):
      cycles = (N - 1) * max(G*F, K) + G*F + pe - 1 + 4 + Lp
  Lp = popcount pipeline depth (popcount_latency(); e.g. 11 for simd=576 "carry", 4 for simd=9 "tree").
  Latency from a window's transfer to its first dot: 4 + Lp + F - 1 cycles (the ROM's data are
  registered before the popcount: stage 1 holds the slice, stage 2 slice and ROM data).
  Flow control by credits: the pipeline has no enable (every stage advances every cycle); a group
  starts (its first fold issues) only while fewer than `depth` groups are between their start
  and the serialiser's last dot of them (a registered flag), and a finished group goes into the
  serialiser when it is free and nothing waits, else into a result FIFO (lib.fifo.SyncFIFO of
  depth - 1 groups of pe dots, depth = result_depth()) that therefore never overflows. The credit loop
  covers the pipeline, so without back-pressure it never throttles (same cycle model). (One
  pipeline enable for every stage, cleared by a finished group finding the serialiser busy,
  was a fan-out of thousands and on the ECP5 x2-base critical path, docs/boards.md row 88.)
  Fold f's slice: window bits [f*simd, (f+1)*simd), an F:1 multiplexer on the fold counter; from
  ONEHOT_MIN_FOLDS folds on, an AND-OR of the F slices with a one-hot fold register instead (no
  decoder: each of its bits drives the simd lanes of one slice).
Weights
  A ROM (amaranth.lib.memory.Memory, synchronous read, init = the weights) of pe*simd bits per
  word, one word per (pass, group, fold); PE p uses bits [p*simd, (p+1)*simd). rom_style="auto"
  asks yosys for block RAM from 4 Kbit on (else it may build the ROM from LUTs). A block-RAM ROM
  deeper than one DP16KD column (rom_bank_words) is one memory per column ("bank"), each read
  into a register of its own (the DP16KD output register, boards/outreg.py), and the ROM word is
  the OR of the bank registers each ANDed with its bit of a registered one-hot bank select,
  registered once more: one cycle more latency (rom_banks > 1), and no multiplexer between the
  block RAMs' read latches and a register (yosys' own split put one there: layer 8 of x4-base,
  7 banks, 11.3 ns in docs/boards.md row 123).
Masking
  Window bits are 0 where masked; the lanes of a tap share its mask bit. Lanes are split into
  segments of gcd(simd, cin) lanes that lie in one tap in every fold; each segment's partial count
  is masked (folded into a 4-input LUT of the next level), or each lane when segments are < 3.
Popcount implementations (`popcount=`), yosys cells for simd=576, cin=64, cout=64, pe=1 (engine)
  "carry":      (default) carry-chain adder tree: 3-lane XNOR full-adder leaves (4 LUT4 per 3
                lanes), then adders k + k + carry-in -> k+1 bits, each absorbing one more lane as
                its carry-in (a tree of 2^L - 1 lanes); per tap segment, masked, then summed.
                ECP5 2.97 LUT/lane, iCE40 2.33 LUT/lane.
  "compressor": every register-to-register function has <= 4 inputs: lane pairs -> half adder
                with both XNORs absorbed, masked full adders, Wallace 3:2 stages, one final adder.
                ECP5 3.20, iCE40 3.14 LUT/lane.
  "tree":       baseline: XNOR & mask per lane, binary adder tree, a register per level.
                ECP5 3.85, iCE40 3.09 LUT/lane.
  (benchmarks/popcount_cost.py measures them; ECP5 LUT = LUT4 + 2*CCU2C.)
Golden twin: sw.golden.xnor_popcount on sw.golden.window3x3 (== sw.golden.binary_conv).
"""
from __future__ import annotations

import math
from math import gcd

import numpy as np
from amaranth import Array, C, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats

from . import layouts
from .head import last_flag, next_is_last, or_tree, period_regs
from .ram_read import bank_select
from .replica import Replicated, groups

#: window bits per enable group: each group of this many bits of the window register (and its skid
#: register) takes its load enable and skid select from its own copy of the stage-0 flags
#: (hw/replica.py); the window register is 9 * cin bits (576 for 64 channels)
WIN_GROUP_BITS = 128

POPCOUNT_KINDS = ("carry", "compressor", "tree")


def rom_bank_words(width: int) -> int:
    """Words of a `width`-bit ROM that one ECP5 DP16KD column holds (16 Kbit as 16384 x 1 ..
    2048 x 9, 1024 x 18; a wider word takes several DP16KD side by side, 1024 words deep)."""
    for w, depth in ((1, 16384), (2, 8192), (4, 4096), (9, 2048)):
        if width <= w:
            return depth
    return 1024
#: fewest folds for which PopcountEngine selects the slice with a one-hot fold register (AND-OR)
ONEHOT_MIN_FOLDS = 4


# --------------------------------------------------------------------------- popcount builders
class _Pipe:
    """Pipeline-register factory: every register advances every cycle (no enable: PopcountEngine's
    flow control is by credits, the row-serial engine's pipeline never stalls)."""

    def __init__(self, m: Module, prefix: str):
        self.m, self.prefix, self.n = m, prefix, 0

    def reg(self, value, name: str | None = None):
        self.n += 1
        r = Signal(len(value) if not isinstance(value, int) else 1, name=f"{self.prefix}_{name or 'r'}{self.n}",
                   reset_less=True)
        self.m.d.sync += r.eq(value)
        return r


def _xnor(a, w):
    return ~(a ^ w)


def popcount_tree(m, pipe: _Pipe, a, w, lane_mask):
    """Baseline: lane = mask & XNOR(a, w), binary adder tree with a register per level.
    Returns (count value, latency in cycles)."""
    n = len(a)
    vals = [(lane_mask[i] & _xnor(a[i], w[i])) for i in range(n)]
    lat = 0
    if n == 1:
        return pipe.reg(vals[0], "t"), 1
    while len(vals) > 1:
        nv = []
        for i in range(0, len(vals) - 1, 2):
            wd = max(len(vals[i]), len(vals[i + 1])) + 1
            nv.append(pipe.reg((vals[i] + vals[i + 1])[:wd], "t"))
        if len(vals) % 2:
            nv.append(pipe.reg(vals[-1], "t"))
        vals = nv
        lat += 1
    return vals[0], lat


def _fa(a, b, c):
    return a ^ b ^ c, (a & b) | (a & c) | (b & c)


def popcount_compressor(m, pipe: _Pipe, a, w, seg_mask, seg: int):
    """LUT4-friendly compressor tree, every register-to-register function of at most 4 inputs (so
    delay-driven mappers cannot trade it for wide LUTs). `seg_mask[s]` masks lanes
    [s*seg, (s+1)*seg). Returns (count value, latency in cycles)."""
    n = len(a)
    nseg = n // seg
    lat = 0
    cols: list[list] = [[], []]
    if seg < 3:
        # short mask segments: mask each lane (a, w, m -> 1 LUT4), then compress globally
        for i in range(n):
            cols[0].append(pipe.reg(seg_mask[i // seg] & _xnor(a[i], w[i]), "x"))
        lat += 1
    else:
        # stage 1 (per segment): lane pairs -> half adder with both XNORs absorbed (2 LUT4)
        segcols = []
        for s in range(nseg):
            c0, c1 = [], []
            i, hi = s * seg, (s + 1) * seg
            while hi - i >= 2:
                x0, x1 = _xnor(a[i], w[i]), _xnor(a[i + 1], w[i + 1])
                c0.append(pipe.reg(x0 ^ x1, "s"))
                c1.append(pipe.reg(x0 & x1, "c"))
                i += 2
            if hi - i == 1:
                c0.append(pipe.reg(_xnor(a[i], w[i]), "s"))
            segcols.append((c0, c1))
        msk = [pipe.reg(seg_mask[s], "m") for s in range(nseg)]
        lat += 1
        # stage 2 (per segment): full adders with the segment's tap mask folded in (4-input LUTs)
        cols = [[], [], []]
        for s, (c0, c1) in enumerate(segcols):
            mk = msk[s]
            for ci, col in enumerate((c0, c1)):
                j = 0
                while len(col) - j >= 3:
                    sm, cy = _fa(col[j], col[j + 1], col[j + 2])
                    cols[ci].append(pipe.reg(mk & sm, "s"))
                    cols[ci + 1].append(pipe.reg(mk & cy, "c"))
                    j += 3
                for b in col[j:]:
                    cols[ci].append(pipe.reg(mk & b, "b"))
        lat += 1
    while not cols[-1]:
        cols.pop()
    # Wallace stages: 3:2 full adders until every column holds at most 2 bits
    while max(len(c) for c in cols) > 2:
        nc = [[] for _ in range(len(cols) + 1)]
        for ci, col in enumerate(cols):
            j = 0
            while len(col) - j >= 3:
                sm, cy = _fa(col[j], col[j + 1], col[j + 2])
                nc[ci].append(pipe.reg(sm, "s"))
                nc[ci + 1].append(pipe.reg(cy, "c"))
                j += 3
            for b in col[j:]:
                nc[ci].append(pipe.reg(b, "b"))
        while not nc[-1]:
            nc.pop()
        cols = nc
        lat += 1
    width = formats.popcount_bits(n)
    row_a = Cat(*[(c[0] if len(c) > 0 else C(0, 1)) for c in cols])
    row_b = Cat(*[(c[1] if len(c) > 1 else C(0, 1)) for c in cols])
    if any(len(c) > 1 for c in cols):
        out = pipe.reg((row_a + row_b)[:width], "f")
        lat += 1
    else:
        out = row_a[:width] if len(row_a) >= width else row_a
    return out, lat


def _fa3_leaf(m, pipe: _Pipe, a, w, idx):
    """Registered count (2 bits) of 1..3 XNOR lanes."""
    xs = [_xnor(a[k], w[k]) for k in idx]
    if len(xs) == 1:
        return pipe.reg(xs[0], "x")
    if len(xs) == 2:
        return Cat(pipe.reg(xs[0] ^ xs[1], "s"), pipe.reg(xs[0] & xs[1], "c"))
    p = Signal(name=f"{pipe.prefix}_p{idx[0]}", attrs={"keep": 1})
    g = Signal(name=f"{pipe.prefix}_g{idx[0]}", attrs={"keep": 1})
    m.d.comb += [p.eq(xs[0] ^ xs[1]), g.eq(xs[0] & xs[1])]
    return Cat(pipe.reg(p ^ xs[2], "s"), pipe.reg(g | (p & xs[2]), "c"))


def _carry_tree(pipe: _Pipe, vals, cins, stride: int = 1):
    """Binary tree of carry-chain adders over `vals` (list of (value, latency), one latency), each
    adder also absorbing one 1-bit carry-in from `cins` (list of callables latency -> bit), with a
    register level after every `stride`-th adder level and after the last. Returns (value, latency)."""
    lats = {l for _, l in vals}
    if len(lats) != 1:
        raise ValueError(f"the tree's inputs must share one latency, not {sorted(lats)}")
    lat = lats.pop()
    vals = [v for v, _ in vals]
    level = 0
    while len(vals) > 1:
        regd = len(vals) <= 2 or level % stride == stride - 1
        nv = []
        for k in range(0, len(vals) - 1, 2):
            x, y = vals[k], vals[k + 1]
            wd = max(len(x), len(y)) + 1
            s = (x + y + cins.pop()(lat))[:wd] if cins else (x + y)[:wd]
            nv.append(pipe.reg(s, "a") if regd else s)
        if len(vals) % 2:             # the odd one passes this level (registered with it)
            nv.append(pipe.reg(vals[-1], "d") if regd else vals[-1])
        vals = nv
        lat += int(regd)
        level += 1
    return vals[0], lat


def _delay(pipe, v, n):
    for _ in range(n):
        v = pipe.reg(v, "d")
    return v


def popcount_carry(m, pipe: _Pipe, a, w, seg_mask, seg: int, stride: int = 1):
    """Carry-chain adder tree: 3-lane XNOR full-adder leaves, then adders that each absorb one more
    lane as carry-in (k-bit + k-bit + 1 -> k+1 bits); per tap segment, masked, then summed.
    stride: adder levels per register level (1: a register after every adder; 2 halves the tree's
    flip-flops where the clock allows two small carry chains per cycle: the row-serial UP5K engine)."""
    n = len(a)
    nseg = n // seg
    seg_counts = []
    for s in range(nseg):
        lanes = list(range(s * seg, (s + 1) * seg))
        t = max(1, (len(lanes) + 4) // 4)
        leaves_l = lanes[:min(3 * t, len(lanes))]
        pool = lanes[len(leaves_l):]
        leaves = [(_fa3_leaf(m, pipe, a, w, leaves_l[k:k + 3]), 1) for k in range(0, len(leaves_l), 3)]

        def carry_in(lane):          # the lane's XNOR, registered to meet its adder's latency
            return lambda lat: _delay(pipe, pipe.reg(_xnor(a[lane], w[lane]), "x"), lat - 1)
        cins = [carry_in(k) for k in pool]
        v, lat = _carry_tree(pipe, leaves, cins, stride)
        assert not cins, "every carry-in lane must be absorbed"
        mk_s = _delay(pipe, seg_mask[s], lat)
        seg_counts.append((v, mk_s, lat))
    lat = max(l for _, _, l in seg_counts)
    masked = []
    for v, mk_s, l in seg_counts:
        if l < lat:
            v = _delay(pipe, v, lat - l)
            mk_s = _delay(pipe, mk_s, lat - l)
        masked.append((pipe.reg(v & mk_s.replicate(len(v)), "mk"), lat + 1))
    v, lat = _carry_tree(pipe, masked, [], stride)
    return v, lat


# --------------------------------------------------------------------------- engine
class PopcountEngine(wiring.Component):
    def _fail(self, msg: str):
        self._MustUse__silence = True                  # never elaborated: no "unused" warning
        raise ValueError(msg)

    def __init__(self, wbits, cin: int, simd: int, pe: int, passes: int = 1, max_width: int = 2048,
                 popcount: str = "carry", rom_style: str = "auto", win_group_bits: int = WIN_GROUP_BITS,
                 rom_bank: int | None = None):
        wb = np.asarray(wbits, dtype=np.uint8)
        n = formats.TAPS * cin
        if wb.ndim != 2 or wb.shape[1] != n:
            self._fail(f"wbits must be [cout, 9*cin={n}], got {wb.shape}")
        if popcount not in POPCOUNT_KINDS:
            self._fail(f"popcount must be one of {POPCOUNT_KINDS}")
        self.wbits = wb & 1
        self.cin, self.cout, self.n = cin, wb.shape[0], n
        self.simd, self.pe, self.passes, self.popcount = simd, pe, passes, popcount
        self.max_width = max_width
        self.rom_style = rom_style          # "auto": block RAM from 4 Kbit on; or a yosys rom_style
        self.win_groups = groups(n, win_group_bits)   # [lo, hi) window bits per enable group
        if n % simd:
            self._fail(f"simd={simd} must divide 9*cin={n}")
        r = passes
        if r < 1 or self.cout % (r * r):
            self._fail(f"cout={self.cout} must be a multiple of passes^2={r * r}")
        self.C = self.cout // (r * r)
        self.K = self.cout // r                      # channels emitted per window
        if self.K % pe:
            self._fail(f"pe={pe} must divide the {self.K} channels emitted per window")
        self.F = n // simd
        #: the fold slice as an AND-OR on a one-hot fold register instead of an F:1 multiplexer on
        #: the fold counter, from ONEHOT_MIN_FOLDS folds on (x4-base's simd = 3 engines, F = 144:
        #: the multiplexer was over 1,000 LUTs each and the ECP5 critical path, 17.2 ns, row 85; a
        #: window register rotating with every issue instead put the pipeline enable on all its
        #: bits, x2-base's critical path in row 86)
        self.onehot = self.F >= ONEHOT_MIN_FOLDS
        self.G = self.K // pe
        depth, width = passes * self.G * self.F, pe * simd
        self.rom_block = rom_style == "block" or (rom_style == "auto" and depth * width >= 4096)
        #: ROM banks (module docstring: "Weights") of rom_bank words (default rom_bank_words(width);
        #: smaller for tests of the banked read on small engines)
        self.rom_bank = rom_bank or rom_bank_words(width)
        if self.rom_bank & (self.rom_bank - 1):
            self._fail(f"rom_bank must be a power of two, got {rom_bank}")
        self.rom_banks = -(-depth // self.rom_bank) if self.rom_block else 1
        self.seg = gcd(simd, cin)                    # lanes sharing one tap in every fold
        self.chbits = max(1, (self.cout - 1).bit_length())
        self.out_layout = data.StructLayout({"value": layouts.dot(cin), "ch": unsigned(self.chbits)})
        super().__init__({
            "i": In(stream.Signature(layouts.window(cin))),
            "o": Out(stream.Signature(self.out_layout)),
            "width": In(unsigned(max(1, int(max_width).bit_length()))),
        })

    # ------------------------------------------------------------------ order / constants
    def channel(self, i: int, e: int) -> int:
        """Conv channel of emission e (0..K-1) of a window on pass i."""
        r = self.passes
        if r == 1:
            return e
        j, c = divmod(e, self.C)
        return c * r * r + i * r + j

    def channel_order(self, i: int = 0) -> list[int]:
        return [self.channel(i, e) for e in range(self.K)]

    def rom_init(self) -> list[int]:
        words = []
        simd, pe = self.simd, self.pe
        for i in range(self.passes):
            for g in range(self.G):
                for f in range(self.F):
                    word = 0
                    for p in range(pe):
                        ch = self.channel(i, g * pe + p)
                        bits = self.wbits[ch, f * simd:(f + 1) * simd]
                        v = int.from_bytes(np.packbits(bits, bitorder="little").tobytes(), "little")
                        word |= v << (p * simd)
                    words.append(word)
        return words

    # ------------------------------------------------------------------ models
    def steps_per_window(self) -> int:
        return self.G * self.F

    def cycles_per_window(self) -> int:
        return max(self.G * self.F, self.K)

    def popcount_latency(self) -> int:
        m = Module()
        m._MustUse__silence = True                     # a throw-away build to count the stages
        pipe = _Pipe(m, "probe")
        a, w = Signal(self.simd), Signal(self.simd)
        nseg = self.simd // self.seg
        if self.popcount == "tree":
            _, lat = popcount_tree(m, pipe, a, w, Signal(self.simd))
        elif self.popcount == "carry":
            _, lat = popcount_carry(m, pipe, a, w, Signal(nseg), self.seg)
        else:
            _, lat = popcount_compressor(m, pipe, a, w, Signal(nseg), self.seg)
        return lat

    def latency(self) -> int:
        """Pipeline cycles: window register, issue/ROM register, ROM data register (banked: bank
        registers, then the word), popcount stages, result register."""
        return 4 + (self.rom_banks > 1) + self.popcount_latency()

    def result_depth(self) -> int:
        """Groups the credit loop admits: the groups that start within one round trip (first fold
        issued -> its last dot taken -> credit visible), one per max(F, pe) cycles, plus one."""
        trip = self.F + self.latency() + self.pe + 2
        return -(-trip // max(self.F, self.pe)) + 1

    def cycle_model(self, width: int, height: int) -> int:
        """Cycles from the first input transfer to the last output transfer, inclusive, for one
        frame (width*height LR windows, each replayed `passes` times)."""
        windows = width * height * self.passes
        return (windows - 1) * self.cycles_per_window() + self.G * self.F + self.pe - 1 + self.latency()

    def resource_estimate(self) -> dict:
        simd, pe, n = self.simd, self.pe, self.n
        pcb = formats.popcount_bits(simd)
        db = formats.dot_bits(self.cin)
        lane_lut = {"carry": 2.7, "compressor": 3.1, "tree": 3.9}[self.popcount]   # ECP5/iCE40 mean, simd=576
        pop = int(lane_lut * simd) * pe
        # fold select (simd lanes x F:1 over the 9*cin-bit window): yosys builds it as a shifter,
        # n bits through log2(F) levels of 2:1 muxes, ~0.4 LUT4 per 2:1 mux (iCE40 and ECP5 mean);
        # with `onehot`, an AND-OR: ~2/3 LUT4 per window bit
        if self.F == 1:
            mux = 0
        elif self.onehot:
            mux = 2 * n // 3
        else:
            mux = int(0.4 * n * math.log2(self.F))
        ctrl = 60 + 3 * (max(self.G, 1).bit_length() + max(self.F, 1).bit_length()) + 30 * (self.passes > 1)
        lut = pop + mux + pe * (2 * db + 4) + ctrl
        ff_lane = {"carry": 2.6, "compressor": 3.6, "tree": 3.3}[self.popcount]
        # (window + its skid; the slice over two stages; the ROM data register)
        ff = 2 * (n + 9) + 2 * simd + pe * simd + int(ff_lane * simd) * pe + pe * (pcb + 2 * db) + 61
        ff += 6 * (len(self.win_groups) - 1)          # replicated stage-0 flags
        ff += max(self.passes * self.G * self.F - 1, 1).bit_length()   # addr + 1 (addr_p1)
        if self.rom_banks > 1:     # (the bank registers go into the DP16KDs; the word register is
            # the ROM data register above) the bank selects, one more stage of slice, mask, side
            # band, valid and count
            ff += 2 * self.rom_banks + simd + simd // self.seg + 8
            lut += pe * simd * -(-self.rom_banks // 2)
        if self.onehot and self.F > 1:                 # the group ORs' registers (about sqrt(F))
            grp = 1 << max(0, math.ceil(math.log2(math.sqrt(self.F))))
            ff += (-(-self.F // grp) - 1) * simd
        lut += n + 9                                                                # (the skid select)
        # result FIFO (LUT RAM on ECP5: ~1 LUT per bit per 16 words, plus the res input select) + credits
        lut += 2 * pe * db * -(-(self.result_depth() - 1) // 16) + 16
        ff += 3 * self.result_depth().bit_length() + 4
        return {"lut": lut, "ff": ff, "bram_bits": self.passes * self.G * self.F * pe * simd, "dsp": 0}

    # ------------------------------------------------------------------ gateware
    def elaborate(self, platform):
        m = Module()
        cin, simd, pe, F, G, K, r = self.cin, self.simd, self.pe, self.F, self.G, self.K, self.passes
        n, seg = self.n, self.seg
        nseg = simd // seg
        dshape = layouts.dot(cin)

        style = self.rom_style if self.rom_style != "auto" else ("block" if self.rom_block else None)
        NRB = self.rom_banks
        if NRB == 1:
            m.submodules.rom = rom = memory.Memory(shape=unsigned(pe * simd), depth=r * G * F, init=self.rom_init(),
                                                   attrs={"rom_style": style} if style else None)
            rd = rom.read_port(domain="sync")
            rom_addr = rd.addr
        else:                                          # (module docstring: "Weights")
            bw = self.rom_bank
            words = self.rom_init()
            rds = []
            for k in range(NRB):
                part = words[k * bw:(k + 1) * bw]
                m.submodules[f"rom{k}"] = bank = memory.Memory(shape=unsigned(pe * simd), depth=len(part), init=part,
                                                               attrs={"rom_style": "block"})
                rds.append(bank.read_port(domain="sync"))
            rom_addr = Signal(range(r * G * F))
            ab = (bw - 1).bit_length()
            m.d.comb += [rk.addr.eq(rom_addr[:ab]) for rk in rds]

        D = self.result_depth()                        # credits (no pipeline enable)

        # ---------------- stage 0: window register and step counters
        win = Signal(n, reset_less=True)
        wmask = Signal(formats.TAPS, reset_less=True)
        # the flags behind the window register's enables, a copy per group of its bits (copy 0 also
        # for the control): one enable net of 9 * cin loads would span the engine's placement
        wgroups = self.win_groups
        NW = len(wgroups)
        wvalid_r = Replicated(NW, "wvalid")
        wvalid = wvalid_r[0]
        f = Signal(range(max(F, 2)))
        g = Signal(range(max(G, 2)))
        addr = Signal(range(max(r * G * F, 2)))
        # "f is the last fold" and "g is the last group" as registers set with f and g: the compares
        # sat in front of i.ready, whose fan-out is the window generator's step logic (the deepest
        # logic of every ECP5 x2-base layer window, benchmarks/netlist_depth.py)
        last_f_r = Replicated(NW, "last_f", init=F == 1)
        last_g_r = Replicated(NW, "last_g", init=G == 1)
        first_f_r = Replicated(NW, "first_f", init=1)  # f == 0: a group starts and needs a credit
        room_r = Replicated(NW, "room", init=1)        # a credit is free (inflight < D), registered
        last_f, last_g, first_f, room = last_f_r[0], last_g_r[0], first_f_r[0], room_r[0]
        last_step = last_f & last_g

        def issues(j):
            return wvalid_r[j] & (room_r[j] | ~first_f_r[j])
        issue = Signal()
        m.d.comb += issue.eq(issues(0))
        # the window register's input side is a skid buffer (hw/skid.py's scheme, with `win` as
        # its main register): i.ready is a flag (~sk_valid), so the window generator's step logic
        # does not wait on this engine's issue logic (then a pipeline enable <- the output skid <- the
        # next unit: the ECP5 x2-base critical path, docs/boards.md row 74). A window that arrives while
        # `win` is busy waits in `sk`; in the steady state windows still go straight into `win`.
        sk = Signal(n, reset_less=True)
        sk_mask = Signal(formats.TAPS, reset_less=True)
        sk_valid_r = Replicated(NW, "sk_valid")
        sk_valid = sk_valid_r[0]

        def free(j):                                    # win is empty or leaves this cycle
            return ~wvalid_r[j] | (issues(j) & last_f_r[j] & last_g_r[j])
        m.d.comb += self.i.ready.eq(~sk_valid)
        bits = self.i.payload.bits
        for j, (lo, hi) in enumerate(wgroups):
            with m.If(~sk_valid_r[j]):
                m.d.sync += sk[lo:hi].eq(bits[lo:hi])
            with m.If(free(j)):
                m.d.sync += win[lo:hi].eq(Mux(sk_valid_r[j], sk[lo:hi], bits[lo:hi]))
        with m.If(~sk_valid):
            m.d.sync += sk_mask.eq(self.i.payload.mask)
        with m.If(free(0)):
            m.d.sync += [wmask.eq(Mux(sk_valid, sk_mask, self.i.payload.mask)),
                         *wvalid_r.eq(sk_valid | self.i.valid), *sk_valid_r.eq(0)]
        with m.Elif(self.i.valid & ~sk_valid):
            m.d.sync += sk_valid_r.eq(1)

        # pass bookkeeping (ROM base address of the current pass)
        stride = G * F
        pbase = Signal(range(max(r * G * F, 2)))
        if r > 1:
            # "xcnt is the last column", "icnt is the last pass" and pbase + stride as registers
            # (their compares and the adder sat between the counters and the ROM address: x4-base
            # row 109, layers 8 and 9)
            xcnt = Signal.like(self.width)
            icnt = Signal(range(r))
            x_last, i_last = Signal(name="x_last"), Signal(init=r == 1, name="i_last")
            pbase_p = Signal.like(pbase, init=stride)
            adv = issue & last_step
            xcnt_n, icnt_n = Signal.like(xcnt), Signal.like(icnt)
            m.d.comb += [xcnt_n.eq(xcnt), icnt_n.eq(icnt)]
            with m.If(adv):
                with m.If(x_last):
                    m.d.comb += xcnt_n.eq(0)
                    with m.If(i_last):
                        m.d.comb += icnt_n.eq(0)
                    with m.Else():
                        m.d.comb += icnt_n.eq(icnt + 1)
                with m.Else():
                    m.d.comb += xcnt_n.eq(xcnt + 1)
            # x_last from compares of xcnt with the registered W - 1 / W - 2 (hw/head.last_flag), and
            # pbase_p (= pbase + stride, always) from its own sum: from the next values, the issue ->
            # xcnt's next value -> add -> compare and the issue -> pbase's next value -> add chains
            # were x4-base's critical path (docs/boards.md row 132, layer 8's engine, 10.5 ns)
            last_flag(m, x_last, xcnt, adv, period_regs(m, self.width, "eng_w"))
            m.d.sync += [xcnt.eq(xcnt_n), icnt.eq(icnt_n), i_last.eq(icnt_n == r - 1),
                         pbase_p.eq(Mux(adv & x_last, Mux(i_last, stride, pbase_p + stride), pbase_p))]
            # the pass base a last step moves to (after the last column: the next pass's, or 0 after
            # the last pass), from registers only
            nbase = Mux(x_last, Mux(i_last, 0, pbase_p), pbase)
            m.d.sync += pbase.eq(Mux(adv, nbase, pbase))
        else:
            nbase = pbase
        # the ROM address's candidates (the pass base, addr + 1 as a register of its own) computed
        # from registers, the issue selecting only: issue -> the pass base's select -> the address,
        # and addr + 1's carry chain, were 4 levels and a chain in front of the address register,
        # x4-base docs/boards.md row 135: layer 8's engine, 59 endpoints over 8 ns, 10.0 ns
        addr_p1 = Signal.like(addr, init=1, name="addr_p1")
        m.d.sync += addr_p1.eq(Mux(issue, Mux(last_step, nbase + 1, addr_p1 + 1), addr_p1))
        with m.If(issue):
            m.d.sync += [f.eq(Mux(last_f, 0, f + 1)), g.eq(Mux(last_f, Mux(last_g, 0, g + 1), g)),
                         *last_f_r.eq(next_is_last(last_f, f, F)), *first_f_r.eq(last_f),
                         *last_g_r.eq(Mux(last_f, next_is_last(last_g, g, G), last_g))]
            m.d.sync += addr.eq(Mux(last_step, nbase, addr_p1))
        m.d.comb += rom_addr.eq(addr)                  # read every cycle (en stays 1)

        # window slice and per-segment tap masks of fold f
        if F == 1:
            slice_ = win
        elif self.onehot:
            # fold f as a one-hot register (rotated with every issue, like f counts) and the slice
            # as an AND-OR over the folds: each select bit drives simd lanes, no decoder of f
            oh = Signal(F, init=1, name="fold_oh")
            with m.If(issue):
                m.d.sync += oh.eq(Cat(oh[-1], oh[:-1]))
            terms = [win[k * simd:(k + 1) * simd] & oh[k].replicate(simd) for k in range(F)]
            # the OR in two halves with the first pipeline register between them: groups of about
            # sqrt(F) folds, each group's OR registered (near its window bits), then the OR of the
            # groups (the whole tree in one cycle gathered a 432-bit register from across a
            # layer: x4-base's ECP5 critical path, docs/boards.md row 105)
            grp = 1 << max(0, math.ceil(math.log2(math.sqrt(F))))
            slice_parts = [or_tree(terms[i:i + grp]) for i in range(0, F, grp)]
            slice_ = None
        else:
            slice_ = Array([win[k * simd:(k + 1) * simd] for k in range(F)])[f]
        segm = Signal(nseg)
        for s in range(nseg):
            taps = [(k * simd + s * seg) // cin for k in range(F)]
            if len(set(taps)) == 1:
                m.d.comb += segm[s].eq(wmask[taps[0]])
            else:
                m.d.comb += segm[s].eq(Array([wmask[t] for t in taps])[f])
        cnt = Signal(4)                                  # popcount(mask)
        m.d.comb += cnt.eq(sum(wmask[t] for t in range(formats.TAPS)))

        def nvalid_of(c):
            # -cin * popcount(mask) from a table of the ten products, one LUT per bit (as `cnt * cin`
            # yosys put a MULT18X18D per engine behind the mask adder, 14.5 ns of logic, the deepest
            # path of the ECP5 x2-base). It is looked up one stage after the count is registered
            # (mask adder and table in one cycle were over 8 ns by the ECP5 depth map).
            return Array([C(-k * cin, dshape) for k in range(formats.TAPS + 1)])[c]

        # ---------------- stage 1: registered slice + side band, ROM data arrive (block-RAM output)
        # ---------------- stage 2: both registered, so the popcount starts at flip-flops
        # (the ROM's data went straight into the XNOR and the first adders: on the ECP5 a block
        # RAM without its output register has 5.8 ns clock-to-out, and those two logic levels
        # made every engine's ROM a path over 8 ns, benchmarks/netlist_depth.py)
        # ---------------- (banked ROM: stage 3, the bank registers' selected word registered; the
        # slice, mask, side band, valid and count take one register more)
        pipe = _Pipe(m, "pc")
        more = (lambda v, name: pipe.reg(v, name)) if NRB > 1 else (lambda v, name: v)   # noqa: E731
        if slice_ is None:                               # one-hot: the OR split by the register
            a1 = more(pipe.reg(or_tree([pipe.reg(p, "ap") for p in slice_parts]), "a"), "a")
        else:
            a1 = more(pipe.reg(pipe.reg(slice_, "a"), "a"), "a")
        m1 = more(pipe.reg(pipe.reg(segm, "msk"), "msk"), "msk")
        side = more(pipe.reg(pipe.reg(Cat(issue, f == 0, last_f), "side"), "side"), "side")
        if NRB == 1:
            wq = pipe.reg(rd.data, "rom_q")
        else:
            # (hw/ram_read.bank_select: a register per bank beside its one-hot select bit, the OR of
            # the selected ones; every cycle here, the pipeline has no enable)
            sel1 = Signal(NRB, name="rom_sel1")
            m.d.sync += sel1.eq(Cat(*[rom_addr[ab:] == k for k in range(NRB)]))
            wq = pipe.reg(bank_select(m, 1, sel1, [rk.data for rk in rds], unsigned(pe * simd), "rom_bq"), "rom_q")
        v0, v1 = Signal(), Signal()                      # valid bits need a reset
        # the count registers are reset and take the count only with a window issued (else 0): yosys
        # may turn the table behind them into the next register's synchronous reset, which must not
        # be X from a window generator's mask before its first window (tests/test_postsynth.py)
        cnt0, cnt1 = Signal(4), Signal(4)
        m.d.sync += [v0.eq(issue), cnt0.eq(Mux(issue, cnt, 0)), v1.eq(v0), cnt1.eq(cnt0)]
        if NRB > 1:
            v2, cnt2 = Signal(), Signal(4)
            m.d.sync += [v2.eq(v1), cnt2.eq(cnt1)]
            v1, cnt1 = v2, cnt2

        # ---------------- popcount pipelines (one per PE)
        counts = []
        lat = 0
        for p in range(pe):
            wp = wq[p * simd:(p + 1) * simd]
            pp = _Pipe(m, f"pe{p}")
            if self.popcount == "tree":
                lane_mask = Cat(*[m1[l // seg] for l in range(simd)])
                cnt_p, lat = popcount_tree(m, pp, a1, wp, lane_mask)
            elif self.popcount == "carry":
                cnt_p, lat = popcount_carry(m, pp, a1, wp, m1, seg)
            else:
                cnt_p, lat = popcount_compressor(m, pp, a1, wp, m1, seg)
            counts.append(cnt_p)
        # delay the side band (valid with reset) by the popcount latency
        vd, sd = v1, side
        for k in range(lat):
            nv = Signal(name=f"vd{k}")
            m.d.sync += nv.eq(vd)
            vd = nv
            sd = pipe.reg(Cat(sd, nvalid_of(cnt1)) if k == 0 else sd, "sd")
        if lat == 0:
            sd = Cat(sd, nvalid_of(cnt1))
        a_valid = vd
        a_first, a_last = sd[1], sd[2]
        a_nvalid = sd[3:].as_signed()

        # ---------------- accumulate over folds, result FIFO, result register + serialiser
        res = [Signal(dshape, name=f"res{p}", reset_less=True) for p in range(pe)]
        res_valid = Signal()
        rcnt = Signal(range(max(pe, 2)))
        take = self.o.valid & self.o.ready
        grp_done = take & (rcnt == pe - 1)              # the serialiser's last dot of a group leaves
        res_free = ~res_valid | grp_done
        done = a_valid & a_last                         # a group's dots are complete this cycle
        dots = []
        for p in range(pe):
            two = Cat(C(0, 1), counts[p]).as_unsigned()
            if F == 1:
                tot = a_nvalid + two
            else:
                acc = Signal(dshape, name=f"acc{p}", reset_less=True)
                tot = Mux(a_first, a_nvalid, acc) + two
                with m.If(a_valid):
                    m.d.sync += acc.eq(tot)
            dots.append(tot)
        db = len(dots[0])
        # at most D - 1 groups wait: whenever one does, another is in the serialiser (it takes the
        # FIFO's head as soon as it is free), and credits bound all of them to D
        m.submodules.rfifo = rfifo = fifo.SyncFIFO(width=pe * db, depth=D - 1)
        direct = done & res_free & ~rfifo.r_rdy         # straight into the serialiser
        m.d.comb += [rfifo.w_en.eq(done & ~direct), rfifo.w_data.eq(Cat(*dots)),
                     rfifo.r_en.eq(res_free)]
        load = res_free & (rfifo.r_rdy | done)
        # (res_valid under rcnt's enable, as logic: no one-flip-flop clock enable, hw/flag.py)
        with m.If(load | take):
            m.d.sync += [res_valid.eq(load | (rcnt != pe - 1)), rcnt.eq(Mux(load, 0, rcnt + 1))]
        with m.If(load):
            m.d.sync += [res[p].eq(Mux(rfifo.r_rdy, rfifo.r_data[p * db:(p + 1) * db], dots[p]))
                         for p in range(pe)]
        with m.Elif(take):
            m.d.sync += [res[p].eq(res[p + 1]) for p in range(pe - 1)]
        # credits: groups started and not yet fully taken, at most D (so the FIFO cannot overflow)
        inflight = Signal(range(D + 1))
        inc = issue & first_f
        with m.If(inc & ~grp_done):
            m.d.sync += [inflight.eq(inflight + 1), *room_r.eq(inflight < D - 1)]
        with m.Elif(grp_done & ~inc):
            m.d.sync += [inflight.eq(inflight - 1), *room_r.eq(1)]
        m.d.comb += [self.o.valid.eq(res_valid), self.o.payload.value.eq(res[0])]

        # ---------------- output channel tags (emission order counters)
        ch = Signal(self.chbits)
        m.d.comb += self.o.payload.ch.eq(ch)
        if r == 1:
            with m.If(take):
                m.d.sync += ch.eq(Mux(ch == self.cout - 1, 0, ch + 1))
        else:
            C_ = self.C
            co = Signal(range(max(C_, 2)))
            jo = Signal(range(r))
            xo = Signal.like(self.width)
            io = Signal(range(r))
            rowbase = Signal(self.chbits)               # i*r + j
            passbase = Signal(self.chbits)              # i*r
            # "xo is the row's last window", registered: xo changes at most every C*r >= 2 takes, so
            # the flag has settled when it is used (the compare was the ECP5 critical path, row 17)
            xo_last = Signal()
            m.d.sync += xo_last.eq(xo + 1 >= self.width)
            with m.If(take):
                with m.If(co != C_ - 1):
                    m.d.sync += [co.eq(co + 1), ch.eq(ch + r * r)]
                with m.Else():
                    m.d.sync += co.eq(0)
                    with m.If(jo != r - 1):
                        m.d.sync += [jo.eq(jo + 1), rowbase.eq(rowbase + 1), ch.eq(rowbase + 1)]
                    with m.Else():
                        m.d.sync += jo.eq(0)
                        with m.If(~xo_last):
                            m.d.sync += [xo.eq(xo + 1), rowbase.eq(passbase), ch.eq(passbase)]
                        with m.Else():
                            m.d.sync += xo.eq(0)
                            with m.If(io == r - 1):
                                m.d.sync += [io.eq(0), passbase.eq(0), rowbase.eq(0), ch.eq(0)]
                            with m.Else():
                                m.d.sync += [io.eq(io + 1), passbase.eq(passbase + r),
                                             rowbase.eq(passbase + r), ch.eq(passbase + r)]
        return m
