"""FeatureWindow in cocotb (Icarus): per output pixel 9*C values (tap-major, channel-minor, 0 where
the tap is outside the image) vs sw.golden.window3x3 on a random feature tensor; corner sizes,
frames back to back, bubbles/back-pressure and the cycle model."""
import numpy as np
import pytest
import torch

from hw.feature_window import FeatureWindow
from sim.runner import run_cocotb
from sw import golden
from sw.formats import FeatureFormat

MAX_W, MAX_H = 6, 5
SIZES = [(1, 1), (1, 5), (4, 1), (3, 4), (4, 3), (2, MAX_W), (MAX_H, 2)]          # (H, W)


def expected(x: np.ndarray, fw: int) -> list[int]:
    """x [C, H, W] signed features -> output payloads (value & mask | last << FW) in stream order."""
    c, h, w = x.shape
    win, mask = golden.window3x3(torch.from_numpy(x)[None])      # win [1,H,W,9C] (tap-major), mask [H,W,9]
    win = win[0].numpy().reshape(h * w, 9 * c)
    # numpy cross-check of the golden window (zero-padded taps)
    pad = np.pad(x, ((0, 0), (1, 1), (1, 1)))
    ref = np.stack([pad[:, ky:ky + h, kx:kx + w] for ky in range(3) for kx in range(3)])   # [9, C, H, W]
    assert np.array_equal(win, ref.transpose(2, 3, 0, 1).reshape(h * w, 9 * c))
    vals = win.astype(np.int64) & ((1 << fw) - 1)
    last = np.zeros_like(vals)
    last[:, -1] = 1
    return [int(v) for v in (vals | (last << fw)).reshape(-1)]


class Jobs:
    def __init__(self, c, fmt):
        self.c, self.fmt = c, fmt
        self.pix, self.jobs, self.expect = [], [], []

    def add(self, frames, h, w, p_bubble=0.0, p_stall=0.0, seed=0):
        start = len(self.pix)
        exp = []
        for x in frames:                                       # x [C, H, W]
            self.pix.extend(int(v) & ((1 << self.fmt.bits) - 1) for v in x.transpose(1, 2, 0).reshape(-1))
            exp += expected(x, self.fmt.bits)
        self.jobs.append({"width": w, "height": h, "start": start, "count": len(self.pix) - start,
                          "n_out": len(exp), "p_bubble": p_bubble, "p_stall": p_stall, "seed": seed})
        self.expect.append(exp)


@pytest.mark.parametrize("c,bits,bank_depth", [(1, 12, 1024), (1, 12, 8), (3, 16, 1024), (4, 16, 32)])
def test_feature_window_unit(c, bits, bank_depth):
    """bank_depth < line-buffer depth exercises the banked memory (extra register stage); with
    C = 1 and bank_depth 8 the last of the 3 banks is partial."""
    rng = np.random.default_rng(c + bank_depth)
    fmt = FeatureFormat(bits, 6)
    comp = FeatureWindow(c, fmt, MAX_W, MAX_H, bank_depth=bank_depth)
    assert (comp.banks > 1) == (bank_depth < 1024)

    def feat(h, w):
        x = rng.integers(fmt.lo, fmt.hi + 1, (c, h, w), dtype=np.int64)
        flat = x.reshape(-1)
        flat[0] = fmt.lo                                       # extremes (sign extension, masking)
        flat[-1] = fmt.hi
        return x

    jobs, cases = Jobs(c, fmt), []
    for h, w in SIZES:                                         # cycle model, one frame and two back to back
        jobs.add([feat(h, w)], h, w)
        cases.append(("model", 1, h, w))
        jobs.add([feat(h, w), feat(h, w)], h, w)
        cases.append(("model", 2, h, w))
    for k, (h, w) in enumerate(SIZES):                         # bubbles / back-pressure
        jobs.add([feat(h, w), feat(h, w)], h, w, p_bubble=0.5, p_stall=0.3, seed=k)
        cases.append(("random", 2, h, w))
        jobs.add([feat(h, w)], h, w, p_bubble=0.1, p_stall=0.7, seed=10 + k)
        cases.append(("random", 1, h, w))
    res = run_cocotb(comp, f"featwin_c{c}_b{bits}_d{bank_depth}", "sim.tb_feature_window",
                     {"pix": np.array(jobs.pix, dtype=np.int64)}, {"jobs": jobs.jobs})["jobs"]
    assert len(res) == len(cases)
    for case, r, exp in zip(cases, res, jobs.expect):
        got = r["out"]
        bad = [i for i, (g, e) in enumerate(zip(got, exp)) if g != e]
        first = f", first at {bad[0]}: got {got[bad[0]]:#x} expected {exp[bad[0]]:#x}" if bad else ""
        assert len(got) == len(exp) and not bad, f"{case}: {len(got)} values, {len(bad)} mismatches{first}"
        kind, frames, h, w = case
        if kind == "model":
            model = comp.cycle_model(w, h, frames=frames)
            assert abs(r["cycles"] - model) <= 0.02 * model, (case, r["cycles"], model)


