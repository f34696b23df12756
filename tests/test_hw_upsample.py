"""NearestUpsample in cocotb (Icarus) against golden.nearest_up: sizes (W, H) = (1,1), (1,5), (3,2),
(2,4) and two frames back to back, C in {1, 4}, r in {2, 3}, bubbles and back-pressure, cycle model,
one memory and banks."""
import numpy as np
import pytest
import torch

from hw.upsample import NearestUpsample
from sim.runner import run_cocotb
from sw import golden
from sw.formats import FeatureFormat

SIZES = [(1, 1, 1), (1, 5, 1), (3, 2, 1), (2, 4, 1), (3, 2, 2)]      # (width, height, frames back to back)


def _stream(rng, fmt, c, r, w, h, frames):
    xs, outs = [], []
    for _ in range(frames):
        x = torch.from_numpy(rng.integers(fmt.lo, fmt.hi + 1, (1, c, h, w)))
        x[0, 0, 0, 0] = fmt.lo
        x[0, -1, -1, -1] = fmt.hi
        up = golden.nearest_up(x, r)
        xs.append(x[0].permute(1, 2, 0).reshape(-1).numpy())          # raster, channel-serial
        outs.append(up[0].permute(1, 2, 0).reshape(-1).numpy())
    return np.concatenate(xs), np.concatenate(outs)


def test_output_order_is_the_documented_loop_nest():
    """golden.nearest_up in raster order == for y, i, x, j, c: x[c, y, x]."""
    c, r, w, h = 2, 3, 3, 2
    x = torch.arange(c * h * w).view(1, c, h, w)
    flat = golden.nearest_up(x, r)[0].permute(1, 2, 0).reshape(-1).tolist()
    order = [int(x[0, ch, y, xx]) for y in range(h) for i in range(r) for xx in range(w) for j in range(r) for ch in range(c)]
    assert flat == order


@pytest.mark.parametrize("bank", [1024, 4])
@pytest.mark.parametrize("channels,r", [(1, 2), (4, 2), (1, 3), (4, 3)])
@pytest.mark.parametrize("p_bubble,p_stall", [(0.0, 0.0), (0.4, 0.3)])
def test_upsample_unit(channels, r, p_bubble, p_stall, bank):
    """bank 4: the line buffer (2 * 4 * C words) in 2 or 8 banks."""
    fmt = FeatureFormat(16, 6)
    rng = np.random.default_rng(channels * 10 + r)
    xs, outs = zip(*[_stream(rng, fmt, channels, r, w, h, f) for w, h, f in SIZES])
    in_off = np.cumsum([0] + [len(a) for a in xs])
    out_off = np.cumsum([0] + [len(a) for a in outs])
    dut = NearestUpsample(channels, r, fmt, max_width=4, max_height=8, bank_depth=bank)
    assert (dut.banks > 1) == (bank == 4)
    res = run_cocotb(dut, "upsample", "sim.tb_upsample",
                     {"sizes": np.array(SIZES), "x": np.concatenate(xs), "out": np.concatenate(outs),
                      "in_off": in_off, "out_off": out_off},
                     {"bits": fmt.bits, "p_bubble": p_bubble, "p_stall": p_stall, "seed": 5},
                     testcase="upsample_matches_golden")
    if p_bubble == 0 and p_stall == 0:
        for (w, h, f), got in zip(SIZES, res["cycles"]):
            model = dut.cycle_model(w, h * f)
            assert abs(got - model) <= 0.02 * model, ((w, h, f), got, model)


@pytest.mark.parametrize("channels,r", [(4, 2)])
def test_upsample_double_buffers(channels, r):
    """Output stalled: exactly two LR rows are accepted (row y+1 is taken while row y waits)."""
    fmt = FeatureFormat(16, 6)
    w, h = 3, 4
    x, out = _stream(np.random.default_rng(9), fmt, channels, r, w, h, 1)
    dut = NearestUpsample(channels, r, fmt, max_width=4, max_height=8)
    res = run_cocotb(dut, "upsample", "sim.tb_upsample", {"sizes": np.array([(w, h, 1)]), "x": x, "out": out},
                     {"bits": fmt.bits}, testcase="upsample_double_buffers")
    assert res["accepted"] == 2 * w * channels


