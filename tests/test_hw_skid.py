"""SkidBuffer in cocotb (Icarus): every item once, in order, under random bubbles and
back-pressure; full throughput without back-pressure; i.ready is a register (no combinational
path from o.ready), checked on the netlist."""
import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.back import rtlil
from amaranth.hdl import Shape, unsigned

from hw import layouts
from hw.skid import SkidBuffer
from sim.runner import run_cocotb
from sw.formats import FeatureFormat


VARIANTS = [pytest.param({}, id="full"), pytest.param({"out_select": True}, id="ring"),
            pytest.param({"half_rate": True}, id="half")]


@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("name,shape,p_bubble,p_stall", [
    ("u1", unsigned(1), 0.0, 0.0),
    ("s16", layouts.feature(FeatureFormat(16, 6)), 0.0, 0.0),
    ("s16", layouts.feature(FeatureFormat(16, 6)), 0.3, 0.5),
    ("u33", unsigned(33), 0.6, 0.2),
    ("u7", unsigned(7), 0.1, 0.8),
])
def test_skid_unit(name, shape, p_bubble, p_stall, kw):
    run_skid(name, shape, p_bubble, p_stall, **kw)


@pytest.mark.parametrize("half_rate", [False, True])
@pytest.mark.parametrize("name,shape,p_bubble,p_stall", [
    ("u33", unsigned(33), 0.0, 0.0), ("u33", unsigned(33), 0.6, 0.2), ("u7", unsigned(7), 0.1, 0.8)])
def test_skid_unit_bit_groups(name, shape, p_bubble, p_stall, half_rate):
    """A payload wider than group_bits: each bit group with its own copies of the flags."""
    comp = run_skid(name + "g", shape, p_bubble, p_stall, group_bits=4, half_rate=half_rate)
    assert len(comp.groups) == -(-Shape.cast(shape).width // 4)


def run_skid(name, shape, p_bubble, p_stall, out_select=False, half_rate=False, **kw):
    w = Shape.cast(shape).width
    rng = np.random.default_rng(w)
    n = 400
    items = [int(x) for x in rng.integers(0, 1 << min(w, 62), n)]
    items[:3] = [0, (1 << w) - 1, 1 << (w - 1)]
    comp = SkidBuffer(shape, out_select=out_select, half_rate=half_rate, **kw)
    res = run_cocotb(comp, f"skid_{name}{'_ring' if out_select else ''}{'_half' if half_rate else ''}", "sim.tb_skid", {"items": np.array(items, dtype=np.int64)},
                     {"p_bubble": p_bubble, "p_stall": p_stall, "seed": w + 3})
    assert res["o"] == items
    if p_stall >= 0.5:
        assert res["skid_full"] > 0            # the skid register really was used
    if p_bubble == 0 and p_stall == 0:
        model = comp.cycle_model(n)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)
    return comp


@pytest.mark.parametrize("kw", VARIANTS)
def test_ready_is_registered(kw):
    """i.ready is driven by a flip-flop output only: no cell between o.ready and i.ready."""
    from amaranth.sim import Simulator

    dut = SkidBuffer(unsigned(8), **kw)
    seen = []

    async def bench(ctx):
        ctx.set(dut.i.valid, 1)
        for cyc in range(12):
            ctx.set(dut.i.payload, cyc)
            ctx.set(dut.o.ready, 0)
            r0 = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, 1)
            r1 = ctx.get(dut.i.ready)
            seen.append((r0, r1))
            ctx.set(dut.o.ready, cyc % 3 == 0)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert all(r0 == r1 for r0, r1 in seen), seen
    assert any(r == 0 for r, _ in seen) and any(r == 1 for r, _ in seen)
    assert "i__ready" in rtlil.convert(dut)


