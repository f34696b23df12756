"""Reset tree (hw/reset_tree.py): a unit cleared from its own copy of the request is reset in the
same cycle as one reset from a registered pulse (the link's net_rst), and the board build's yosys
script keeps one flip-flop per copy (opt_merge would fold identical registers into one).
The end-to-end proof is the accelerator's: tests/test_postsynth.py (the dataflow netlist on both
families) and tests/test_virtual_board.py resets the network before every stripe.

Reset as a board top resets it (hw/accelerator.py `por`), the dataflow network's flip-flops are
reset by their unit's copy alone: the power-on reset's combinational fan-out reaches the link, the
UART and the first level of the tree (one copy); that copy reaches the per-unit copies and nothing
else, and no other flip-flop of the network is reset but from them (the x2-base ECP5 critical path was the
power-on reset combined with each unit's copy in front of its flip-flops)."""
import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.hdl import ResetInserter
from amaranth.sim import Simulator

import torch

from hw.accelerator import Accelerator, BuildConfig
from hw.estimate import throwaway
from hw.fold import auto_fold
from hw.bbcu_layer import SKIDS
from hw.network import Network
from hw.reset_tree import COPY_PREFIX, cleared
from sim.fanout import NoYosys, register_fanout
from sw.compiler import compile_model
from sw.config import ModelConfig

from conftest import BoardReset, flip_flops, random_network, synth_cell_counts


class Counter(Elaboratable):
    def __init__(self):
        self.q = Signal(8)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.q + 1)
        return m


class Tree(Elaboratable):
    """n counters cleared through the tree, and one reference counter reset by a registered pulse."""

    def __init__(self, n=3, with_ref=True):
        self.with_ref = with_ref
        self.early = Signal()
        self.units = [Counter() for _ in range(n)]
        self.ref = Counter() if with_ref else None
        self.qs = Signal(8 * n)

    def elaborate(self, platform):
        m = Module()
        for k, u in enumerate(self.units):
            m.submodules[f"u{k}"] = cleared(m, self.early, f"u{k}", u)
            m.d.comb += self.qs[8 * k:8 * k + 8].eq(u.q)
        if self.with_ref:
            pulse = Signal()
            m.d.sync += pulse.eq(self.early)
            m.submodules.ref = ResetInserter(pulse)(self.ref)
        return m


def test_units_reset_in_the_cycle_of_the_registered_pulse():
    dut = Tree()
    trace = []
    pattern = [0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0]

    async def bench(ctx):
        for e in pattern + [0, 0]:
            ctx.set(dut.early, e)
            trace.append((ctx.get(dut.ref.q), [ctx.get(u.q) for u in dut.units]))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    for ref, qs in trace:
        assert qs == [ref] * len(qs), trace
    # the request really cleared them: the counts restart after each pulse
    refs = [r for r, _ in trace]
    assert refs[4] == 4 and refs[5] == 0 and refs[6] == 1, refs


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_synthesis_keeps_one_register_per_copy(tmp_path, family):
    n = 4
    dut = Tree(n, with_ref=False)
    cells = synth_cell_counts(tmp_path, family, dut, [dut.early, dut.qs])
    ffs = flip_flops(cells)
    # n counters of 8 bits and n copies (merged into one copy, the counters merge as well: 9)
    assert ffs == 8 * n + n, cells
    assert COPY_PREFIX == "rst_copy_"


# --------------------------------------------------------------------------- the power-on reset
NET_PARTS = ("\\core.\\net.", "\\core.\\inq.", "\\core.\\cut_in.", "\\core.\\cut_out.")   # reset with the network


