"""StreamFIFO in cocotb (Icarus): every item once, in order, under random bubbles and
back-pressure; full throughput; the capacity at least the depth, for one stage and for a chain
of banked stages (a depth above bank_depth)."""
import numpy as np
import pytest
from amaranth.hdl import unsigned

from hw.stream_fifo import StreamFIFO
from sim.runner import run_cocotb


@pytest.mark.parametrize("name,width,depth,bank,p_bubble,p_stall", [
    ("one_stage", 16, 40, 1024, 0.0, 0.0),
    ("one_stage_bp", 16, 40, 1024, 0.3, 0.6),
    ("chain", 9, 70, 16, 0.0, 0.0),           # 5 stages of 14
    ("chain_bp", 9, 70, 16, 0.5, 0.5),
    ("chain_odd", 5, 35, 16, 0.2, 0.7),       # 3 stages of 12, 12, 11
])
def test_stream_fifo_unit(name, width, depth, bank, p_bubble, p_stall):
    rng = np.random.default_rng(depth + width)
    n = 300
    items = [int(x) for x in rng.integers(0, 1 << width, n)]
    items[:2] = [0, (1 << width) - 1]
    comp = StreamFIFO(unsigned(width), depth, bank_depth=bank)
    assert all(d <= bank + 1 for d in comp.stage_depths) and sum(comp.stage_depths) == depth
    res = run_cocotb(comp, f"sfifo_{name}", "sim.tb_stream_fifo", {"items": np.array(items, dtype=np.int64)},
                     {"p_bubble": p_bubble, "p_stall": p_stall, "seed": width + 3})
    assert res["o"] == items
    stages = len(comp.stage_depths)            # (+ two items per skid between stages)
    assert depth <= res["capacity"] <= depth + stages + 2 * (stages - 1), (res["capacity"], depth)
    assert res["drained"] == items[:res["capacity"]]
    if p_bubble == 0 and p_stall == 0:
        model = comp.cycle_model(n)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)


def test_a_stage_does_not_see_the_next_stages_level(tmp_path):
    """Stages sit at block RAMs far apart: a stage's "not full" (a register beside its level)
    reaches its own level and the skid buffer in front of it, not the previous stage's read logic
    (its read address, level, output register), which takes the skid's registered ready instead."""
    from sim.fanout import NoYosys, register_fanout

    try:
        regs = register_fanout(StreamFIFO(unsigned(9), 70, bank_depth=16), "q1.w_rdy", tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    reached = {n.lstrip("\\") for nets in regs.values() for n in nets}
    assert "q1.inner_level" in reached and "cut1.o__valid" in reached, reached
    assert not [n for n in reached if n.startswith("q.")], reached


@pytest.mark.parametrize("depth,bank", [(1, 1024), (2, 1024), (3, 1024), (600, 1024), (70, 16), (2100, 1024)])
def test_latency_into_an_empty_queue(depth, bank):
    """One item into an empty chain reaches o.valid exactly `latency` cycles later (each stage's
    own latency: block-RAM stages 2 or 3, a one-item stage 1, and one per SkidBuffer between
    stages); the cycle model's constant."""
    from amaranth import Module
    from amaranth.sim import Simulator

    m = Module()
    m.submodules.dut = dut = StreamFIFO(unsigned(8), depth, bank_depth=bank)
    seen = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.payload, 0x5A)
        ctx.set(dut.i.valid, 1)
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(4 * len(dut.stage_depths) + 4):
            seen.append((ctx.get(dut.o.valid), ctx.get(dut.o.payload)))
            await ctx.tick()

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    first = [v for v, _ in seen].index(1) + 1          # cycles after the input cycle
    assert first == dut.latency and seen[first - 1][1] == 0x5A, (dut.stage_depths, seen)
    assert dut.cycle_model(1) == 1 + first


def test_clear_resets_every_stage_from_its_own_copy(tmp_path):
    """clear=True: the clear request reaches only the registered copies, one per stage and per skid
    between stages (each beside its block RAM; one copy for a 13-stage chain was ~130 reset
    endpoints over 8 ns on x4-base, docs/boards.md row 131), and a clear empties the whole chain
    the cycle after the copies: items queued before it never come out, items after it do, in order."""
    from amaranth.sim import Simulator

    from sim.fanout import NoYosys, register_fanout

    comp = StreamFIFO(unsigned(9), 70, bank_depth=16, clear=True)
    n = len(comp.stage_depths)
    try:
        regs = register_fanout(StreamFIFO(unsigned(9), 70, bank_depth=16, clear=True), "clear", tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    # (one flip-flop per copy; each Q net is the copy, under its flattened names)
    assert len(regs) == 2 * n - 1, regs
    assert all(x.lstrip("\\").rpartition(".")[2].startswith("rst_copy_") for nets in regs.values() for x in nets), regs

    out = []

    async def bench(ctx):
        ctx.set(comp.o.ready, 0)
        for k in range(40):                     # 40 items in, none out
            ctx.set(comp.i.valid, 1)
            ctx.set(comp.i.payload, k)
            await ctx.tick()
        ctx.set(comp.i.valid, 0)
        ctx.set(comp.clear, 1)
        await ctx.tick()
        ctx.set(comp.clear, 0)
        await ctx.tick().repeat(2)
        assert not ctx.get(comp.o.valid)
        ctx.set(comp.o.ready, 1)
        for k in range(100, 110):
            ctx.set(comp.i.valid, 1)
            ctx.set(comp.i.payload, k)
            await ctx.tick()
        ctx.set(comp.i.valid, 0)
        for _ in range(60):
            if ctx.get(comp.o.valid):
                out.append(ctx.get(comp.o.payload))
            await ctx.tick()

    sim = Simulator(comp)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert out == list(range(100, 110)), out
