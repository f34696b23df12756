# amaranth: UnusedElaboratable=no
"""BilinearSkip in cocotb (Icarus) against golden.bilinear_skip: r = 2, 3, 4 and identity, LR frames
1x1, 1x4, 4x1, 3x1, 1x3, 4x5, 5x4 (and back-to-back frames), colours 3 and 1, all-255 frames,
bubbles and back-pressure, and the cycle model."""
import numpy as np
import pytest
import torch

from hw.bilinear import BilinearSkip
from sim.runner import run_cocotb
from sw import golden

# (width, height, frames back to back)
GROUPS = [(1, 1, 1), (4, 1, 1), (1, 4, 1), (3, 1, 1), (1, 3, 1), (5, 4, 1), (4, 5, 2), (2, 2, 3)]


def vectors(r, colors, groups, rng):
    pix, skip = [], []
    for w, h, n in groups:
        for f in range(n):
            a = rng.integers(0, 256, (1, colors, h, w))
            if (w, h, f) == (5, 4, 0):
                a[:] = 255                                   # largest skip words
            t = torch.from_numpy(a.astype(np.int64))
            s = golden.bilinear_skip(t, r) if r > 1 else t << 16
            pix.append(t[0].permute(1, 2, 0).reshape(-1, colors).numpy())
            skip.append(s[0].permute(1, 2, 0).reshape(-1, colors).numpy())
    return np.concatenate(pix), np.concatenate(skip)


CASES = [
    # r, colors, max_width, max_height, p_bubble, p_stall
    pytest.param(2, 3, 8, 8, 0.0, 0.0, id="x2-c3-clean"),
    pytest.param(2, 1, 5, 6, 0.3, 0.3, id="x2-c1-bubbles"),
    pytest.param(3, 1, 8, 8, 0.0, 0.0, id="x3-c1-clean"),
    pytest.param(3, 3, 6, 5, 0.5, 0.2, id="x3-c3-bubbles"),
    pytest.param(4, 3, 5, 5, 0.0, 0.0, id="x4-c3-clean"),
    pytest.param(4, 1, 8, 8, 0.2, 0.6, id="x4-c1-stalls"),
    pytest.param(1, 3, 8, 8, 0.0, 0.0, id="identity-c3-clean"),
    pytest.param(1, 1, 8, 8, 0.4, 0.4, id="identity-c1-bubbles"),
]


@pytest.mark.parametrize("r,colors,max_width,max_height,p_bubble,p_stall", CASES)
def test_bilinear_unit(r, colors, max_width, max_height, p_bubble, p_stall):
    rng = np.random.default_rng(r * 10 + colors)
    groups = [g for g in GROUPS if g[0] <= max_width and g[1] <= max_height]
    pix, skip = vectors(r, colors, groups, rng)
    unit = BilinearSkip(r, colors, max_width, max_height, "bilinear" if r > 1 else "identity")
    res = run_cocotb(unit, "bilinear", "sim.tb_bilinear", {"pix": pix, "skip": skip},
                     {"r": r, "colors": colors, "groups": groups, "p_bubble": p_bubble, "p_stall": p_stall,
                      "seed": 11})
    if p_bubble == 0 and p_stall == 0:
        for (w, h, n), cyc in zip(groups, res["cycles"]):
            if n == 1:
                model = unit.cycle_model(w, h)
                assert abs(cyc - model) <= 0.02 * model, ((w, h), cyc, model)


def test_bilinear_parameters():
    with pytest.raises(ValueError):
        BilinearSkip(1, 3, 8, 8)                     # x1 bilinear: use identity
    with pytest.raises(ValueError):
        BilinearSkip(2, 3, 8, 8, "identity")
    est = BilinearSkip(2, 3, 100, 8).resource_estimate()
    assert set(est) == {"lut", "ff", "bram_bits", "dsp"} and est["bram_bits"] == 4 * 128 * 24


def test_block_ram_data_go_straight_into_registers(tmp_path):
    """The line buffer is read through hw/ram_read.registered_read with NO_RW_CHECK (its reads
    never need the word written in the same cycle): no collision logic behind the block RAMs
    (tests/test_hw_bram_fifo.py); 256 pixels wide, two DP16KD side by side."""
    from conftest import block_ram_output_loads, synth_cell_counts
    cells = synth_cell_counts(tmp_path, "ecp5", BilinearSkip(2, 3, 256, 64), None)
    assert cells.get("DP16KD", 0) == 2, cells
    direct, via_logic = block_ram_output_loads(tmp_path)
    assert direct == 24 and via_logic == 0, (direct, via_logic)


def test_row_control_reads_registered_first_and_last_flags(tmp_path):
    """row_b_r / row_a_r follow py + 1 / py - 1 selected by registered "py is the last / first LR
    row" flags (hw/head.last_flag), not by compares of py with H - 1 and 0: the compare in front of
    row_b_r was x4-base's ECP5 critical path (docs/boards.md row 127, 11.9 ns). At most the
    increment's carry chain and a select (6 before, through the 7-bit H - 1 compare). Likewise the
    column counters' "last column" flags are registers (px_last, in_x_last): W - 1 reaches no
    register of the row control (py, in_y, settle, the input ready) through a compare."""
    from conftest import port_to_register_depth, synth_cell_counts
    synth_cell_counts(tmp_path, "ecp5", BilinearSkip(4, 3, 128, 96), None)
    for row in ("row_b_r", "row_a_r"):
        d = port_to_register_depth(tmp_path, "py", row)
        assert 0 < d <= 2, (row, d)
    assert port_to_register_depth(tmp_path, "hm1", "row_b_r") == -1
    for reg in ("py", "in_y", "settle", "i__ready"):
        assert port_to_register_depth(tmp_path, "wm1", reg) == -1, reg


def test_v_registers_load_on_the_pop(tmp_path):
    """The V registers (v0, vm: the skip's LR values of the current and previous column) load on
    one enable, the FIFO's pop, and take the FIFO's head or v0 by a select of registered flags: the
    output's ready (from tail.skip, a SkidBuffer's flag) is at most 3 logic levels from them (5
    through the nested branches before: x4-base docs/boards.md row 130, 80 endpoints over 8 ns,
    11.3 ns)."""
    from conftest import port_to_register_depth, synth_cell_counts
    synth_cell_counts(tmp_path, "ecp5", BilinearSkip(4, 3, 128, 96), None)
    for reg in ("v0_", "vm"):
        d = port_to_register_depth(tmp_path, "o__ready", reg)
        assert 0 < d <= 3, (reg, d)


def test_input_ready_has_no_adder_or_compare_in_front(tmp_path):
    """in_room (the input's ready register) is computed from registers kept beside in_y and py
    (their distance, "in_y is H - 1 / H"): no carry chain between py, in_y or H - 1 and it, at most 4
    logic levels from any register (py + 2 and in_y + 1 into a compare, two carry chains, were
    x4-base's ECP5 critical path, docs/boards.md row 135: 10.9 ns; 9 levels before)."""
    from conftest import carry_cells_between, port_to_register_depth, synth_cell_counts
    synth_cell_counts(tmp_path, "ecp5", BilinearSkip(4, 3, 128, 96), None)
    for src in ("py", "in_y", "hm1", "dist", "y_last", "i__valid"):
        assert carry_cells_between(tmp_path, src, "i__ready") == 0, src
        assert port_to_register_depth(tmp_path, src, "i__ready") <= 4, src
    assert port_to_register_depth(tmp_path, "in_y", "i__ready") == -1
    assert port_to_register_depth(tmp_path, "hm1", "i__ready") == -1
