"""ECP5 netlists of the stream units with one-bit state: no clock-enable net drives a single flip-flop.

An ECP5 slice's two flip-flops share clock, clock enable and set/reset, so a flag with an enable
of its own (a valid flag written with If / Elif, a registered not-full flag set by a constant in
one branch) takes half a slice and a placement constraint: x2-base's netlist had 523 such
one-flip-flop control sets and its legaliser stalled (docs/boards.md). hw/flag.py writes flags as
logic instead. Each case fails on the If / Elif form.
"""
import pytest
from amaranth import Module, Signal
from amaranth.hdl import unsigned

from sw.formats import FeatureFormat


def _fifo(out_reg):
    from hw.bram_fifo import BlockRamFIFO
    m, out = Module(), Signal(18)
    m.submodules.q = q = BlockRamFIFO(width=18, depth=600, out_reg=out_reg)
    m.d.sync += out.eq(q.r_data)                      # the user's register (a port is no load)
    return m, [q.w_data, q.w_en, q.w_rdy, out, q.r_en, q.r_rdy]


def _skid(out_select):
    from hw.skid import SkidBuffer
    return SkidBuffer(unsigned(8), out_select=out_select), None


def _fork():
    from hw.fork import Broadcast
    return Broadcast(unsigned(8)), None


def _residual():
    from hw.residual import ResidualAdd
    return ResidualAdd(FeatureFormat(16, 4)), None


@pytest.mark.parametrize("make", [
    pytest.param(lambda: _fifo(False), id="BlockRamFIFO"), pytest.param(lambda: _fifo(True), id="BlockRamFIFO-out_reg"),
    pytest.param(lambda: _skid(False), id="SkidBuffer"), pytest.param(lambda: _skid(True), id="SkidBuffer-ring"),
    pytest.param(_fork, id="Broadcast"), pytest.param(_residual, id="ResidualAdd"),
])
def test_no_clock_enable_drives_a_single_flip_flop(tmp_path, make):
    from conftest import clock_enable_fanout, synth_cell_counts

    dut, ports = make()
    synth_cell_counts(tmp_path, "ecp5", dut, ports)
    fanout = clock_enable_fanout(tmp_path)
    assert fanout and min(fanout.values()) >= 2, fanout
