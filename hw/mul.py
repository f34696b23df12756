"""Two-stage multiplier for a product wider than one DSP block: `SplitMul`.

p = a * b with b wider than 18 bits: b = hi * 2**LO + lo (lo: the low LO = 17 bits, unsigned;
hi: the rest, signed), the partial products a * lo and a * hi are registered (one DSP block each
on the ECP5 / iCE40 when a has <= 18 bits), then summed: p = (a*hi << LO) + a*lo. One cycle more
than a single multiply, but neither stage chains a DSP block into a wide adder (a 18 x 30 product
in one cycle was the ECP5 critical path of the tail, 11.2 ns).

Not a stream component: a pipeline helper for units with one global enable. `split_mul(m, en,
a, b, along=[...])` returns (p, latency, delayed) where p is valid `latency` enabled cycles after
a and b (2, or 1 when b is narrow enough for one multiply, in which case the product is
registered once) and `delayed` are the `along` values (valid flags, indices, a bias) registered
through the same number of stages, so they arrive with the product.
Golden twin: plain integer multiplication (exact; the tests of the head and tail units check it).
"""
from __future__ import annotations

from amaranth import Signal, signed
from amaranth.hdl import Shape

LO = 17
DSP_BITS = 18


def split_mul(m, en, a, b, name: str = "mul", along=()):
    wa, wb = Shape.cast(a.shape()).width, Shape.cast(b.shape()).width
    width = wa + wb
    lat = 1 if wb <= DSP_BITS else 2
    delayed = list(along)
    for i in range(lat):
        nxt = [Signal.like(v, name=f"{name}_d{i}_{k}") for k, v in enumerate(delayed)]
        with m.If(en):
            m.d.sync += [n.eq(v) for n, v in zip(nxt, delayed)]
        delayed = nxt
    if lat == 1:
        p = Signal(signed(width), name=f"{name}_p")
        with m.If(en):
            m.d.sync += p.eq(a * b)
        return p, 1, delayed
    lo = b[:LO]                                   # unsigned low slice
    hi = b[LO:].as_signed()                       # signed high part
    pl = Signal(signed(wa + LO + 1), name=f"{name}_lo")
    ph = Signal(signed(wa + wb - LO), name=f"{name}_hi")
    p = Signal(signed(width + 1), name=f"{name}_p")
    with m.If(en):
        m.d.sync += [pl.eq(a * lo), ph.eq(a * hi)]
        m.d.sync += p.eq((ph << LO) + pl)
    return p, 2, delayed
