"""Geometry copies (hw/static_copy.py): each unit's copy follows the link's geometry one cycle
later, and the board build's yosys script keeps one register set per copy (opt_merge would fold
the identical copies, and the subtracts behind them, into one shared by every unit). The
end-to-end proof is the network's and the accelerator's (tests/test_hw_network.py,
tests/test_postsynth.py), which run with the copies in place."""
import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from hw.static_copy import GEO_BITS, GEO_FF, geometry_copy

from conftest import flip_flops, synth_cell_counts


class Users(Elaboratable):
    """n units, each deriving W - 2 and H - 1 from its own copy of (width, height)."""

    def __init__(self, n=3):
        self.width, self.height = Signal(GEO_BITS), Signal(GEO_BITS)
        self.outs = Signal(2 * GEO_BITS * n)
        self.n = n

    def elaborate(self, platform):
        m = Module()
        for k in range(self.n):
            w, h = geometry_copy(m, self.width, self.height, f"u{k}")
            m.d.comb += self.outs[2 * GEO_BITS * k:2 * GEO_BITS * (k + 1)].eq(
                ((w - 2)[:GEO_BITS]) | ((h - 1)[:GEO_BITS] << GEO_BITS))
        return m


def test_copies_follow_one_cycle_later():
    dut = Users(2)
    seen = []

    async def bench(ctx):
        for w, h in [(5, 7), (5, 7), (64, 3), (9, 1), (9, 1)]:
            ctx.set(dut.width, w)
            ctx.set(dut.height, h)
            await ctx.tick()
            seen.append(((w, h), ctx.get(dut.outs)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for (w, h), outs in seen:
        word = ((w - 2) % (1 << GEO_BITS)) | ((h - 1) << GEO_BITS)
        assert outs == word | (word << 2 * GEO_BITS), (w, h, hex(outs))


def synth_ffs(tmp_path, family, keep: bool, n: int) -> int:
    dut = Users(n)
    return flip_flops(synth_cell_counts(tmp_path, family, dut, [dut.width, dut.height, dut.outs], keep=keep))


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_synthesis_keeps_one_copy_per_unit(tmp_path, family):
    n = 3
    assert synth_ffs(tmp_path / "keep", family, True, n) == n * GEO_FF
    # control: without the board build's keep the copies merge into one
    assert synth_ffs(tmp_path / "plain", family, False, n) == GEO_FF


def test_network_geometry_is_a_chain_along_the_dataflow():
    """In the network the pixel window and the bilinear skip copy the geometry inputs, each layer's
    chain copy copies the unit before it (scaled by that unit's r) and the feature window's the last
    layer's; each of them reads a copy of its chain copy: chain copy k settles k cycles after the
    first, the unit one cycle later, each at its own resolution. (A single first-level copy
    driving every unit's copy was a 12.3 ns route across the ECP5, docs/boards.md row 91.)"""
    import torch
    from hw.fold import auto_fold
    from hw.network import Network
    from sw.compiler import compile_model
    from sw.config import ModelConfig

    from conftest import random_network

    cfg = ModelConfig("sr", 4, 2, 1)
    prog = compile_model(random_network(cfg, 3), [torch.rand(1, cfg.colors, 8, 8)])
    net = Network(prog, auto_fold(prog), max_width=8, max_height=8)
    sim = Simulator(net)                               # (elaborates: net.stages are the units simulated)
    layers = [net.stages[f"layer{i}"] for i in range(len(prog.binary_layers))]
    order = [("pwin", net.stages["pwin"], 1, 1), ("bil", net.stages["bil"], 1, 1)]
    res = 1
    for i, (layer, unit) in enumerate(zip(prog.binary_layers, layers)):
        order.append((f"layer{i}", unit, 3 + i, res))
        res *= layer.r
    order.append(("fwin", net.stages["fwin"], 3 + len(layers), res))
    seen = {}

    async def bench(ctx):
        ctx.set(net.width, 5)
        ctx.set(net.height, 3)
        for cycle in range(1, len(layers) + 5):
            await ctx.tick()
            for name, unit, _, _ in order:
                if (ctx.get(unit.width), ctx.get(unit.height)) != (0, 0):
                    seen.setdefault(name, (cycle, ctx.get(unit.width), ctx.get(unit.height)))

    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for name, _, cycle, r in order:
        assert seen.get(name) == (cycle, 5 * r, 3 * r), (name, seen.get(name))
