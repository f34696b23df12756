"""BinRowEngine (hw/rowserial/bin_engine.py) in cocotb (Icarus) inside a memory harness (lib.memory
RAM, bits rings with per-bit write enables), against the golden row job
(hw.rowserial.schedule.binary_row): every RAM word and every bits word compared after the job.
Cases: BBCU-B in place (interior, top and bottom rows, width 1 and the full stripe), the BBCU-U,
the HR layer with no binary layer after it, saturation both ways, thresholds tied with results."""
import numpy as np
import pytest
import torch
from amaranth import Const

from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig
from sw.program import Program

from conftest import ROOT, random_network
from hw.rowserial import memmap
from hw.rowserial.bin_engine import BinRowEngine
from hw.rowserial.schedule import binary_row
from sim.rowserial_harness import RowHarness
from sim.runner import run_cocotb

RAM_AW, BITS_AW = 13, 9


def _pack_bits(band):
    """[1, C, h, W] 0/1 -> per pixel words (channel c at bit c): [h, W]."""
    b = band[0].numpy().astype(np.int64)
    return (b << np.arange(b.shape[0])[:, None, None]).sum(0)


def _program(cfg, seed):
    return compile_model(random_network(cfg, seed), [torch.rand(1, cfg.colors, 16, 16)])


