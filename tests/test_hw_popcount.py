"""PopcountEngine in cocotb (Icarus) against the golden XNOR-popcount (sw.golden.xnor_popcount on
sw.golden.window3x3 windows), whole tensors: several cin / simd / pe foldings, both popcount
implementations, borders (corner / edge / 1-pixel images), all-ones / all-zeros windows and
weights, BBCU-U passes=2 with a replayed window stream, bubbles and back-pressure (long stalls
fill the credit-bounded result FIFO: a lost or repeated group fails the compare), cycle model."""
import numpy as np
import pytest
import torch

from hw.popcount import PopcountEngine
from sim.runner import run_cocotb
from sw import formats, golden


def window_payloads(bits: torch.Tensor):
    """bits [1, cin, H, W] -> (payload ints [H][W] of layouts.window(cin), golden win, mask)."""
    win, mask = golden.window3x3(bits)
    cin = bits.shape[1]
    n = formats.TAPS * cin
    h, w = mask.shape[:2]
    pay = [[0] * w for _ in range(h)]
    weights = 1 << np.arange(n, dtype=object)
    for y in range(h):
        for x in range(w):
            word = int((win[0, y, x].numpy().astype(object) * weights).sum())
            mk = sum(int(mask[y, x, t]) << t for t in range(formats.TAPS))
            pay[y][x] = word | (mk << n)
    return pay, win, mask


def images(rng, cin, shapes):
    out = []
    for kind, (h, w) in shapes:
        if kind == "rand":
            b = rng.integers(0, 2, (1, cin, h, w))
        elif kind == "ones":
            b = np.ones((1, cin, h, w), dtype=np.int64)
        else:
            b = np.zeros((1, cin, h, w), dtype=np.int64)
        out.append(torch.from_numpy(b.astype(np.uint8)))
    return out


def make_case(rng, cin, cout, passes, shapes):
    wb = rng.integers(0, 2, (cout, formats.TAPS * cin)).astype(np.uint8)
    wb[0, :] = 1                                         # all-ones / all-zeros weight rows
    wb[-1, :] = 0
    r = passes
    C = cout // (r * r)
    stream, vals, chs = [], [], []
    for bits in images(rng, cin, shapes):
        pay, win, mask = window_payloads(bits)
        dots = golden.xnor_popcount(win, mask, torch.from_numpy(wb), cin)[0]      # [cout, H, W]
        assert torch.equal(dots, golden.binary_conv(bits, wb, cin)[0])
        h, w = mask.shape[:2]
        for y in range(h):
            for i in range(r):                           # each LR row replayed r times
                for x in range(w):
                    stream.append(pay[y][x])
                    order = range(cout) if r == 1 else [c * r * r + i * r + j for j in range(r) for c in range(C)]
                    for ch in order:
                        vals.append(int(dots[ch, y, x]))
                        chs.append(ch)
    return wb, stream, vals, chs


SHAPES = [("rand", (4, 5)), ("ones", (3, 3)), ("zeros", (2, 3)), ("rand", (1, 1)), ("rand", (1, 4)),
          ("rand", (3, 1)), ("ones", (1, 1))]

CASES = [
    # cin, cout, simd, pe, passes, popcount, p_bubble, p_stall
    (1, 4, 9, 1, 1, "carry", 0.0, 0.0),                  # simd = 9*cin, cin = 1
    (1, 4, 3, 2, 1, "compressor", 0.3, 0.3),             # simd = 3, pe = 2
    (3, 4, 27, 2, 1, "tree", 0.0, 0.0),                  # output-bound (F < pe)
    (3, 4, 3, 4, 1, "compressor", 0.0, 0.0),             # simd = cin, pe = 4
    (8, 8, 8, 4, 1, "carry", 0.0, 0.0),                  # simd = cin, pe = 4
    (8, 4, 3, 1, 1, "compressor", 0.2, 0.4),             # simd = 3: slices straddle taps
    (8, 4, 72, 2, 1, "tree", 0.4, 0.2),
    (8, 4, 24, 1, 1, "carry", 0.3, 0.3),
    (16, 4, 144, 1, 1, "compressor", 0.0, 0.0),
    (16, 4, 144, 2, 1, "carry", 0.3, 0.5),
    (16, 4, 48, 2, 1, "carry", 0.0, 0.0),
    (4, 8, 12, 2, 2, "compressor", 0.0, 0.0),            # BBCU-U, C = 2, r = 2
    (4, 8, 36, 1, 2, "carry", 0.3, 0.3),
    (4, 8, 4, 2, 2, "tree", 0.2, 0.2),
    (1, 4, 9, 1, 1, "tree", 0.0, 0.9),                   # long stalls: the credits fill the result FIFO
    (16, 4, 48, 2, 1, "carry", 0.1, 0.9),
]
# the weight ROM in banks (block RAM, rom_bank words each, the last one short): + rom_bank
BANKED = [
    (8, 8, 3, 2, 1, "carry", 0.0, 0.0, 16),              # 96 words: 6 banks
    (4, 8, 12, 1, 2, "compressor", 0.3, 0.3, 8),         # BBCU-U, 24 words: 3 banks
    (16, 4, 48, 2, 1, "carry", 0.1, 0.9, 2),             # 6 words: 3 banks, long stalls
    (8, 4, 24, 1, 1, "tree", 0.0, 0.0, 4),               # 12 words: 3 banks
]