def reset_fanout(top, tmp_path, net="rst") -> dict:
    """The registers in the combinational fan-out of `top`'s `rst` port, or of another net
    (sim/fanout.py): {"copies": [their nets], "network": [other network flip-flops], "outside": n}."""
    try:
        regs = register_fanout(top, net, tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    out = {"copies": [], "network": [], "outside": 0}
    for name, nets in regs.items():
        if any(COPY_PREFIX in n for n in nets):
            out["copies"].append(next(n for n in nets if COPY_PREFIX in n))
        elif any(part in name for part in NET_PARTS):
            out["network"].append(name)
        else:
            out["outside"] += 1
    return out


def small_program():
    cfg = ModelConfig("denoise", 1, 2, 1, colors=1)
    return compile_model(random_network(cfg, 5), [torch.rand(1, 1, 16, 16)])


def test_power_on_reset_reaches_the_network_only_through_its_copies(tmp_path):
    prog = small_program()
    build = BuildConfig(max_width=9, max_height=64, max_payload=24)
    fold = auto_fold(prog)
    got = reset_fanout(BoardReset(prog, build, fold), tmp_path / "board")
    # registered copies only: the tree's first level (hw/accelerator.py) and one per block outside
    # the network (hw/accelerator.with_por: the link, the UART's receiver and transmitter); no
    # flip-flop is reset by the power-on reset's own net
    assert got["network"] == [] and got["outside"] == 0, got
    assert sorted(c.rpartition(".")[2] for c in got["copies"]) == sorted(
        f"rst_copy_{n}" for n in ("tree", "por_link", "por_urx", "por_utx")), got
    # each block's copy resets that block's registers (yosys cells, a word each) and nothing else
    for where, block, least in (("accel.core", "link", 50), ("accel", "urx", 3), ("accel", "utx", 3)):
        regs = register_fanout(BoardReset(prog, build, fold), f"{where}.rst_copy_por_{block}",
                               tmp_path / ("por_" + block))
        assert len(regs) >= least, (block, len(regs))
        assert all(f".\\{block}." in name or name.endswith(f".{block}") or f"\\{block}." in name
                   for name in regs), (block, [n for n in regs if block not in n][:5])
    # the first level reaches the regions' copies (the accelerator's units, the network's, one per
    # BBCU layer: the second level) and nothing else
    net = Network(prog, fold)
    units = net.units()
    throwaway(net, *units.values())
    layers = [k for k in units if k.startswith("layer")]
    level2 = reset_fanout(BoardReset(prog, build, fold), tmp_path / "level2", net=COPY_PREFIX + "tree")
    assert level2["network"] == [] and level2["outside"] == 0, level2
    assert sorted(c.rpartition(".")[2] for c in level2["copies"]) == sorted(
        ["rst_copy_region_acc", "rst_copy_region_net"] + ["rst_copy_region_layer"] * len(layers)), level2
    # the regions' copies reach one copy per unit and skid buffer: of the network outside the layers
    # (with cut_head, cut_head_o, cut_fwin, cut_tail, cut_skip), of each layer (sub-units and skid buffers), of
    # the accelerator (the input FIFO, the cuts before and behind it, the output cut); nothing else
    subs = {k: units[k]._units() for k in layers}
    throwaway(*(u for v in subs.values() for u in v.values()))
    per_layer = [len(subs[k]) + len(units[k].skids()) for k in layers]
    assert all(set(SKIDS) <= set(units[k].skids()) for k in layers)
    assert layers and all(n >= 10 for n in per_layer), per_layer
    want = {"rst_copy_region_net": len(units) - len(layers) + 5, "rst_copy_region_acc": 4,
            **{f"{k}.rst_copy_region_layer": n for k, n in zip(layers, per_layer)}}
    for region, n in want.items():
        level3 = reset_fanout(BoardReset(prog, build, fold), tmp_path / region, net=region)
        assert level3["network"] == [] and level3["outside"] == 0, (region, level3)
        assert len(level3["copies"]) == n, (region, n, level3["copies"])
    # control: with the sync domain's reset (the simulation tops) it reaches the network's flip-flops
    plain = reset_fanout(Accelerator(prog, build, fold), tmp_path / "plain")
    assert len(plain["network"]) > 100, {k: (len(v) if isinstance(v, list) else v) for k, v in plain.items()}
