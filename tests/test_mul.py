"""hw/mul.serial_mul against integer multiplication: the extremes of both operands (most negative
times most negative included), zero, one, random values, odd and even widths, and the enable held
low mid-product (Amaranth's simulator; the cocotb tests of HeadConv and TailConv run it in place)."""
import random

import pytest
from amaranth import Module, Signal, signed
from amaranth.sim import Simulator

from hw.mul import serial_mul, serial_steps


@pytest.mark.parametrize("wa,wb", [(21, 18), (27, 17), (5, 3), (7, 1), (4, 2)])
def test_serial_mul_exact(wa, wb):
    m = Module()
    a, b, load, en = Signal(signed(wa)), Signal(signed(wb)), Signal(), Signal(init=1)
    tag = Signal(8)
    p, done, lat, (held,) = serial_mul(m, en, load, a, b, along=(tag,))
    assert lat == serial_steps(wb) + 1
    lo_a, hi_a, lo_b, hi_b = -(1 << (wa - 1)), (1 << (wa - 1)) - 1, -(1 << (wb - 1)), (1 << (wb - 1)) - 1
    rnd = random.Random(wa * 100 + wb)
    cases = [(x, y) for x in (lo_a, hi_a, 0, 1, -1) for y in (lo_b, hi_b, 0, -1)]
    cases += [(rnd.randint(lo_a, hi_a), rnd.randint(lo_b, hi_b)) for _ in range(100)]
    bad = []

    async def bench(ctx):
        for k, (x, y) in enumerate(cases):
            ctx.set(a, x)
            ctx.set(b, y)
            ctx.set(tag, k & 0xFF)
            ctx.set(load, 1)
            await ctx.tick()
            ctx.set(load, 0)
            ctx.set(a, rnd.randint(lo_a, hi_a))           # operands may change after the load
            for step in range(lat - 1):
                if k % 3 == 0 and step == 1:                # enable low for two cycles mid-product
                    ctx.set(en, 0)
                    await ctx.tick().repeat(2)
                    ctx.set(en, 1)
                assert not ctx.get(done)
                await ctx.tick()
            assert ctx.get(done) and ctx.get(held) == k & 0xFF
            if ctx.get(p) != x * y:
                bad.append((x, y, ctx.get(p)))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]