@pytest.mark.parametrize("cin,cout,simd,pe,passes,popcount,p_bubble,p_stall,rom_bank",
                         [c + (None,) for c in CASES] + BANKED)
def test_popcount_engine(cin, cout, simd, pe, passes, popcount, p_bubble, p_stall, rom_bank):
    rng = np.random.default_rng(cin * 100 + simd * 7 + pe + 31 * passes)
    shapes = SHAPES if passes == 1 else [("rand", (3, 4)), ("ones", (1, 4)), ("zeros", (2, 4)), ("rand", (1, 4))]
    wb, stream, vals, chs = make_case(rng, cin, cout, passes, shapes)
    width = 4
    eng = PopcountEngine(wb, cin, simd, pe, passes=passes, max_width=64, popcount=popcount,
                         **({"rom_style": "block", "rom_bank": rom_bank} if rom_bank else {}))
    assert (eng.rom_banks > 1) == bool(rom_bank), eng.rom_banks
    res = run_cocotb(eng, "popcount", "sim.tb_popcount",
                     {"win": np.array([f"{s:x}" for s in stream]), "value": np.array(vals), "ch": np.array(chs)},
                     {"dot_bits": formats.dot_bits(cin), "width": width, "p_bubble": p_bubble,
                      "p_stall": p_stall, "seed": 5})
    if p_bubble == 0 and p_stall == 0:
        windows = len(stream) // passes
        model = eng.cycle_model(windows, 1)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)


def test_rejects_bad_folding():
    wb = np.zeros((4, 9 * 4), dtype=np.uint8)
    with pytest.raises(ValueError):
        PopcountEngine(wb, 4, 5, 1)                       # simd does not divide 9*cin
    with pytest.raises(ValueError):
        PopcountEngine(wb, 4, 4, 3)                       # pe does not divide cout
    with pytest.raises(ValueError):
        PopcountEngine(np.zeros((6, 36), dtype=np.uint8), 4, 4, 1, passes=2)   # cout % r^2


def test_onehot_fold_select_replaces_the_fold_multiplexer(tmp_path):
    """From ONEHOT_MIN_FOLDS folds on, the fold slice is an AND-OR on a one-hot fold register (the
    cocotb cases above with F >= 4 run it, those with F <= 3 the multiplexer): on the ECP5 it costs
    fewer logic cells than the F:1 multiplexer it replaces (x4-base's simd = 3 engines)."""
    from conftest import synth_cell_counts
    from hw.estimate import throwaway
    from hw.popcount import ONEHOT_MIN_FOLDS
    rng = np.random.default_rng(3)
    wb = rng.integers(0, 2, (4, 9 * 16)).astype(np.uint8)
    assert not throwaway(PopcountEngine(wb, 16, 48, 1)).onehot and throwaway(PopcountEngine(wb, 16, 36, 1)).onehot
    assert 9 * 16 // 36 == ONEHOT_MIN_FOLDS
    logic = {}
    for onehot in (True, False):
        eng = PopcountEngine(wb, 16, 3, 1, max_width=64)            # F = 48
        eng.onehot = onehot
        c = synth_cell_counts(tmp_path / str(onehot), "ecp5", eng, None)
        logic[onehot] = sum(c.get(k, 0) for k in ("LUT4", "PFUMX", "L6MUX21"))
    assert logic[True] < 0.75 * logic[False], logic


def test_weight_rom_data_go_straight_into_registers(tmp_path):
    """The weight ROM's block-RAM data go into a register before the XNOR and the popcount (an
    ECP5 DP16KD without its output register has 5.8 ns clock-to-out): in the netlist of an engine
    with a block-RAM ROM (x2-base's layer shape: cin = cout = 32, simd 36, pe 4) every ROM data
    bit drives flip-flops only."""
    from conftest import block_ram_output_depths, synth_cell_counts
    rng = np.random.default_rng(5)
    wb = rng.integers(0, 2, (32, 9 * 32)).astype(np.uint8)
    eng = PopcountEngine(wb, 32, 36, 4, max_width=64)
    cells = synth_cell_counts(tmp_path, "ecp5", eng, None)
    depths = block_ram_output_depths(tmp_path)
    assert cells.get("DP16KD", 0) >= 1 and depths, cells
    assert max(depths.values()) == 0, depths