def test_every_bank_is_block_ram(tmp_path):
    """A banked line buffer's short last bank is a block RAM too (as ECP5 LUT RAM its asynchronous
    read and address decode were on the x4-base critical path)."""
    from conftest import synth_cell_counts
    fw = FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=256)
    assert fw.banks == 5 and fw.depth % 256 != 0
    cells = synth_cell_counts(tmp_path, "ecp5", fw, None)
    assert cells.get("DP16KD") == fw.banks and "TRELLIS_DPR16X4" not in cells, cells


def test_bank_select_is_an_or_of_selected_bank_registers(tmp_path):
    """The banked output: the output register takes the OR of the bank registers, each ANDed with
    its bit of the registered one-hot select (set when its bank holds the inside tap; per bank
    group, registered, then across the groups), so the select grows by a few LUTs per bank and bit and by no
    wide multiplexers (an NB:1 multiplexer on a bank number was x4-base's critical path, 37 banks;
    with it, 5 -> 19 banks added 656 LUT4 and 156 PFUMX here)."""
    from conftest import synth_cell_counts
    fmt = FeatureFormat(16, 6)
    few = FeatureWindow(4, fmt, 100, 16, bank_depth=256)
    many = FeatureWindow(4, fmt, 100, 16, bank_depth=64)
    assert (few.banks, many.banks) == (5, 19)
    a = synth_cell_counts(tmp_path / "few", "ecp5", few, None)
    b = synth_cell_counts(tmp_path / "many", "ecp5", many, None)
    per_bank_bit = (b["LUT4"] - a["LUT4"]) / ((many.banks - few.banks) * fmt.bits)
    assert per_bank_bit < 2.0, (a, b)
    # the select's wide-function cells (PFUMX / L6MUX21 named after its registers, d_val): fewer
    # than eight per added bank. Each bank group's registered OR of its four selected bank
    # registers is an eight-input function per bit, which abc builds with a PFUMX (80 here for 19
    # banks, none for 5); the multiplexer select added 11 per bank. (Counted on the select alone:
    # abc builds some control functions with them too, differently in the two sizes.)
    import json

    def select_wide(d):
        cells = json.loads((d / "net.json").read_text())["modules"]["top"]["cells"]
        return sum(1 for n, c in cells.items() if c["type"] in ("PFUMX", "L6MUX21") and n.lstrip("\\").startswith("d_val"))
    wa, wb = select_wide(tmp_path / "few"), select_wide(tmp_path / "many")
    assert 0 < wb - wa < 8 * (many.banks - few.banks), (wa, wb)


def test_block_ram_data_go_straight_into_registers(tmp_path):
    """The line buffer's read registers are merged into the block RAMs' ports with `no_rw_check`
    honoured: every data output bit drives flip-flops only. (From a synchronous Amaranth read port
    yosys emulated read-first collisions: a LUT behind every output and one bypass register for all
    banks, whose 13.8 ns route was x4-base's critical path, docs/boards.md row 97.)"""
    from conftest import block_ram_output_loads, synth_cell_counts
    fw = FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=256)
    synth_cell_counts(tmp_path, "ecp5", fw, None)
    direct, via_logic = block_ram_output_loads(tmp_path)
    assert direct >= fw.banks * 16 and via_logic == 0, (direct, via_logic)


def test_bank_registers_become_block_ram_output_registers(tmp_path):
    """Each bank register loads its bank's word with no reset and no logic between (the select
    comes after it): the board build's netlist pass (boards/outreg.py) moves every one of them
    into its DP16KD's output register (5.8 ns -> 0.95 ns clock-to-out; x4-base row 112 had ~250
    failing endpoints on the feature window's block-RAM outputs). With the select as the
    registers' synchronous reset, as before, none moved."""
    from conftest import outreg_stats, synth_cell_counts
    fmt = FeatureFormat(16, 6)
    fw = FeatureWindow(4, fmt, 100, 16, bank_depth=256)
    synth_cell_counts(tmp_path, "ecp5", fw, None)
    st = outreg_stats(tmp_path)
    assert st["flip_flops"] == fw.banks * fmt.bits and st["ports"] >= fw.banks, st


