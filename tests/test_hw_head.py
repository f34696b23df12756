# amaranth: UnusedElaboratable=no
"""HeadConv in cocotb (Icarus) against golden.head on whole images: realistic constants from a
compiled random network, crafted constants that saturate y and the feature both ways, masked taps
holding garbage, colours 3 and 1, relu and lrelu (its product in one stage or split over two),
macs 1 / 2 / 4 / 9 / 27, bubbles and back-pressure, and the cycle model."""
import dataclasses

import numpy as np
import pytest
import torch

from conftest import random_network
from hw.head import HeadConv
from sim.runner import run_cocotb
from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig

IMAGES = [((1, 1), "rand"), ((1, 4), "rand"), ((4, 1), "rand"), ((3, 3), "rand"),
          ((3, 3), "ones"), ((2, 2), "zeros"), ((2, 3), "rand")]


def compiled_head(cfg: ModelConfig, seed: int, feature_bits: int = 16):
    m = random_network(cfg, seed=seed)
    with torch.no_grad():
        m.head.bias.normal_(0, 0.3)
    prog = compile_model(m, [torch.rand(1, cfg.colors, 12, 12, generator=torch.Generator().manual_seed(seed))],
                         feature_bits)
    return prog.head, prog.fmt


def saturating(layer, fmt):
    """Constants that drive y past both FW+2 bounds and the feature past both FW bounds."""
    c = len(layer.mult)
    mult = np.array(layer.mult, dtype=np.int64)
    bias = np.array(layer.bias, dtype=np.int64)
    sh = layer.shift
    mult[0], mult[1 % c] = (1 << 17) - 1, -(1 << 17)            # |M*acc| >> SH far beyond y_bits
    if c > 2:
        bias[2] = (fmt.y_hi + 5) << sh                          # y saturates high with any acc
    if c > 3:
        bias[3] = (fmt.y_lo - 5) << sh                          # y saturates low
        mult[3] = 3
    # lrelu: a slope of ~2 lets negative y reach the feature's low bound too
    return dataclasses.replace(layer, mult=mult, bias=bias,
                               act_mult=(1 << 17) - 1 if layer.act == "lrelu" else layer.act_mult)


def make_images(colors, rng):
    imgs = []
    for (h, w), kind in IMAGES:
        if kind == "rand":
            a = rng.integers(0, 256, (1, colors, h, w))
        else:
            a = np.full((1, colors, h, w), 255 if kind == "ones" else 0)
        imgs.append(torch.from_numpy(a.astype(np.int64)))
    return imgs


def windows(pix, garbage_rng=None):
    """[1,colors,H,W] -> bytes [H*W, 9*colors] (tap-major, colour inner) and mask [H*W, 9]."""
    win, mask = golden.window3x3(pix)
    colors = pix.shape[1]
    win = win[0].reshape(-1, 9 * colors).numpy().astype(np.int64)
    mask = mask.reshape(-1, 9).numpy().astype(np.int64)
    if garbage_rng is not None:                  # masked taps must be ignored whatever they hold
        g = garbage_rng.integers(1, 256, win.shape)
        win = np.where(np.repeat(mask, colors, axis=1) == 1, win, g)
    return win, mask


