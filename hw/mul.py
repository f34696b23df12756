"""Multiplier helpers for pipelines with one global enable: `split_mul` (two stages, for a product
wider than one DSP block) and `serial_mul` (two bits per cycle, no DSP block, for units with many
cycles per product: the row-serial head on the UP5K).

split_mul:

p = a * b with b wider than 18 bits: b = hi * 2**LO + lo (lo: the low LO = 17 bits, unsigned;
hi: the rest, signed), the partial products a * lo and a * hi are registered (one DSP block each
on the ECP5 / iCE40 when a has <= 18 bits), then summed: p = (a*hi << LO) + a*lo. One cycle more
than a single multiply, but neither stage chains a DSP block into a wide adder (a 18 x 30 product
in one cycle was the ECP5 critical path of the tail, 11.2 ns).

Not a stream component: a pipeline helper for units with one global enable. `split_mul(m, en,
a, b, along=[...])` returns (p, latency, delayed) where p is valid `latency` enabled cycles after
a and b (2, or 1 when b is narrow enough for one multiply, in which case the product is
registered once) and `delayed` are the `along` values (valid flags, indices, a bias) registered
through the same number of stages, so they arrive with the product. The register each DSP
product goes into first has no reset: the ECP5 board build makes it the MULT18X18D's own output
register (boards/outreg.py). out_reg=True: one more register (one cycle more) before the sum or
the result, so the route from the DSP block to the logic after it has a cycle of its own (x4-base's
head: DSP output -> 4.1 ns route -> the partial-product register, docs/boards.md row 125).
Golden twin: plain integer multiplication (exact; the tests of the head and tail units check it).
"""
from __future__ import annotations

from amaranth import Cat, Const, Mux, Signal, signed
from amaranth.hdl import Shape

LO = 17
DSP_BITS = 18


def split_mul(m, en, a, b, name: str = "mul", along=(), out_reg: bool = False):
    wa, wb = Shape.cast(a.shape()).width, Shape.cast(b.shape()).width
    width = wa + wb
    lat = (1 if wb <= DSP_BITS else 2) + int(out_reg)
    delayed = list(along)
    for i in range(lat):
        nxt = [Signal.like(v, name=f"{name}_d{i}_{k}") for k, v in enumerate(delayed)]
        with m.If(en):
            m.d.sync += [n.eq(v) for n, v in zip(nxt, delayed)]
        delayed = nxt
    def registered(v, name_):
        """(out_reg) v through a register of its own, before the logic that uses it"""
        if not out_reg:
            return v
        r = Signal(v.shape(), name=name_, reset_less=True)
        with m.If(en):
            m.d.sync += r.eq(v)
        return r
    if wb <= DSP_BITS:
        p = Signal(signed(width), name=f"{name}_p", reset_less=not out_reg)
        with m.If(en):
            m.d.sync += p.eq(registered(a * b, f"{name}_q") if out_reg else a * b)
        return p, lat, delayed
    lo = b[:LO]                                   # unsigned low slice
    hi = b[LO:].as_signed()                       # signed high part
    pl = Signal(signed(wa + LO + 1), name=f"{name}_lo", reset_less=True)
    ph = Signal(signed(wa + wb - LO), name=f"{name}_hi", reset_less=True)
    p = Signal(signed(width + 1), name=f"{name}_p")
    with m.If(en):
        m.d.sync += [pl.eq(a * lo), ph.eq(a * hi)]
    pl2, ph2 = registered(pl, f"{name}_lo_q"), registered(ph, f"{name}_hi_q")
    with m.If(en):
        m.d.sync += p.eq((ph2 << LO) + pl2)
    return p, lat, delayed


#: the iCEBreaker flow builds multipliers with an operand of at most this many bits from LUTs
#: (boards.build `lut_mul_width`: yosys `booth` on the RTLIL, before synthesis). A product that runs
#: every cycle belongs in a DSP block: its narrow operand comes from a register this many bits + 1
#: wide (sign-extended), which the script does not take (an 8 x 16-bit LUT multiplier is ~270 LUT4).
LUT_MUL_WIDTH = 9


def serial_steps(wb: int) -> int:
    """Enabled cycles a `serial_mul` of a `wb`-bit b spends stepping (two bits of b per cycle)."""
    return (wb + 1) // 2