def test_bank_enables_are_few_logic_levels_from_registers(tmp_path):
    """The banks' write enables are registers (write stage 1, from stage 0's registered fire and
    the one-hot bank register): no logic in front of them (as logic on gap, rowdiff and ci_last,
    7 levels, the "may write" decision sat in front of all 37 banks' enables of x4-base,
    docs/boards.md row 103; later the input's valid did, row 122). The read registers load
    whenever the read stage is free, issued or not: from the group's copies of the four valid
    flags behind it and o.ready, two levels in front of the banks' clock enables (5 when they
    waited on the issue)."""
    from conftest import block_ram_input_depths, synth_cell_counts
    fw = FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=256)
    synth_cell_counts(tmp_path, "ecp5", fw, None)
    depths = block_ram_input_depths(tmp_path, ("WEA", "WEB"))
    assert len(depths) == fw.banks and max(depths.values()) == 0, depths
    depths = block_ram_input_depths(tmp_path, ("CEA", "CEB"))
    assert max(depths.values()) <= 2, depths


def test_write_word_and_address_fan_out_per_bank_group(tmp_path):
    """Banked: the input word, the write address and the read address are registers with a copy
    per WRITE_GROUP banks (hw/replica.py, kept by the board build's script), so no data or address
    net reaches every bank's block RAM (x4-base row 116: the input word to 37 banks was one 13.2 ns
    route). Before, one net drove all 19 here."""
    import json

    from conftest import synth_cell_counts

    from hw.feature_window import WRITE_GROUP
    fw = FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=64)
    synth_cell_counts(tmp_path, "ecp5", fw, None)
    cells = json.loads((tmp_path / "net.json").read_text())["modules"]["top"]["cells"]
    loads = {}
    for c in cells.values():
        if c["type"] == "DP16KD":
            for p, bits in c["connections"].items():
                if p.startswith(("DIA", "DIB", "ADA", "ADB")):
                    for b in bits:
                        if not isinstance(b, str):
                            loads.setdefault(b, set()).add(id(c))
    assert fw.banks == 19 and max(len(v) for v in loads.values()) <= WRITE_GROUP, \
        sorted(len(v) for v in loads.values())[-5:]


@pytest.mark.parametrize("name", ["so_bot", "so_top", "col_off"])
def test_slot_and_column_offsets_reach_the_read_address_through_registers(tmp_path, name):
    """The row starts (slot offset + column offset) are registers: the slot and column offsets reach
    them, not the read address or its per-group copies (their adders ended in routes to the copies:
    x4-base docs/boards.md row 118, 14.35 ns). (so_mid is also selected as it is, with no adder,
    for a new row's first address.)"""
    from sim.fanout import NoYosys, register_fanout

    try:
        regs = register_fanout(FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=256), name, tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    reached = {n.lstrip("\\") for nets in regs.values() for n in nets}
    assert {"ra_row1", "ra_row2", "ra_next_pix"} & reached, reached
    assert not [n for n in reached if n == "ra" or "fw_raddr" in n], reached


def test_bank_enables_are_per_bank_group(tmp_path):
    """Banked (19 banks): the read latches' and the bank registers' clock enables come from one net
    per group of WRITE_GROUP banks (each group's copies of the pipeline flags), after the board
    build's output-register pass too (bank registers -> DP16KD OCE): one net to every bank's enable
    was a 12.1 ns route on x4-base (docs/boards.md row 118)."""
    import json
    from collections import defaultdict

    from conftest import outreg_stats, synth_cell_counts
    from hw.feature_window import WRITE_GROUP

    fw = FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=64)
    synth_cell_counts(tmp_path, "ecp5", fw, None)
    assert outreg_stats(tmp_path)["flip_flops"] >= 16 * fw.banks
    cells = json.loads((tmp_path / "net_outreg.json").read_text())["modules"]["top"]["cells"]
    rams = {n: c for n, c in cells.items() if c["type"] == "DP16KD"}
    assert len(rams) == fw.banks
    for pins in (("CEA", "CEB"), ("OCEA", "OCEB")):
        per_net = defaultdict(set)
        for n, c in rams.items():
            for p in pins:
                b = c["connections"].get(p, ["0"])[0]
                if not isinstance(b, str):               # (a constant: that side unused)
                    per_net[b].add(n)
        assert per_net and max(len(v) for v in per_net.values()) <= WRITE_GROUP, (pins, sorted(map(len, per_net.values())))


def test_input_valid_reaches_write_stage_zero_not_the_banks(tmp_path):
    """Banked: the input's valid (through the transfer) reaches write stage 0's registers, the
    input counters and the dependency flags, but not the write address, the one-hot bank register
    or the banks' write enables: those advance from stage 0's registers, the bank registers and
    enables of each group from its own copy of the fire (i.valid -> fire -> the 37 bank registers
    of x4-base was 12.1 ns, docs/boards.md row 122)."""
    from sim.fanout import NoYosys, register_fanout

    try:
        regs = register_fanout(FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=64), "i__valid", tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    reached = {n.lstrip("\\") for nets in regs.values() for n in nets}
    assert {"rep_fw_w0_fire_0", "ci", "ki", "in_ok"} <= reached, sorted(reached)
    assert not [n for n in reached if n in ("wa", "wbank", "wen", "wso") or "fw_waddr" in n], sorted(reached)