CASES = [
    # cfg, macs, constants, p_bubble, p_stall, feature_bits, garbage in masked taps, serial requantiser
    # (the cases with "split" in their id: the LeakyReLU product over two stages, split_lrelu)
    pytest.param(ModelConfig("sr", 2, 4, 1), 1, "real", 0.0, 0.0, 16, False, False, id="lrelu-c3-macs1-clean"),
    pytest.param(ModelConfig("sr", 2, 4, 1), 4, "sat", 0.3, 0.3, 16, True, False, id="lrelu-c3-macs4-sat-bubbles"),
    pytest.param(ModelConfig("jpeg", 1, 8, 1, colors=1), 1, "real", 0.2, 0.4, 16, False, False, id="relu-c1-macs1-bubbles"),
    pytest.param(ModelConfig("jpeg", 1, 8, 1, colors=1), 9, "sat", 0.0, 0.0, 16, True, False, id="relu-c1-macs9-sat-clean"),
    pytest.param(ModelConfig("sr", 2, 4, 1), 27, "sat", 0.5, 0.5, 12, True, False, id="lrelu-c3-macs27-sat-fw12-bubbles"),
    pytest.param(ModelConfig("denoise", 1, 4, 1), 2, "real", 0.0, 0.0, 16, False, False, id="relu-c3-macs2-clean"),
    pytest.param(ModelConfig("sr", 2, 4, 1), 2, "sat", 0.3, 0.3, 16, True, True, id="lrelu-c3-macs2-sat-serial-bubbles"),
    pytest.param(ModelConfig("denoise", 1, 4, 1), 1, "real", 0.0, 0.0, 16, False, True, id="relu-c3-macs1-serial-clean"),
    pytest.param(ModelConfig("sr", 2, 4, 1), 2, "real", 0.0, 0.0, 16, False, False, id="lrelu-split-c3-macs2-clean"),
    pytest.param(ModelConfig("sr", 2, 4, 1), 4, "sat", 0.4, 0.4, 16, True, False, id="lrelu-split-c3-macs4-sat-bubbles"),
    pytest.param(ModelConfig("sr", 2, 4, 1), 9, "real", 0.3, 0.5, 12, False, False, id="lrelu-split-c3-macs9-fw12-bubbles"),
]


@pytest.mark.parametrize("cfg,macs,consts,p_bubble,p_stall,fbits,garbage,serial", CASES)
def test_head_unit(request, cfg, macs, consts, p_bubble, p_stall, fbits, garbage, serial):
    split = "split" in request.node.callspec.id
    layer, fmt = compiled_head(cfg, seed=cfg.channels + macs, feature_bits=fbits)
    if consts == "sat":
        layer = saturating(layer, fmt)
    rng = np.random.default_rng(macs * 31 + cfg.colors)
    wins, masks, feats = [], [], []
    counter = golden.SatCounter()
    for pix in make_images(cfg.colors, rng):
        w, mk = windows(pix, rng if garbage else None)
        wins.append(w)
        masks.append(mk)
        f = golden.head(pix, layer, fmt, counter)           # [1, C, H, W]
        feats.append(f[0].permute(1, 2, 0).reshape(-1).numpy())
    win, mask, feat = np.concatenate(wins), np.concatenate(masks), np.concatenate(feats)
    if consts == "sat":   # the crafted constants really reach every bound
        assert counter["head.y"] > 0 and counter["head.out"] > 0
        assert (feat == fmt.hi).any() and (feat == fmt.lo).any() == (layer.act == "lrelu")
    # (the split cases also register the requantiser's DSP outputs once more, as the dataflow network)
    unit = HeadConv(layer, fmt, cfg.colors, macs, serial_req=serial, split_lrelu=split, dsp_reg=split)
    assert unit.split_lrelu == split and unit.dsp_reg == split
    if serial:
        assert unit.resource_estimate()["dsp"] == macs      # no DSP block for the requantiser
    res = run_cocotb(unit, "head", "sim.tb_head", {"win": win, "mask": mask, "feat": feat},
                     {"bits": fmt.bits, "channels": cfg.channels, "p_bubble": p_bubble, "p_stall": p_stall,
                      "seed": 5})
    if p_bubble == 0 and p_stall == 0:
        model = unit.cycle_model(len(win), 1)
        assert abs(res["cycles"] - model) <= 0.02 * model, (res["cycles"], model)


def test_head_rejects_bad_shapes():
    layer, fmt = compiled_head(ModelConfig("sr", 2, 4, 1), seed=0)
    with pytest.raises(ValueError):
        HeadConv(layer, fmt, 1)
    with pytest.raises(ValueError):
        HeadConv(layer, fmt, 3, macs=28)
    with pytest.raises(ValueError, match="serial_req"):
        HeadConv(layer, fmt, 3, macs=9, serial_req=True)    # 3 cycles per channel: too few
    est = HeadConv(layer, fmt, 3).resource_estimate()
    assert set(est) == {"lut", "ff", "bram_bits", "dsp"} and est["bram_bits"] > 0