def serial_mul(m, en, load, a, b, name: str = "smul", along=(), live_a: bool = False, addend=None):
    """p = a * b (both signed) in serial_steps(len(b)) enabled cycles, two bits of b per cycle
    (radix-4 Booth digits in {-2..2}: one adder of len(a) + 3 bits and a 5-way select, no DSP
    block). For units that produce one product every many cycles (the UP5K has 8 SB_MAC16).

    `load` (taken when `en`) starts a product of `a` and `b` and captures the `along` values.
    Returns (p, done, latency, held): `done` is high for exactly one enabled cycle, `latency` =
    serial_steps + 1 enabled cycles after the load, when p and `held` (the along values captured
    at the load) are valid. The caller loads at most once every `latency` enabled cycles (a load
    on the cycle that `done` is high is allowed: p is read on that cycle).
    live_a: `a` is not captured at the load but read on every step: the caller keeps it stable
    from the cycle after the load until `done` (no register of len(a) bits; the tail's requantiser
    reads its operand from the snapshot, selected by a `held` colour index).
    addend: p = a * b + addend (a signed Value, taken at the load): the accumulator starts from it
    instead of 0, so a requantiser's bias needs neither a register to hold it nor an adder after
    the product (and where only p >> 2 * serial_steps is used, the low product bits are unused).
    Golden twin: integer multiplication (exact); hw/head.py's tests check it in HeadConv."""
    wa, wb = Shape.cast(a.shape()).width, Shape.cast(b.shape()).width
    steps = serial_steps(wb)
    w = 2 * steps                                   # b sign-extended to an even width
    aa = a if live_a else Signal(signed(wa), name=f"{name}_a")
    br = Signal(w + 1, name=f"{name}_b")            # b's bits above a 0 (the Booth triplets)
    wacc = wa + 2 if addend is None else max(wa + 2, Shape.cast(addend.shape()).width + 1)
    acc = Signal(signed(wacc), name=f"{name}_acc")
    low = Signal(w, name=f"{name}_low")
    cnt = Signal(range(steps + 1), name=f"{name}_cnt")
    done = Signal(name=f"{name}_done")
    held = [Signal.like(v, name=f"{name}_h{k}") for k, v in enumerate(along)]
    # the Booth digit of the triplet (b[2i+1], b[2i], b[2i-1]): magnitude 1 or 2 (or 0), sign neg.
    # A negative digit adds the ones' complement of the magnitude plus a carry-in, and the carry-in
    # rides in an extra low bit of both operands (1 + neg carries into bit 1 exactly when neg), so
    # the step is one adder: no negation adders ahead of it
    # The digit is decoded into registers (one, two, neg) as br is loaded or shifted (the decode
    # of the triplet br will hold), so the step's adder starts from flip-flops and one select.
    one, two, neg = Signal(name=f"{name}_one"), Signal(name=f"{name}_two"), Signal(name=f"{name}_neg")

    def digit(trip):
        return [one.eq(trip[0] ^ trip[1]), two.eq((trip == 0b011) | (trip == 0b100)),
                neg.eq(trip[2] & ~(trip[0] & trip[1]))]
    mag = Signal(signed(wa + 2), name=f"{name}_mag")
    m.d.comb += mag.eq(Mux(two, aa << 1, Mux(one, aa, 0)))
    dx = Signal(signed(wa + 2), name=f"{name}_dx")
    m.d.comb += dx.eq(mag ^ neg.replicate(wa + 2))
    tc = Signal(signed(wacc + 2), name=f"{name}_tc")
    m.d.comb += tc.eq(Cat(Const(1, 1), acc).as_signed() + Cat(neg, dx).as_signed())
    t = Signal(signed(wacc + 1), name=f"{name}_t")
    m.d.comb += t.eq(tc >> 1)
    with m.If(en):
        m.d.sync += done.eq(0)
        with m.If(load):
            bs = b.as_signed()
            br0 = Cat(Const(0, 1), bs, bs[-1].replicate(w - wb))
            m.d.sync += ([] if live_a else [aa.eq(a)]) + [br.eq(br0),
                         acc.eq(0 if addend is None else addend),
                         cnt.eq(steps)] + [h.eq(v) for h, v in zip(held, along)] + digit(br0[:3])
        with m.Elif(cnt != 0):
            br1 = Cat(br[2:], br[-1], br[-1])
            m.d.sync += [acc.eq(t >> 2), low.eq(Cat(low[2:], t[:2])), br.eq(br1),
                         cnt.eq(cnt - 1)] + digit(br1[:3])
            with m.If(cnt == 1):
                m.d.sync += done.eq(1)
    p = Signal(signed(w + wacc), name=f"{name}_p")
    m.d.comb += p.eq(Cat(low, acc))
    return p, done, steps + 1, held
