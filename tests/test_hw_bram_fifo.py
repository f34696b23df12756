"""BlockRamFIFO (hw/bram_fifo.py) against lib.fifo.SyncFIFOBuffered, the queue it replaces: the
same random writes and reads into both, every output compared in every cycle (the Amaranth
simulator; StreamFIFO's cocotb test runs it in Icarus); and its netlist: no collision logic
behind the block RAM, which SyncFIFOBuffered's synchronous read port has."""
import random

import pytest
from amaranth import Module
from amaranth.lib import fifo
from amaranth.sim import Simulator

from hw.bram_fifo import BlockRamFIFO

OUTS = ("w_rdy", "w_level", "r_rdy", "r_level", "level")


def _simulate(m, bench):
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("width,depth,p_w,p_r", [
    (8, 2, 0.5, 0.5), (8, 3, 0.9, 0.3), (5, 5, 0.3, 0.9),       # the smallest depths
    (16, 17, 0.7, 0.7), (16, 17, 1.0, 1.0), (12, 16, 0.8, 0.2),  # power of two inside, full, empty
    (3, 33, 0.6, 0.55),
])
def test_equals_sync_fifo_buffered_every_cycle(width, depth, p_w, p_r):
    m = Module()
    m.submodules.ref = ref = fifo.SyncFIFOBuffered(width=width, depth=depth)
    m.submodules.dut = dut = BlockRamFIFO(width=width, depth=depth)
    rnd, bad, seen = random.Random(width * 100 + depth), [], {"full": 0, "empty": 0, "reads": 0}

    async def bench(ctx):
        for cyc in range(3000):
            # phases: mostly writing, mostly reading, as drawn
            pw, pr = (p_w, p_r) if cyc % 600 < 400 else (p_r, p_w)
            w_en, r_en, data = rnd.random() < pw, rnd.random() < pr, rnd.getrandbits(width)
            for f in (ref, dut):
                ctx.set(f.w_en, w_en)
                ctx.set(f.r_en, r_en)
                ctx.set(f.w_data, data)
            for name in OUTS:
                a, b = ctx.get(getattr(ref, name)), ctx.get(getattr(dut, name))
                if a != b:
                    bad.append((cyc, name, a, b))
            if ctx.get(ref.r_rdy):
                if ctx.get(ref.r_data) != ctx.get(dut.r_data):
                    bad.append((cyc, "r_data", ctx.get(ref.r_data), ctx.get(dut.r_data)))
                seen["reads"] += r_en
            seen["full"] += not ctx.get(ref.w_rdy)
            seen["empty"] += not ctx.get(ref.r_rdy)
            await ctx.tick()

    _simulate(m, bench)
    assert not bad, bad[:5]
    assert seen["reads"] > 500, seen
    if (p_w, p_r) != (1.0, 1.0):                  # else full throughput: never full, never empty
        assert seen["full"] > 10 and seen["empty"] > 10, seen


def test_depth_below_two_is_refused():
    with pytest.raises(ValueError, match="depth must be >= 2"):
        BlockRamFIFO(width=8, depth=1)


@pytest.mark.parametrize("cls,clean", [(BlockRamFIFO, True), (fifo.SyncFIFOBuffered, False)])
def test_block_ram_data_go_straight_into_registers(tmp_path, cls, clean):
    """ECP5 netlist of a one-block-RAM queue: every DP16KD data bit drives flip-flops only with
    BlockRamFIFO; with lib.fifo's SyncFIFOBuffered every one reaches yosys's collision logic
    first (the reason this file exists; if a yosys or Amaranth release drops that emulation, the
    second case says so)."""
    from conftest import block_ram_output_loads, synth_cell_counts
    from amaranth import Signal
    m, out = Module(), Signal(18)
    m.submodules.q = q = cls(width=18, depth=600)
    m.d.sync += out.eq(q.r_data)                  # the user's register (a port is no load)
    cells = synth_cell_counts(tmp_path, "ecp5", m, [q.w_data, q.w_en, q.w_rdy, out, q.r_en, q.r_rdy])
    assert cells.get("DP16KD", 0) == 1, cells
    direct, via_logic = block_ram_output_loads(tmp_path)
    if clean:
        assert direct == 18 and via_logic == 0, (direct, via_logic)
    else:
        assert via_logic == 18, (direct, via_logic)


