"""Reset tree (hw/reset_tree.py): a unit cleared from its own copy of the request is reset in the
same cycle as one reset from a registered pulse (the link's net_rst), and the board build's yosys
script keeps one flip-flop per copy (opt_merge would fold identical registers into one).
The end-to-end proof is the accelerator's: tests/test_postsynth.py (the dataflow netlist on both
families) and tests/test_virtual_board.py resets the network before every stripe."""
import json
import shutil
import subprocess

import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.back import rtlil
from amaranth.hdl import ResetInserter
from amaranth.sim import Simulator

from boards.build import tool_env, yosys_options
from hw.reset_tree import COPY_PREFIX, cleared


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
    board = {"ice40": "icebreaker", "ecp5": "ulx3s"}[family]
    yosys = tool_env(board)["YOSYS"]
    if not shutil.which(yosys):
        pytest.skip(f"{yosys} not installed")
    n = 4
    dut = Tree(n, with_ref=False)
    (tmp_path / "top.il").write_text(rtlil.convert(dut, name="top", ports=[dut.early, dut.qs]))
    yo = yosys_options(board)
    script = "\n".join(["read_rtlil top.il", yo["script_after_read"],
                        f"synth_{family} {yo['synth_opts']} -top top", yo["script_after_synth"],
                        "tee -q -o stat.json stat -json"])
    (tmp_path / "s.ys").write_text(script + "\n")
    r = subprocess.run([yosys, "-q", "s.ys"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    cells = json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]
    ffs = sum(v for k, v in cells.items() if k.startswith(("SB_DFF", "TRELLIS_FF")))
    # n counters of 8 bits and n copies (merged into one copy, the counters merge as well: 9)
    assert ffs == 8 * n + n, cells
    assert COPY_PREFIX == "rst_copy_"