def test_read_side_routes_stay_within_bank_groups(tmp_path):
    """Banked (19 banks): stage A's read-address copies load the read address register (no logic
    on the data; the walk's counters do not reach them), the one-hot bank select loads from the
    group's copies of the bank number, and the output register takes the OR of the groups'
    registered ORs: the bank select registers no longer reach it (x4-base docs/boards.md row 123:
    the read address's next value into the copies beside all 37 banks 13.7 ns, the issue's bank
    select 12.4 ns, the OR of 37 bank registers into the output register 13.85 ns)."""
    from conftest import port_to_register_depth, synth_cell_counts
    fw = FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=64)
    synth_cell_counts(tmp_path, "ecp5", fw, None)
    depth = lambda src, dst: port_to_register_depth(tmp_path, src, dst)     # noqa: E731
    assert [depth(src, "rep_fw_raddr") for src in ("ky", "ko", "xo_last", "col_off")] == [-1] * 4
    assert depth("ra", "rep_fw_raddr") == 0 and depth("o__ready", "rep_fw_raddr") <= 3     # (their enable)
    assert [depth(src, "b_sel") for src in ("ra", "ky", "ko")] == [-1] * 3
    assert depth("rep_fw_a_bank", "b_sel") <= 3
    assert depth("d_val_sel", "c_val") == -1 and 0 < depth("d_val_g", "c_val") <= 2


@pytest.mark.parametrize("src,direct", [("ko", {"ko", "ko_last", "tap_last"}), ("ki", {"ki", "ki_last"}),
                                        ("wait", {"wait", "init", "in_ok", "i__ready"})])
def test_counters_reach_the_issue_and_the_dependency_flag_through_registers(tmp_path, src, direct):
    """The tap counters' and the input channel counter's compares are registered flags (ko_last,
    tap_last, first; ki_last), and so is the start-up wait's `init`: the counters reach only their
    own flags, not the issue's enables (kx, ky, the walk, gap) or in_ok (x4-base's feature window
    flags and counters were 139 endpoints over 8 ns, up to 11.9 ns: docs/boards.md rows 129-130).
    (in_ok, i.ready, still reads `wait` itself: one compare, of two bits.)"""
    from sim.fanout import NoYosys, register_fanout

    try:
        regs = register_fanout(FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=64), src, tmp_path)
    except NoYosys as e:
        pytest.skip(str(e))
    reached = {n.lstrip("\\") for nets in regs.values() for n in nets}
    assert direct & reached, sorted(reached)
    assert reached <= direct, sorted(reached - direct)


def test_input_valid_is_one_select_in_front_of_in_ok(tmp_path):
    """in_ok's next value is computed for both values of this cycle's input pixel and selected by
    it (the two candidates kept as wires, so abc does not fold the select back in): the input's
    valid (cut_fwin's flag) is the fire's LUT and the select in front of in_ok (i.ready); through
    ci_last's next value it was 7 levels, x4-base's critical path (docs/boards.md row 131, 11.8 ns)."""
    from conftest import port_to_register_depth, synth_cell_counts
    synth_cell_counts(tmp_path, "ecp5", FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=64), None)
    # (the fire's LUT, then the select with whatever abc packs into the same slice's PFUMX /
    # L6MUX21 wide-function muxes: up to 4 cells; 7 before)
    d = port_to_register_depth(tmp_path, "i__valid", "i__ready")
    assert 0 < d <= 4, d


def test_output_side_does_not_reach_in_ok(tmp_path):
    """in_ok's candidates assume no output pixel this cycle (output progress only adds room, seen a
    cycle later): the output's ready and the read pipeline's flags reach in_ok (i.ready) through
    registers only (the tail's ready -> the pipeline flags -> the issue -> in_ok, 7-8 levels, was
    x4-base's critical path in docs/boards.md rows 137-138, 11.9 and 12.8 ns). Banked, 19 banks."""
    from conftest import port_to_register_depth, synth_cell_counts
    synth_cell_counts(tmp_path, "ecp5", FeatureWindow(4, FeatureFormat(16, 6), 100, 16, bank_depth=64), None)
    for src in ("o__ready", "o__valid", "a_valid", "b_valid", "d_valid", "e_valid", "first", "tap_last"):
        assert port_to_register_depth(tmp_path, src, "i__ready") == -1, src
    assert 0 < port_to_register_depth(tmp_path, "i__valid", "i__ready") <= 4