@pytest.mark.parametrize("split", [True, False])
def test_window_register_enables_are_split_per_bit_group(tmp_path, split):
    """The window register and its skid register (9 * cin bits each, 576 for 64 channels) load
    under enables computed from the stage-0 flags; each group of WIN_GROUP_BITS bits takes them from
    its own copy of the flags (hw/replica.py), so no clock-enable net of the ECP5 netlist drives
    much more than a group; split=False (one group) shows the check fails without it."""
    from conftest import clock_enable_fanout, synth_cell_counts

    from hw.popcount import WIN_GROUP_BITS
    rng = np.random.default_rng(6)
    cin = 64
    wb = rng.integers(0, 2, (4, 9 * cin)).astype(np.uint8)
    eng = PopcountEngine(wb, cin, 64, 1, max_width=64, win_group_bits=WIN_GROUP_BITS if split else 9 * cin)
    synth_cell_counts(tmp_path, "ecp5", eng, None)
    biggest = max(clock_enable_fanout(tmp_path).values())
    if split:
        assert len(eng.win_groups) == -(-9 * cin // WIN_GROUP_BITS)
        assert biggest <= 2 * WIN_GROUP_BITS, biggest
    else:
        assert biggest > 3 * WIN_GROUP_BITS, biggest


def test_banked_weight_rom_reads_straight_into_registers(tmp_path):
    """A weight ROM deeper than one DP16KD column (here 1,536 words of 12 bits: two banks of 1,024)
    is one block RAM per bank, each bank's data straight into flip-flops (the DP16KD output
    register after the board build's pass), and the bank registers reach the ROM word register
    through the select only: no block-RAM output drives logic (yosys' own split of a deep ROM put
    a multiplexer there, layer 8 of x4-base in docs/boards.md row 123: 11.3 ns)."""
    from conftest import block_ram_output_depths, outreg_stats, synth_cell_counts
    from hw.popcount import rom_bank_words
    rng = np.random.default_rng(6)
    wb = rng.integers(0, 2, (128, 9 * 16)).astype(np.uint8)
    eng = PopcountEngine(wb, 16, 12, 1, passes=2, max_width=64)
    assert rom_bank_words(12) == 1024 and eng.rom_banks == 2
    cells = synth_cell_counts(tmp_path, "ecp5", eng, None)
    depths = block_ram_output_depths(tmp_path)
    assert cells.get("DP16KD", 0) == 2 and depths and max(depths.values()) == 0, (cells, depths)
    assert outreg_stats(tmp_path)["flip_flops"] == 2 * 12


def test_pass_bookkeeping_has_no_adder_behind_the_issue(tmp_path):
    """BBCU-U engine (passes = 2): "the last column" is a last_flag (compares of the column counter
    with the registered W - 1 / W - 2) and pbase + stride its own sum, so the issue reaches x_last
    and pbase_p through selects only, no adder or compare (carry chain) behind it (issue -> the column's next
    value -> add -> compare was x4-base's critical path, docs/boards.md row 132: 10.5 ns)."""
    from conftest import carry_cells_between, port_to_register_depth, synth_cell_counts
    rng = np.random.default_rng(3)
    wb, _, _, _ = make_case(rng, 4, 8, 2, [("rand", (1, 4))])
    eng = PopcountEngine(wb, 4, 12, 2, passes=2, max_width=64, popcount="compressor")
    synth_cell_counts(tmp_path, "ecp5", eng, None)
    for reg in ("x_last", "pbase_p"):
        assert port_to_register_depth(tmp_path, "rep_wvalid_0", reg) > 0, reg
        assert carry_cells_between(tmp_path, "rep_wvalid_0", reg) == 0, reg


def test_rom_address_candidates_come_from_registers(tmp_path):
    """The ROM address register takes the pass base (from the pass registers) or addr + 1 (a
    register of its own), selected by the issue and the step flags: 2 logic levels, no carry chain
    in front of it (4 levels and addr + 1's chain before: x4-base docs/boards.md row 135, layer 8's
    engine, 59 endpoints over 8 ns, 10.0 ns). Banked ROM (48 channels, 96 output channels, r = 2)."""
    from conftest import carry_cells_between, port_to_register_depth, synth_cell_counts
    rng = np.random.default_rng(5)
    wb = rng.integers(0, 2, (96, formats.TAPS * 48)).astype(np.uint8)
    eng = PopcountEngine(wb, 48, 12, 1, passes=2, max_width=128)
    assert eng.rom_banks > 1
    synth_cell_counts(tmp_path, "ecp5", eng, None)
    for src in ("rep_wvalid_0", "rep_room_0", "rep_last_f_0", "rep_last_g_0", "x_last", "i_last", "pbase",
                "addr_p1", "rom_addr"):
        assert port_to_register_depth(tmp_path, src, "rom_addr") <= 2, src
        assert carry_cells_between(tmp_path, src, "rom_addr") == 0, src