def _case(prog, index, width, top, bot, rng, saturate=False, ties=True):
    """RAM/bits images, the job word and the expected images for one row job of layer `index`."""
    layers, fmt, C = prog.binary_layers, prog.fmt, prog.config.channels
    layer = layers[index]
    r = layer.r
    if saturate:
        layer.bias = layer.bias.copy()
        layer.bias[0] = (fmt.y_hi + 5) << layer.shift
        layer.bias[1 % layer.cout] = (fmt.y_lo - 5) << layer.shift
    nxt = index + 1 < len(layers)
    rows = [k for k, ok in ((0, top), (1, True), (2, bot)) if ok]
    bits = torch.from_numpy(rng.integers(0, 2, (1, C, 3, width)).astype(np.uint8))
    band = bits[:, :, rows]
    lo, hi = (fmt.lo // 2, fmt.hi // 2) if not saturate else (fmt.lo, fmt.hi)
    residual = torch.from_numpy(rng.integers(lo, hi + 1, (1, C, 1, width)))
    if saturate:
        residual[0, :, 0, ::2] = fmt.hi
        residual[0, :, 0, 1::2] = fmt.lo
    out, _ = binary_row(layer, fmt, band, rows.index(1), residual, None)
    if nxt and ties:
        # thresholds equal to a result of each channel: ties at the comparator
        nl = layers[index + 1]
        nl.thresh = np.array([int(out[0, c, 0, (c * 7) % out.shape[3]]) for c in range(C)], dtype=np.int64)
    out, obits = binary_row(layer, fmt, band, rows.index(1), residual, layers[index + 1].thresh if nxt else None)
    if saturate:
        assert (out == fmt.hi).any() and (out == fmt.lo).any()
    pl = memmap.param_layout(prog)
    block = memmap.param_block(prog, index, pl)
    # RAM: parameter block at PARAM, residual row at RES, output rows at OUT + i*ROWSTRIDE (or in place)
    PARAM, RES = 16, 16 + len(block) + 5
    rowstride = r * width * C + 3
    OUT = RES if r == 1 else RES + width * C + 7
    ram = np.zeros(1 << RAM_AW, dtype=np.int64)
    ram[PARAM:PARAM + len(block)] = block
    ram[RES:RES + width * C] = residual[0, :, 0].T.reshape(-1) & 0xFFFF
    ram_exp = ram.copy()
    o = out[0].numpy()                      # C, r, r*W
    for i in range(r):
        base = OUT + i * rowstride
        ram_exp[base:base + r * width * C] = o[:, i].T.reshape(-1) & 0xFFFF
    assert OUT + (r - 1) * rowstride + r * width * C <= len(ram)
    # bits: the three input rows in scrambled slots; output rows at DST + i*DSTSTRIDE
    src = np.zeros(1 << BITS_AW, dtype=np.int64)
    slots = [2, 0, 1]
    words = _pack_bits(bits)
    for k in range(3):
        src[slots[k] * width: (slots[k] + 1) * width] = words[k]
    DST, dstride = 5, r * width + 2
    dst = rng.integers(0, 1 << C, 1 << BITS_AW)
    dst_exp = dst.copy()
    if nxt:
        ob = _pack_bits(obits)
        for i in range(r):
            dst_exp[DST + i * dstride: DST + i * dstride + r * width] = ob[i]
    job = {"width": width, "top": int(top), "bot": int(bot), "src": [slots[0] * width, slots[1] * width, slots[2] * width],
           "res": RES, "out": [OUT + i * rowstride for i in range(r)], "dst": [DST + i * dstride for i in range(r)],
           "dst_en": int(nxt), "up": int(r > 1), "param": PARAM, "sa": layer.shift, "ss": layer.slope_shift}
    return ram, src, dst, job, ram_exp, dst_exp


def _job_word(engine, job):
    r = engine.r
    job = dict(job, out=(job["out"] + [0] * r)[:r], dst=(job["dst"] + [0] * r)[:r])
    return Const.cast(engine.layout.const(job)).value


def _run(prog, index, width, top, bot, seed, **kw):
    rng = np.random.default_rng(seed)
    ram, src, dst, job, ram_exp, dst_exp = _case(prog, index, width, top, bot, rng, **kw)
    eng = BinRowEngine(prog, max_width=64, ram_aw=RAM_AW, bits_aw=BITS_AW)
    dut = RowHarness(eng, RAM_AW, BITS_AW, [int(v) for v in ram], [int(v) for v in dst], [int(v) for v in src])
    res = run_cocotb(dut, f"binrow_{prog.config.channels}", "sim.tb_row_engine", {},
                     {"jobs": [hex(_job_word(eng, job))], "timeout": 200000,
                      "ram_words": len(ram), "dst_words": len(dst)})
    got_ram, got_dst = np.asarray(res["ram"]), np.asarray(res["dst"])
    bad = np.flatnonzero(got_ram != ram_exp)
    assert not len(bad), f"{len(bad)} RAM words differ, first at {bad[0]}: got {got_ram[bad[0]]} expected {ram_exp[bad[0]]}"
    bad = np.flatnonzero(got_dst != dst_exp)
    assert not len(bad), f"{len(bad)} bits words differ, first at {bad[0]}: got {got_dst[bad[0]]:x} expected {dst_exp[bad[0]]:x}"
    up = job["up"] == 1
    assert res["cycles"] == [eng.cycles_per_job(width, up)], (res["cycles"], eng.cycles_per_job(width, up))


SR = ModelConfig("sr", 2, 4, 2)


@pytest.mark.parametrize("index,width,top,bot", [(0, 5, True, True), (1, 1, False, True), (0, 3, True, False),
                                                 (1, 2, False, False)])
def test_bbcu_b_row_in_place(index, width, top, bot):
    _run(_program(SR, 11), index, width, top, bot, seed=index * 10 + width)


def test_bbcu_u_row_writes_two_hr_rows():
    _run(_program(SR, 11), 2, 4, True, True, seed=3)


def test_hr_layer_row_without_a_next_layer_writes_no_bits():
    _run(_program(SR, 11), 3, 6, True, False, seed=4)


def test_saturation_both_ways():
    _run(_program(SR, 7), 1, 6, True, True, seed=5, saturate=True)


def test_shipped_x2_tiny_at_the_full_stripe_width():
    prog = Program.load(ROOT / "models/x2-tiny/program.safetensors")
    _run(prog, 4, 64, True, True, seed=6)


def test_shipped_x2_tiny_bbcu_u_row():
    prog = Program.load(ROOT / "models/x2-tiny/program.safetensors")
    _run(prog, 8, 12, False, True, seed=8)