def test_block_ram_data_go_straight_into_registers(tmp_path):
    """The row buffer's data register is merged into the block-RAM read port with no_rw_check
    honoured: no collision bypass logic behind the block RAM (tests/test_hw_feature_window.py).
    (One block RAM deep: a deeper buffer is split over several, with a read multiplexer behind.)"""
    from conftest import block_ram_output_loads, synth_cell_counts
    up = NearestUpsample(8, 2, FeatureFormat(16, 6), 64, 64)
    cells = synth_cell_counts(tmp_path, "ecp5", up, None)
    assert cells.get("DP16KD", 0) == 1, cells
    direct, via_logic = block_ram_output_loads(tmp_path)
    assert direct > 0 and via_logic == 0, (direct, via_logic)


def test_banked_block_ram_data_go_straight_into_registers(tmp_path):
    """A line buffer over several block RAMs (C = 48, max_width 32: 3,072 words, 3 DP16KD) is one
    memory per bank, so no read multiplexer sits behind the block RAMs: every data bit drives
    flip-flops only (as one memory: a multiplexer, docs/boards.md row 100), the bank registers,
    which the board build's pass (boards/outreg.py) moves into the DP16KD output registers."""
    from conftest import block_ram_output_depths, outreg_stats, synth_cell_counts
    up = NearestUpsample(48, 2, FeatureFormat(16, 6), 32, 64)
    assert up.banks == 3
    cells = synth_cell_counts(tmp_path, "ecp5", up, None)
    assert cells.get("DP16KD", 0) == 3, cells
    depths = block_ram_output_depths(tmp_path)
    assert max(depths.values()) == 0, depths
    st = outreg_stats(tmp_path)
    assert st["flip_flops"] == up.banks * 16, st


def test_consumer_ready_selects_last_in_front_of_the_available_flag(tmp_path):
    """The word-available flag counts words (no address compare) and its next value is a select by
    the issue among values from registers: at most 5 logic levels from any register or from
    o.ready to the flag in the ECP5 netlist (9 with the compares of the address candidates,
    x4-base's critical path in docs/boards.md row 124, 11.7 ns; o.ready steering the selects, 8,
    was row 118's, 13.75 ns)."""
    import json
    import re

    from conftest import port_to_register_depth, synth_cell_counts
    synth_cell_counts(tmp_path, "ecp5", NearestUpsample(32, 2, FeatureFormat(16, 6), 64, 64), None)
    cells = json.loads((tmp_path / "net.json").read_text())["modules"]["top"]["cells"]
    regs = {re.sub(r"(_TRELLIS_FF_Q.*|\[.*)$", "", n) for n, c in cells.items() if c["type"] == "TRELLIS_FF"}
    depth = {src: port_to_register_depth(tmp_path, src, "avail") for src in sorted(regs) + ["o__ready"]}
    assert depth["o__ready"] >= 1 and max(depth.values()) <= 5, depth


def test_bank_addresses_come_from_copies_per_four_banks(tmp_path):
    """With more than ADDR_GROUP (4) banks, each group of 4 block RAMs takes its read and write
    address from its own copy of the address registers (one read-address register for x4-base
    layer 9's 11 banks was a 10.4 ns route, docs/boards.md row 140's critical path)."""
    from conftest import port_to_register_depth, synth_cell_counts

    from hw.upsample import ADDR_GROUP
    up = NearestUpsample(48, 2, FeatureFormat(16, 6), 64, 64)
    assert up.banks == 6 > ADDR_GROUP
    synth_cell_counts(tmp_path, "ecp5", up, None)
    for kind in ("raddr", "waddr"):
        for k in range(up.banks):
            for g in range(2):
                d = port_to_register_depth(tmp_path, f"rep_up_{kind}_{g}", f"mem{k}")
                assert (d >= 0) == (k // ADDR_GROUP == g), (kind, g, k, d)
