"""TailRowEngine (hw/rowserial/tail_engine.py) in cocotb (Icarus) inside the row-serial memory
harness, against golden.tail_conv / tail_skip / tail_output on the row: every output pixel
compared. Cases: SR x2 (bilinear skip, both vertical phases, clamped rows and columns at the
image borders), identity skip (denoise, grayscale), top/bottom rows, width 1 and the full stripe,
output back-pressure, pixels clamped at 0 and 255."""
import numpy as np
import pytest
import torch
from amaranth import Const

from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig
from sw.program import Program

from conftest import ROOT, random_network
from hw.rowserial.tail_engine import TailRowEngine
from sim.rowserial_harness import RowHarness
from sim.runner import run_cocotb

RAM_AW = 14


def _program(cfg, seed=11):
    return compile_model(random_network(cfg, seed), [torch.rand(1, cfg.colors, 16, 16)])


def _run(prog, lr_width, h, lr_height, seed, p_stall=0.0, clamp=False, serial=False):
    rng = np.random.default_rng(seed)
    fmt, C, colors = prog.fmt, prog.config.channels, prog.config.colors
    t = prog.tail
    r = t.r if t.skip == "bilinear" else 1
    width, height = lr_width * r, lr_height * r
    pix = torch.from_numpy(rng.integers(0, 256, (1, colors, lr_height, lr_width)))
    feat = torch.from_numpy(rng.integers(fmt.lo // 4, fmt.hi // 4, (1, C, 3, width)))
    if clamp:    # extreme features, and biases that push colours 0 / 1 past 255 / below 0
        feat = torch.from_numpy(rng.choice([fmt.lo, fmt.hi], (1, C, 3, width)))
        t.bias = t.bias.copy()
        t.bias[0] = 200 << t.shift
        t.bias[1] = -200 << t.shift
    top, bot = h > 0, h + 1 < height
    rows = [k for k, ok in ((0, top), (1, True), (2, bot)) if ok]
    k = rows.index(1)
    acc = golden.tail_conv(feat[:, :, rows], t)[:, :, k:k + 1]
    skip = golden.tail_skip(pix, t)[:, :, h:h + 1]
    expected = golden.tail_output(acc, skip, t)[0, :, 0].numpy()        # colors, width
    if clamp:
        assert (expected == 0).any() and (expected == 255).any()
    # RAM: feature rows at scrambled bases, the LR pixel rows after them
    ram = np.zeros(1 << RAM_AW, dtype=np.int64)
    fb = [11, 11 + 2 * width * C + 5, 11 + width * C + 2]
    for q in range(3):
        ram[fb[q]:fb[q] + width * C] = feat[0, :, q].T.reshape(-1) & 0xFFFF
    pb0 = 11 + 3 * width * C + 9
    pstride = lr_width * colors + 1
    for q in range(lr_height):
        ram[pb0 + q * pstride: pb0 + q * pstride + lr_width * colors] = pix[0, :, q].T.reshape(-1)
    if r > 1:
        off = golden.bilinear_weights_1d(r)[h % r][0]
        y = h // r
        prow = [min(max(y + off + a, 0), lr_height - 1) for a in range(2)]
    else:
        prow = [h, h]
    eng = TailRowEngine(prog, 64, RAM_AW, serial_req=serial)
    job = Const.cast(eng.layout.const({
        "width": width, "lr_width": lr_width, "top": int(top), "bot": int(bot), "feat": fb,
        "pix": [pb0 + q * pstride for q in prow], "phase": h % r})).value
    dut = RowHarness(eng, RAM_AW, 4, [int(v) for v in ram], None)
    res = run_cocotb(dut, f"tailrow_{C}_{colors}_{r}{'_s' if serial else ''}", "sim.tb_row_engine", {},
                     {"jobs": [hex(job)], "timeout": 400000, "ram_words": 0, "stream": True,
                      "p_stall": p_stall, "seed": seed})
    got = np.asarray(res["out"]).reshape(-1, colors).T          # (the engine sends bytes, colour 0 first)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    bad = np.argwhere(got != expected)
    assert not len(bad), f"{len(bad)} pixel values differ, first (colour, x) {tuple(bad[0])}: got {got[tuple(bad[0])]} expected {expected[tuple(bad[0])]}"
    return res["cycles"][0], eng.cycles_per_job(width)


SR = ModelConfig("sr", 2, 4, 2)


@pytest.mark.parametrize("lr_width,h,lr_height,serial", [(3, 0, 2, False), (3, 1, 2, False), (2, 2, 3, False),
                                                          (1, 3, 2, False), (4, 5, 3, False), (3, 1, 2, True),
                                                          (4, 5, 3, True)])
def test_sr_tail_row(lr_width, h, lr_height, serial):
    """serial: TailConv's serial requantiser (the exact cycle model holds for it too)."""
    got, model = _run(_program(SR), lr_width, h, lr_height, seed=lr_width + h, serial=serial)
    assert got == model, (got, model)


def test_sr_tail_row_under_back_pressure_and_clamping():
    got, model = _run(_program(SR, 5), 4, 3, 3, seed=9, p_stall=0.5, clamp=True)
    assert got >= model


@pytest.mark.parametrize("serial", [False, True], ids=["dsp", "serial"])
@pytest.mark.parametrize("cfg", [ModelConfig("denoise", 1, 4, 1), ModelConfig("jpeg", 1, 4, 1, colors=1)],
                         ids=["denoise", "jpeg"])
def test_identity_skip_tail_row(cfg, serial):
    got, model = _run(_program(cfg), 5, 1, 3, seed=2, serial=serial)
    assert got == model, (got, model)


@pytest.mark.parametrize("serial", [False, True], ids=["dsp", "serial"])
def test_shipped_x2_tiny_at_the_full_stripe_width(serial):
    """serial: as on the UP5K (TailRowEngine's default for x2-tiny)."""
    prog = Program.load(ROOT / "models/x2-tiny/program.safetensors")
    got, model = _run(prog, 64, 7, 5, seed=6, serial=serial)
    assert got == model, (got, model)