@pytest.mark.parametrize("width,depth,p_w,p_r", [
    (8, 3, 0.5, 0.5), (8, 4, 0.9, 0.3), (5, 5, 0.3, 0.9), (16, 17, 0.7, 0.7), (16, 17, 1.0, 1.0), (3, 33, 0.6, 0.55),
])
def test_output_register_variant_is_a_fifo(width, depth, p_w, p_r):
    """out_reg=True (a reset-less output register behind the read latch, for the DP16KD output
    register): random writes and reads against a Python queue, every cycle: r_data is the oldest
    word whenever r_rdy, level counts the words inside, w_rdy is low only with at least depth - 2
    inside, and full throughput holds (one word per cycle when both sides always go); the latency
    is test_latency_into_an_empty_queue's."""
    from collections import deque

    m = Module()
    m.submodules.dut = dut = BlockRamFIFO(width=width, depth=depth, out_reg=True)
    assert dut.latency == 3
    rnd, bad, q = random.Random(width * 100 + depth + 1), [], deque()
    seen = {"reads": 0, "full": 0}

    async def bench(ctx):
        for cyc in range(3000):
            pw, pr = (p_w, p_r) if cyc % 600 < 400 else (p_r, p_w)
            w_en, r_en, data = rnd.random() < pw, rnd.random() < pr, rnd.getrandbits(width)
            ctx.set(dut.w_en, w_en)
            ctx.set(dut.r_en, r_en)
            ctx.set(dut.w_data, data)
            if ctx.get(dut.level) != len(q):
                bad.append((cyc, "level", ctx.get(dut.level), len(q)))
            if not ctx.get(dut.w_rdy):
                seen["full"] += 1
                if len(q) < depth - 2:
                    bad.append((cyc, "w_rdy low", len(q)))
            if ctx.get(dut.r_rdy):
                if not q or ctx.get(dut.r_data) != q[0]:
                    bad.append((cyc, "r_data", ctx.get(dut.r_data), q[0] if q else None))
                if r_en:
                    q.popleft()
                    seen["reads"] += 1
            if w_en and ctx.get(dut.w_rdy):
                q.append(data)
            await ctx.tick()

    _simulate(m, bench)
    assert not bad, bad[:5]
    assert seen["reads"] > (2900 if (p_w, p_r) == (1.0, 1.0) else 500), seen
    if (p_w, p_r) != (1.0, 1.0):
        assert seen["full"] > 10, seen


@pytest.mark.parametrize("out_reg", [False, True])
def test_latency_into_an_empty_queue(out_reg):
    """One word written into an empty queue: r_rdy rises `latency` cycles later (2; 3 with the
    output register), with the word."""
    m = Module()
    m.submodules.dut = dut = BlockRamFIFO(width=8, depth=8, out_reg=out_reg)
    rdy = []

    async def bench(ctx):
        ctx.set(dut.w_data, 0x5A)
        ctx.set(dut.w_en, 1)
        await ctx.tick()
        ctx.set(dut.w_en, 0)
        for _ in range(5):
            rdy.append((ctx.get(dut.r_rdy), ctx.get(dut.r_data)))
            await ctx.tick()

    _simulate(m, bench)
    first = [r for r, _ in rdy].index(1) + 1          # cycles after the write cycle
    assert first == dut.latency and rdy[first - 1][1] == 0x5A, rdy


def test_output_register_variant_reaches_the_block_ram_output_register(tmp_path):
    """The out_reg variant's output register loads from the read latch alone, with no reset: the
    board build's pass (boards/outreg.py) moves all of it into the DP16KD's output register; the
    plain queue's data leave the read latch itself (nothing to move)."""
    from amaranth import Signal
    from conftest import outreg_stats, synth_cell_counts

    for out_reg, want in ((True, 18), (False, 0)):
        m, out = Module(), Signal(18)
        m.submodules.q = q = BlockRamFIFO(width=18, depth=600, out_reg=out_reg)
        m.d.sync += out.eq(q.r_data)
        d = tmp_path / str(out_reg)
        synth_cell_counts(d, "ecp5", m, [q.w_data, q.w_en, q.w_rdy, out, q.r_en, q.r_rdy])
        assert outreg_stats(d)["flip_flops"] == want
