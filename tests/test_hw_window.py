"""WindowGen in cocotb (Icarus) against sw.golden.window3x3: all frame-size corner cases, row replay,
frames back to back, bubbles/back-pressure, the cycle model and the latency requirement."""
import numpy as np
import pytest
import torch

from hw.window import WindowGen
from sim.runner import run_cocotb
from sw import golden
from sw.formats import TAPS

MAX_W, MAX_H = 8, 8
SIZES = [(1, 1), (1, 7), (7, 1), (2, 2), (3, MAX_W), (4, 6), (MAX_H, MAX_W)]      # (H, W)


def expected_windows(frame: np.ndarray, e: int, replay: int) -> list[int]:
    """frame [H, W] of E-bit words -> payload ints (bits | mask << 9E) in output order."""
    h, w = frame.shape
    bits = torch.from_numpy(((frame[None, :, :] >> np.arange(e)[:, None, None]) & 1).astype(np.uint8))[None]
    win, mask = golden.window3x3(bits)                   # [1,H,W,9E], [H,W,9]
    win, mask = win[0].numpy(), mask.numpy()
    words = [[sum(int(b) << i for i, b in enumerate(win[y, x]) if b)
              | (sum(int(b) << t for t, b in enumerate(mask[y, x])) << (TAPS * e)) for x in range(w)]
             for y in range(h)]
    return [words[y][x] for y in range(h) for _ in range(replay) for x in range(w)]


def need_index(y, x, h, w):
    """Raster index of the last input pixel window (y, x) may wait for (replay = 1)."""
    if y < h - 1:
        return (y + 1) * w + min(x + 1, w - 1)
    return h * w - 1               # last row: after the frame's last pixel (raster order after row H-2)


class Jobs:
    def __init__(self):
        self.pix, self.jobs, self.expect = [], [], []

    def add(self, frames, h, w, e, replay, p_bubble=0.0, p_stall=0.0, seed=0, count=None, n_out=None, reset=False,
            max_cycles=60_000):
        start = len(self.pix)
        exp = []
        for f in frames:
            self.pix.extend(int(v) for v in f.reshape(-1))
            exp += expected_windows(f, e, replay)
        count = len(self.pix) - start if count is None else count
        del self.pix[start + count:]
        n_out = len(exp) if n_out is None else n_out
        self.jobs.append({"width": w, "height": h, "start": start, "count": count, "n_out": n_out,
                          "p_bubble": p_bubble, "p_stall": p_stall, "seed": seed, "reset": reset,
                          "max_cycles": max_cycles})
        self.expect.append(exp[:n_out])

    def run(self, comp, name):
        res = run_cocotb(comp, name, "sim.tb_window", {"pix": np.array(self.pix, dtype=np.int64)},
                         {"jobs": self.jobs})
        return res["jobs"]


def check_outputs(job, got, exp, what):
    bad = [i for i, (g, x) in enumerate(zip(got, exp)) if g != x]
    assert len(got) == len(exp) and not bad, (
        f"{what}: {len(bad)} mismatches of {len(exp)}" + (f", first at {bad[0]}: got {got[bad[0]]:#x} "
                                                         f"expected {exp[bad[0]]:#x}" if bad else ""))


@pytest.mark.parametrize("e,replay,sub,decoupled", [
    (1, 1, 1, False), (5, 1, 1, False), (24, 1, 1, False), (1, 2, 1, False), (5, 2, 1, False), (24, 2, 1, False),
    (6, 1, 2, False), (24, 1, 4, False), (24, 2, 8, False),
    (1, 1, 1, True), (5, 2, 1, True), (24, 1, 4, True)])