def test_data_register_enables_do_not_wait_on_the_skid_decision(tmp_path):
    """o.ready (from the next unit, possibly across the die) reaches the main register and the two
    flags, but not the skid data register, whose enable is its own empty flag (sim/fanout.py)."""
    from sim.fanout import NoYosys, register_fanout

    try:
        regs = register_fanout(SkidBuffer(unsigned(8)), "o__ready", tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    def reached(regs):
        return {n.lstrip("\\") for nets in regs.values() for n in nets}
    # (the main register and its flag drive o.payload / o.valid)
    assert {"o__payload", "o__valid", "rep_skid_valid_0"} <= reached(regs), regs
    assert "skid" not in reached(regs), regs
    # control: i.payload reaches both data registers
    regs = register_fanout(SkidBuffer(unsigned(8)), "i__payload", tmp_path / "payload")
    assert {"o__payload", "skid"} <= reached(regs), regs


def test_half_rate_variant_keeps_o_ready_off_the_data_register(tmp_path):
    """Half-rate variant: o.ready (the head's pipeline enable in the network) reaches the valid
    flags and the empty flag (i.ready) only, never the data register (o.payload), whose enable is
    its own flag copy; the full variant's main register is reached (control)."""
    from sim.fanout import NoYosys, register_fanout

    def reached(regs):
        return {n.lstrip("\\") for nets in regs.values() for n in nets}
    try:
        half = reached(register_fanout(SkidBuffer(unsigned(100), half_rate=True, group_bits=32), "o__ready", tmp_path))
    except NoYosys as e:
        pytest.skip(str(e))
    assert "o__payload" not in half and {"o__valid", "rep_main_valid_0", "rep_main_valid_3"} <= half, half
    full = reached(register_fanout(SkidBuffer(unsigned(100), group_bits=32), "o__ready", tmp_path / "full"))
    assert "o__payload" in full, full
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            SkidBuffer(unsigned(8), out_select=True, half_rate=True)
            raised = False
        except ValueError:
            raised = True
        gc.collect()
    assert raised, "out_select with half_rate must be refused"


@pytest.mark.parametrize("out_select", [False, True])
def test_ring_variant_puts_nothing_behind_a_block_ram_fifo(tmp_path, out_select):
    """Behind a block-RAM FIFO (hw/bram_fifo.py), the ring variant's data registers take the
    block RAM's data straight (ECP5 netlist: no logic between DP16KD outputs and flip-flops);
    the main register's input select of the default variant is one logic level there."""
    from amaranth import Module
    from conftest import block_ram_output_depths, synth_cell_counts
    from hw.bram_fifo import BlockRamFIFO

    m = Module()
    m.submodules.q = q = BlockRamFIFO(width=18, depth=600)
    m.submodules.sb = sb = SkidBuffer(unsigned(18), out_select=out_select)
    m.d.comb += [sb.i.payload.eq(q.r_data), sb.i.valid.eq(q.r_rdy), q.r_en.eq(sb.i.ready)]
    ports = [q.w_data, q.w_en, q.w_rdy, sb.o.payload, sb.o.valid, sb.o.ready]
    synth_cell_counts(tmp_path, "ecp5", m, ports)
    depths = block_ram_output_depths(tmp_path)
    assert depths and max(depths.values()) == (0 if out_select else 1), depths


@pytest.mark.parametrize("split", [True, False])
def test_wide_payload_enables_are_split_per_bit_group(tmp_path, split):
    """A 225-bit payload (the head's pixel window): on the ECP5 netlist no clock-enable net reaches
    much more than one group of GROUP_BITS main or skid register bits; split=False (one group)
    shows the check fails without the copies."""
    from conftest import clock_enable_fanout, synth_cell_counts

    from hw.skid import GROUP_BITS
    sb = SkidBuffer(unsigned(225), group_bits=GROUP_BITS if split else 225)
    synth_cell_counts(tmp_path, "ecp5", sb, None)
    biggest = max(clock_enable_fanout(tmp_path).values())
    assert (biggest <= GROUP_BITS + 8) if split else (biggest >= 225), biggest
