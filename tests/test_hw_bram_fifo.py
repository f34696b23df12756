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

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
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
