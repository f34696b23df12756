"""The row-serial schedule (hw/rowserial/schedule.py): run on its memory rings it equals the golden
model bit for bit, its ring depths are the smallest that work, and x2-tiny fits the UP5K's memories."""
import numpy as np
import pytest
import torch

from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig
from sw.program import Program

from conftest import ROOT, random_network
from hw.rowserial import schedule as S

CASES = [
    ("sr2", ModelConfig("sr", 2, 4, 2)),
    ("sr3", ModelConfig("sr", 3, 4, 1)),
    ("dn", ModelConfig("denoise", 1, 4, 2)),
    ("jpeg", ModelConfig("jpeg", 1, 4, 1, colors=1)),
    ("dn-n0", ModelConfig("denoise", 1, 2, 0)),
]
SIZES = [(1, 1), (1, 6), (2, 3), (3, 1), (7, 5), (14, 9)]


def _program(cfg, seed=11):
    return compile_model(random_network(cfg, seed), [torch.rand(1, cfg.colors, 16, 16)])


def _image(rng, h, w, colors):
    img = rng.integers(0, 256, (h, w, colors), dtype=np.uint8)
    return img[:, :, 0] if colors == 1 else img


@pytest.mark.parametrize("name,cfg", CASES, ids=[c[0] for c in CASES])
def test_schedule_on_rings_is_bit_exact(name, cfg, rng):
    prog = _program(cfg)
    n, r = S._shape(prog)
    for h, w in SIZES:
        S.check_order(n, r, h)
        img = _image(rng, h, w, cfg.colors)
        np.testing.assert_array_equal(S.run(prog, img), golden.run(prog, img), err_msg=f"{h}x{w}")


def test_saturating_features_stay_bit_exact(rng):
    # constants that saturate y both ways and push the residual sum past the feature range
    cfg = ModelConfig("sr", 2, 4, 2)
    prog = _program(cfg)
    fmt = prog.fmt
    for layer in prog.binary_layers[:2]:
        layer.bias = layer.bias.copy()
        layer.bias[0] = (fmt.y_hi + 5) << layer.shift
        layer.bias[1] = (fmt.y_lo - 5) << layer.shift
    counter = golden.SatCounter()
    img = _image(rng, 9, 8, 3)
    ref = golden.run(prog, img, counter)
    assert counter["body.0.y"] > 0 and counter["body.1.out"] > 0, dict(counter)
    np.testing.assert_array_equal(S.run(prog, img), ref)


def test_shipped_x2_tiny_at_the_full_stripe_width(rng):
    prog = Program.load(ROOT / "models/x2-tiny/program.safetensors")
    img = _image(rng, 12, 64, 3)
    np.testing.assert_array_equal(S.run(prog, img), golden.run(prog, img))


@pytest.mark.parametrize("name,cfg", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_ring_depths_are_the_smallest_that_work(name, cfg, rng):
    prog = _program(cfg)
    n, r = S._shape(prog)
    depths = S.ring_depths(n, r)
    img = _image(rng, 3 * (n + 4), 4, cfg.colors)
    S.run(prog, img, depths)
    for ring in depths:
        short = dict(depths, **{ring: depths[ring] - 1}) if depths[ring] > 1 else None
        if short is None:
            continue
        with pytest.raises(S.ScheduleError, match=f"ring {ring} "):
            S.run(prog, img, short)


def test_x2_tiny_fits_the_up5k_memories():
    prog = Program.load(ROOT / "models/x2-tiny/program.safetensors")
    b = S.budget(prog, 64)
    assert b["fits"], b
    # 10 LR feature rows and 5 HR rows of 64 (128) pixels x 32 channels: 20,480 words each
    assert b["spram_words"]["fp"] == 10 * 64 * 32 and b["spram_words"]["hrfp"] == 5 * 128 * 32
    assert b["ebr_rings"] <= 30 and b["spram_total"] <= 4 * 16384


def test_cycle_model_counts_every_job_once():
    prog = Program.load(ROOT / "models/x2-tiny/program.safetensors")
    n, r = S._shape(prog)
    jobs = [j for t in range(S.periods(n, r, 10)) for j in S.period_jobs(t, n, r, 10)]
    kinds = {k: sum(j.kind == k for j in jobs) for k in ("head", "bin", "up", "hr", "tail")}
    assert kinds == {"head": 10, "bin": 10 * n, "up": 10, "hr": 20, "tail": 20}
    assert S.cycle_model(prog, 8, 10) == sum(S.job_cycles(j, prog, 8) for j in jobs)


def test_x4_is_refused():
    prog = _program(ModelConfig("sr", 4, 2, 1))
    with pytest.raises(S.ScheduleError, match="one up-sampling unit"):
        S.run(prog, np.zeros((2, 2, 3), np.uint8))