def test_window_unit(e, replay, sub, decoupled):
    """sub > 1: the line buffer in sub-words (a step every sub + 2 cycles). decoupled: the step
    logic does not see o.ready (at most one window per two cycles)."""
    rng = np.random.default_rng(100 * e + replay + 1000 * (sub - 1) + 7 * decoupled)
    comp = WindowGen(e, MAX_W, MAX_H, replay, sub=sub, decoupled=decoupled)
    jobs = Jobs()
    frame = lambda h, w: rng.integers(0, 1 << e, (h, w), dtype=np.int64)
    cases = []
    # 1) cycle model: one frame, then two frames back to back, per size (no bubbles)
    for h, w in SIZES:
        jobs.add([frame(h, w)], h, w, e, replay)
        cases.append(("model1", h, w))
        jobs.add([frame(h, w), frame(h, w)], h, w, e, replay)
        cases.append(("model2", h, w))
    # 2) bubbles and back-pressure, two frames back to back per size
    for k, (h, w) in enumerate(SIZES):
        jobs.add([frame(h, w), frame(h, w)], h, w, e, replay, p_bubble=0.4, p_stall=0.4, seed=k)
        cases.append(("random", h, w))
    # 3) latency: the input stops after the pixel window (y, x) needs (replay 1)
    if replay == 1:
        for h, w in [(4, 6), (3, MAX_W), (2, 2), (1, 7), (7, 1), (1, 1)]:
            f = frame(h, w)
            for y, x in sorted({(0, 0), (0, w - 2), (0, w - 1), (h // 2, w // 2), (h - 2, w - 1),
                                (h - 1, 0), (h - 1, w - 1)}):
                if not (0 <= y < h and 0 <= x < w):
                    continue
                n_in = need_index(y, x, h, w) + 1
                n_out = y * w + x + 1
                jobs.add([f], h, w, e, replay, count=n_in, n_out=n_out, reset=True, max_cycles=2000)
                cases.append(("latency", h, w, y, x))
    results = jobs.run(comp, f"wingen_e{e}_r{replay}" + (f"_q{sub}" if sub > 1 else "") + ("_dec" if decoupled else ""))
    assert len(results) == len(cases)
    for case, job, r, exp in zip(cases, jobs.jobs, results, jobs.expect):
        check_outputs(job, r["out"], exp, case)
        kind, h, w = case[:3]
        if kind == "model1":
            assert abs(r["cycles"] - comp.cycle_model(w, h)) <= 0.02 * comp.cycle_model(w, h), (case, r["cycles"])
        elif kind == "model2":
            model = comp.cycle_model(w, h, frames=2)
            assert abs(r["cycles"] - model) <= 0.02 * model, (case, r["cycles"], model)
        elif kind == "latency":
            # window (y, x) is offered within 3 cycles after the last input it needs was accepted
            # (last row: it follows the frame's last pixel at full rate, W steps + 3 cycles at most)
            assert len(r["in_cycles"]) == job["count"], case
            lag = r["out_cycles"][-1] - r["in_cycles"][-1]
            # (decoupled: a window may wait behind two others, one per two cycles)
            step = max(comp.step_cycles, 2) if decoupled else comp.step_cycles
            assert 1 <= lag <= 3 + 2 * decoupled + (w * step if case[3] == h - 1 else 0), (case, lag)


def test_block_ram_data_go_straight_into_registers(tmp_path):
    """As the feature window's (tests/test_hw_feature_window.py): the line buffer's data register is
    merged into the block RAM's read port, with no collision bypass logic behind it."""
    from conftest import block_ram_output_loads, synth_cell_counts
    wg = WindowGen(48, 512, 64)
    cells = synth_cell_counts(tmp_path, "ecp5", wg, None)
    assert cells.get("DP16KD", 0) >= 1, cells
    direct, via_logic = block_ram_output_loads(tmp_path)
    assert direct > 0 and via_logic == 0, (direct, via_logic)


@pytest.mark.parametrize("decoupled", [False, True])
def test_decoupled_step_does_not_see_the_consumers_ready(tmp_path, decoupled):
    """decoupled: o.ready (a flag of the engine, which the placer may put far away) reaches the
    output valid flag and nothing else; without it, o.ready reaches the step logic and so the
    column, pass and pending-window registers (sim/fanout.py on the netlist)."""
    from sim.fanout import NoYosys, register_fanout

    wg = WindowGen(5, MAX_W, MAX_H, decoupled=decoupled)
    try:
        regs = register_fanout(wg, "o__ready", tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    reached = {n.lstrip("\\") for nets in regs.values() for n in nets}
    if decoupled:       # (o.valid and its copies for the channel groups and the control, hw/replica.py)
        assert reached == {"o__valid"} | {f"rep_ov_{g}" for g in range(len(wg.groups) + 1)}, reached
    else:
        assert {"o__valid", "col", "c0", "rep_pa_0"} <= reached, reached


@pytest.mark.parametrize("split", [True, False])
def test_column_and_output_enables_are_split_per_channel_group(tmp_path, split):
    """The step and emit enables reach ~1,150 flip-flops for 64 channels (column and output
    registers). Each group of GROUP_CHANNELS channels takes them from its own copy of the flags
    (hw/replica.py, kept by the board build's yosys script), so no clock-enable net of the ECP5
    netlist drives much more than one group's registers; split=False (one group for all channels,
    the unit before the split) shows the check fails without it."""
    from conftest import clock_enable_fanout, synth_cell_counts

    from hw.window import GROUP_CHANNELS

    e = 64
    wg = WindowGen(e, 512, 64, decoupled=True, group_channels=GROUP_CHANNELS if split else e)
    synth_cell_counts(tmp_path, "ecp5", wg, None)
    fan = clock_enable_fanout(tmp_path)
    biggest = max(fan.values())
    per_group = (3 + 3 + wg.lanes + 1) * GROUP_CHANNELS      # c0, c1, lanes, input: one step's loads
    if split:
        assert len(wg.groups) == e // GROUP_CHANNELS
        assert biggest <= 2 * per_group, sorted(fan.values())[-8:]
    else:
        assert biggest > 3 * per_group, sorted(fan.values())[-8:]


def test_pass_registers_are_three_levels_from_the_flags(tmp_path):
    """`step` reads one combined edge flag (edge_ok = (col_zero & ~last_col) | ~pe, a register), so
    the pass registers' enables (rot, s, cur_top, ...) are at most 3 logic levels from any register
    and the column counter 4 (5 each before: x4-base docs/boards.md row 135, layer 10's rot,
    10.1 ns). The control reads its own copy of the flags, not a channel group's."""
    from conftest import port_to_register_depth, synth_cell_counts
    wg = WindowGen(48, 128, 96, replay=2, decoupled=True)
    synth_cell_counts(tmp_path, "ecp5", wg, None)
    ct = len(wg.groups)                  # (the control's copy of the flags)
    for src in (f"rep_pa_{ct}", f"rep_ov_{ct}", f"rep_live_{ct}", f"rep_go_{ct}", f"rep_edge_ok_{ct}", "i__valid"):
        for reg, most in (("rot", 3), ("s", 3), ("p", 3), ("cur_top", 3), ("emits", 3), ("col", 4)):
            d = port_to_register_depth(tmp_path, src, reg)
            assert 0 < d <= most, (src, reg, d)
    # the channel groups' copies do not reach the pass registers (the control has its own copy)
    for src in ("rep_pa_0", "rep_ov_0", "rep_go_0", "rep_edge_ok_0"):
        assert port_to_register_depth(tmp_path, src, "rot") == -1, src