def test_saturate_bit_tests_equal_the_clamp():
    """hw.head.saturate tests the bits above a format's range instead of comparing (row 39 of
    docs/boards.md): every value of small signed and unsigned words, clamped to format ranges
    (bit tests) and to other ranges (comparisons), equals min(max(v, lo), hi)."""
    from amaranth import Module, Signal, signed, unsigned
    from amaranth.sim import Simulator
    from hw.head import saturate

    ranges = [(-8, 7), (-4, 3), (-32, 31), (-2, 1), (-1, 0), (0, 7), (0, 3), (0, 15), (0, 1), (-5, 9), (3, 12)]
    m, probes = Module(), []
    for shape in (signed(6), unsigned(6), signed(3), signed(4), unsigned(2)):
        for lo, hi in ranges:
            x, o = Signal(shape), Signal(signed(12))
            m.d.comb += o.eq(saturate(x, lo, hi))
            probes.append((x, o, shape, lo, hi))
    bad = []

    async def bench(ctx):
        for x, o, shape, lo, hi in probes:
            vals = range(-(1 << shape.width - 1), 1 << shape.width - 1) if shape.signed else range(1 << shape.width)
            for v in vals:
                ctx.set(x, v)
                if ctx.get(o) != min(max(v, lo), hi):
                    bad.append((shape, lo, hi, v, ctx.get(o)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]


def test_const_mul_plans_are_exact_and_cheaper():
    """hw.head.const_mul (shift-and-add by the cheapest plan of _mul_plan: CSD, factors 2^i +- 1,
    an offset by a power of two) equals x * c for signed and unsigned x at the extremes and at
    random values; LeakyReLU's 6554 takes 4 adders instead of the CSD's 6."""
    import random

    from amaranth import Module, Signal, signed, unsigned
    from amaranth.sim import Simulator
    from hw.head import _mul_plan, const_mul, csd

    assert _mul_plan(6554)[0] == 4 and len(csd(6554)) - 1 == 6
    consts = [6554, 3277, 13107, 45, 3, 12, 1000, 255, 7, 27, 65535, 12345, 1, 2, -3, -6554, 0]
    m, probes = Module(), []
    for c in consts:
        for shape in (signed(18), unsigned(10)):
            x, o = Signal(shape), Signal(signed(40))
            m.d.comb += o.eq(const_mul(x, c))
            probes.append((x, o, shape, c))
    bad, rnd = [], random.Random(1)

    async def bench(ctx):
        for x, o, shape, c in probes:
            lo, hi = (-(1 << shape.width - 1), (1 << shape.width - 1) - 1) if shape.signed else (0, (1 << shape.width) - 1)
            for v in [lo, hi, 0, 1] + [rnd.randint(lo, hi) for _ in range(100)]:
                ctx.set(x, v)
                if ctx.get(o) != v * c:
                    bad.append((c, v, ctx.get(o)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]


def test_gt_const_and_lt_const_equal_the_comparisons():
    """hw.head.gt_const / lt_const (comparisons with constants as bit logic, not carry chains)
    equal v > k and v < k for every value of 1..8-bit words and constants inside, at and beyond
    their range."""
    from amaranth import Module, Signal
    from amaranth.sim import Simulator
    from hw.head import gt_const, lt_const

    m, probes = Module(), []
    for w in (1, 3, 5, 8):
        for k in (0, 1, 2, 3, 5, 7, 8, 12, 16, 31, 200, 255, 256, 300):
            v, gt, lt = Signal(w), Signal(), Signal()
            m.d.comb += [gt.eq(gt_const(v, k)), lt.eq(lt_const(v, k))]
            probes.append((v, gt, lt, w, k))
    bad = []

    async def bench(ctx):
        for v, gt, lt, w, k in probes:
            for x in range(1 << w):
                ctx.set(v, x)
                if (ctx.get(gt), ctx.get(lt)) != (int(x > k), int(x < k)):
                    bad.append((w, k, x))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert not bad, bad[:5]


def test_leaky_relu_product_spans_two_stages(tmp_path):
    """split_lrelu (the dataflow network's head): y * act_mult's CSD pair sums are registered from
    y (one adder), their sum goes into q7 (ECP5 netlist: at most 3 logic levels from a register to
    q7, a carry chain counting as one; the whole product in one cycle has 4 and was 11.7-12.8 ns on
    x4-base, docs/boards.md rows 119-122)."""
    from conftest import port_to_register_depth, synth_cell_counts
    cfg = ModelConfig("sr", 2, 4, 1)
    layer, fmt = compiled_head(cfg, seed=3)
    assert layer.act == "lrelu"
    for split, bound in ((True, 3), (False, 4)):
        d = tmp_path / str(split)
        synth_cell_counts(d, "ecp5", HeadConv(layer, fmt, cfg.colors, 4, split_lrelu=split), None)
        if split:
            assert port_to_register_depth(d, "y6", "am_pair") == 1
            worst = max(port_to_register_depth(d, src, "q7") for src in ("y7a", "am_pair"))
        else:
            worst = port_to_register_depth(d, "y6", "q7")
        assert (worst <= bound) if split else (worst >= bound), (split, worst)


@pytest.mark.parametrize("dsp_reg", [True, False])
def test_requantiser_dsp_outputs_have_registers_of_their_own(tmp_path, dsp_reg):
    """dsp_reg (the dataflow network's head): the requantiser's partial products each go from the
    DSP block into a register whose only load is another register, so the placer can put the
    first beside the block (they went into registers that also feed the sum's adder: DSP ->
    4.1 ns route, x4-base docs/boards.md row 125)."""
    import json
    from collections import defaultdict

    from conftest import synth_cell_counts
    cfg = ModelConfig("sr", 2, 4, 1)
    layer, fmt = compiled_head(cfg, seed=3)
    unit = HeadConv(layer, fmt, cfg.colors, 4, dsp_reg=dsp_reg)
    assert unit.acc_bits > 18                       # the split requantiser: two DSP blocks
    synth_cell_counts(tmp_path, "ecp5", unit, None)
    mod = json.loads((tmp_path / "net.json").read_text())["modules"]["top"]
    loads = defaultdict(list)
    for c in mod["cells"].values():
        for pin, bits in c["connections"].items():
            if c["port_directions"].get(pin) == "input":
                for b in bits:
                    loads[b].append(c)
    dsp_out = [b for c in mod["cells"].values() if c["type"] == "MULT18X18D"
               for pin, bits in c["connections"].items() if pin.startswith("P") for b in bits if not isinstance(b, str)]
    # flip-flops loaded straight from a DSP output whose own output loads exactly one flip-flop
    chained = 0
    for b in dsp_out:
        ffs = [c for c in loads.get(b, []) if c["type"] == "TRELLIS_FF"]
        if len(ffs) == 1 and len(loads[b]) == 1:
            q = ffs[0]["connections"]["Q"][0]
            chained += [c["type"] for c in loads.get(q, [])] == ["TRELLIS_FF"]
    from hw.mul import LO as LO_BITS
    if dsp_reg:
        assert chained >= 2 * 18, chained
    else:
        assert chained <= LO_BITS, chained          # (the sum's low bits are the low product's)


@pytest.mark.parametrize("half_rate", [False, True], ids=["full-cut", "half-rate-cut"])
def test_input_ready_is_the_pipeline_enable_and_one_flag(tmp_path, half_rate):
    """i.ready = adv & last_so, a registered "last step of the last channel" flag: the step and
    channel counters reach the input skid's main register (cut_head in the network: its 225-bit
    payload's clock enables) only through registers; their compares in front were x4-base's paths
    over 8 ns (docs/boards.md row 127: cut_head o__payload CE, 10.7 ns). With the half-rate cut
    (the network's, hw/fold.head_cut_half_rate) the head's enable does not reach the payload at all
    (row 129's critical path: head o.valid -> enable -> cut_head's clock enables, 12.3 ns)."""
    from amaranth import Module
    from amaranth.lib import stream, wiring
    from conftest import port_to_register_depth, synth_cell_counts
    from hw.skid import SkidBuffer
    cfg = ModelConfig("sr", 2, 16, 1)
    layer, fmt = compiled_head(cfg, seed=3)
    head = HeadConv(layer, fmt, cfg.colors, 4)
    assert head.steps > 1 and head.channels > 1

    class CutHead(wiring.Component):
        def __init__(self):
            self.head = head
            super().__init__({"i": wiring.In(stream.Signature(head.i.payload.shape())),
                              "o": wiring.Out(stream.Signature(head.o.payload.shape()))})

        def elaborate(self, platform):
            m = Module()
            m.submodules.cut = cut = SkidBuffer(head.i.payload.shape(), half_rate=half_rate)
            m.submodules.head = self.head
            wiring.connect(m, wiring.flipped(self.i), cut.i)
            wiring.connect(m, cut.o, self.head.i)
            wiring.connect(m, self.head.o, wiring.flipped(self.o))
            return m
    synth_cell_counts(tmp_path, "ecp5", CutHead(), None)
    if half_rate:
        assert port_to_register_depth(tmp_path, "o__ready", "cut.o__payload") == -1
        assert port_to_register_depth(tmp_path, "o__ready", "cut.rep_main_valid") >= 1
    else:
        assert port_to_register_depth(tmp_path, "o__ready", "cut.o__payload") >= 1
    for counter in ("head.s_cnt", "head.o_cnt"):
        assert port_to_register_depth(tmp_path, counter, "cut.o__payload") == -1, counter


def test_operand_select_is_split_over_two_stages(tmp_path):
    """The operand select (27 bytes for RGB, macs = 1) runs in two stages: groups by the step
    counter's low bits into registers, then the group: 3 logic levels each, no path from the
    window or the counter to the operand register p1 (6 levels before: x4-base docs/boards.md row
    135, the head's p1_0, 46 endpoints over 8 ns, 10.0 ns)."""
    from conftest import port_to_register_depth, synth_cell_counts
    cfg = ModelConfig("sr", 4, 16, 1)
    layer, fmt = compiled_head(cfg, seed=3)
    head = HeadConv(layer, fmt, cfg.colors, 1)
    assert head.steps == 27
    synth_cell_counts(tmp_path, "ecp5", head, None)
    for src in ("s_cnt", "i__payload"):
        assert port_to_register_depth(tmp_path, src, "p1_") == -1, src
        assert 0 < port_to_register_depth(tmp_path, src, "op0_g") <= 3, src
    for src in ("s_hi0", "op0_g"):
        assert 0 < port_to_register_depth(tmp_path, src, "p1_") <= 3, src


def test_pipeline_enable_is_split_in_three_copies(tmp_path):
    """The pipeline enable (~o.valid | o.ready) comes from three kept copies of the output's valid,
    one for the front (counters, operands, products), one for the tree and accumulator, one for the
    requantiser and the output: each copy reaches its own stages only (one enable for the whole
    head: x4-base docs/boards.md row 139's critical path, 12.1 ns, 10.9 of it routing)."""
    from conftest import port_to_register_depth, synth_cell_counts
    cfg = ModelConfig("sr", 4, 16, 1)
    layer, fmt = compiled_head(cfg, seed=3)
    synth_cell_counts(tmp_path, "ecp5", HeadConv(layer, fmt, cfg.colors, 1), None)
    front, middle, back = (f"rep_head_ov_{k}" for k in range(3))
    assert port_to_register_depth(tmp_path, front, "s_cnt") >= 1
    assert port_to_register_depth(tmp_path, middle, "acc[") >= 1
    assert port_to_register_depth(tmp_path, back, "o__payload") >= 1
    for src, dst in ((front, "acc["), (front, "o__payload"), (middle, "s_cnt"), (middle, "o__payload"),
                     (back, "s_cnt"), (back, "acc[")):
        assert port_to_register_depth(tmp_path, src, dst) == -1, (src, dst)
