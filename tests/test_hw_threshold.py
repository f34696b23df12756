"""Threshold unit in cocotb (Icarus) against the golden binariser, bubbles and back-pressure included."""
import numpy as np
import pytest
import torch

from hw.estimate import throwaway
from hw.threshold import Threshold
from sim.runner import run_cocotb
from sw import golden
from sw.formats import FeatureFormat


@pytest.mark.parametrize("channels,lanes,bits,p_bubble,p_stall", [
    (8, 1, 16, 0.0, 0.0), (8, 2, 16, 0.3, 0.3), (12, 4, 12, 0.5, 0.2), (5, 5, 8, 0.2, 0.5),
    (6, 3, 12, 0.0, 0.0), (8, 4, 16, 0.3, 0.4), (12, 4, 12, 0.0, 0.0)])
def test_threshold_unit(channels, lanes, bits, p_bubble, p_stall):
    rng = np.random.default_rng(channels * 7 + lanes)
    fmt = FeatureFormat(bits, 4)
    t = rng.integers(fmt.lo, fmt.hi + 2, channels)
    t[0], t[-1] = fmt.lo, fmt.hi + 1                     # all-ones / all-zeros channels
    npx = 40
    x = rng.integers(fmt.lo, fmt.hi + 1, (npx, channels))
    x[:10] = t[None, :] .clip(fmt.lo, fmt.hi)              # ties: x == T gives +1
    x[10:20] = (t[None, :] - 1).clip(fmt.lo, fmt.hi)
    x[20, :], x[21, :] = fmt.lo, fmt.hi                     # saturation extremes
    b = golden.threshold(torch.from_numpy(x.T[None, :, None, :]), t)[0, :, 0, :].numpy()   # [C, px]
    words = (b.astype(np.int64) << np.arange(channels)[:, None]).sum(0)
    res = run_cocotb(Threshold(t, fmt, lanes), "threshold", "sim.tb_threshold", {"x": x, "bits": words},
                     {"lanes": lanes, "bits": bits, "p_bubble": p_bubble, "p_stall": p_stall, "seed": 3})
    if p_bubble == 0 and p_stall == 0:
        model = throwaway(Threshold(t, fmt, lanes)).cycles_per_pixel() * npx
        assert abs(res["cycles"] - model) <= 0.02 * model + 1, (res["cycles"], model)


@pytest.mark.parametrize("channels,lanes", [(48, 1), (12, 4)])
def test_compare_results_are_registered_before_the_accumulator(tmp_path, channels, lanes):
    """With several steps per pixel a lane's compare result is written to one of C / lanes
    accumulator bits: the input feature reaches only the registered compare results (w_bits), not
    the accumulator or the output register (their route was x4-base's ECP5 critical path,
    docs/boards.md row 107). With one step per pixel the compare goes straight to the output."""
    from sim.fanout import NoYosys, register_fanout

    fmt = FeatureFormat(16, 4)
    t = np.arange(channels) - channels // 2
    try:
        regs = register_fanout(Threshold(t, fmt, lanes), "i__payload", tmp_path)
        one = register_fanout(Threshold(t[:lanes], fmt, lanes), "i__payload", tmp_path / "one")
    except NoYosys as e:
        pytest.skip(str(e))
    reached = {n.lstrip("\\") for nets in regs.values() for n in nets}
    assert reached == {"w_bits"}, reached
    assert {n.lstrip("\\") for nets in one.values() for n in nets} == {"o__payload"}


def test_input_ready_does_not_see_the_consumers_ready(tmp_path):
    """With three or more steps per pixel, o.ready (the consumer's flag, a skid buffer the placer
    may put far away) reaches only the output valid flag, not i.ready and the layer's input fork
    behind it: the output register has emptied long before the next pixel's last step. (i.ready
    would show as the step registers, which load on i.valid & i.ready; with two steps per pixel
    o.ready does reach them, so the check sees such a path.)"""
    from sim.fanout import NoYosys, register_fanout

    def reached(channels, path):
        regs = register_fanout(Threshold(np.arange(channels) - 2, FeatureFormat(16, 4), 1), "o__ready", path)
        return {n.lstrip("\\") for nets in regs.values() for n in nets}

    try:
        assert reached(48, tmp_path) == {"o__valid"}
        assert {"step", "last"} <= reached(2, tmp_path / "two")
    except NoYosys as e:
        pytest.skip(str(e))


def test_input_handshake_does_not_reach_the_threshold_rom(tmp_path):
    """The threshold ROM is read asynchronously at the step counter: i.valid (the layer's fork, a
    register of another unit) reaches the step counter and the stage registers, not a ROM read
    port (a synchronous port addressed with "next step if a transfer" put the handshake in front
    of the ROM: x4-base row 111)."""
    import json

    from sim.fanout import NoYosys, register_fanout

    try:
        regs = register_fanout(Threshold(np.arange(48) - 24, FeatureFormat(16, 4), 1), "i__valid", tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    cells = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]["cells"]
    kinds = {cells[c]["type"] for c in regs}
    assert regs and not [k for k in kinds if k.startswith("$memrd")], kinds


@pytest.mark.parametrize("channels,lanes", [(48, 1), (12, 4)])
def test_accumulator_flip_flops_share_one_clock_enable(tmp_path, channels, lanes):
    """The accumulator is a shift register with one enable for all its bits. Writing a step's bits
    at the step register (acc.word_select(step)) gave every step's flip-flops an enable of their own
    in the ECP5 netlist: 47 one-flip-flop control sets per x2-base layer, 658 in all (docs/boards.md
    row 113), each wanting a slice half of its own from the placer's legaliser."""
    import json

    from conftest import synth_cell_counts

    fmt = FeatureFormat(16, 4)
    synth_cell_counts(tmp_path, "ecp5", Threshold(np.arange(channels) - channels // 2, fmt, lanes), None)
    cells = json.loads((tmp_path / "net.json").read_text())["modules"]["top"]["cells"]
    acc = [c for n, c in cells.items() if c["type"] == "TRELLIS_FF" and n.startswith("acc")]
    assert len(acc) == channels - lanes or len(acc) == channels, len(acc)
    enables = {(tuple(c["connections"].get("CE", ["1"])), c["parameters"].get("CEMUX")) for c in acc}
    assert len(enables) == 1, len(enables)
