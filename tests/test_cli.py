"""The command line: happy paths and clean failures (one-line message, non-zero exit)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from sw.config import ModelConfig
from sw.model import save_checkpoint

from conftest import ROOT, random_network


def bbcu(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "sw.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    save_checkpoint(d / "model.pt", random_network(ModelConfig("sr", 2, 8, 2)))
    r = bbcu("compile", str(d / "model.pt"), "--json", "--calib-images", "2")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert len(info["hash"]) == 64
    return d


def test_restore_golden_and_float(tiny_model, tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (13, 17, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "in.png")
    for backend in ("golden", "float"):
        out = tmp_path / f"out_{backend}.png"
        r = bbcu("restore", str(tmp_path / "in.png"), "-o", str(out), "--model", str(tiny_model), "--backend", backend)
        assert r.returncode == 0, r.stderr
        assert np.asarray(Image.open(out)).shape == (26, 34, 3)


def test_restore_eval_prints_psnr(tiny_model, tmp_path):
    r = bbcu("restore", "--sample", "astronaut", "-o", str(tmp_path / "a.png"), "--model", str(tiny_model), "--eval",
             "--json", "--backend", "golden")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    row, summ = res["images"][0], res["summary"]
    assert row["psnr"] > 15 and row["baseline_psnr"] > 25 and 0 < row["ssim"] <= 1
    assert summ["psnr"] == row["psnr"] and summ["baseline_ssim"] == row["baseline_ssim"]
    assert summ["bytes_out"] is None and summ["wall_s"] > 0            # software backend: no link figures
    assert r.stderr == ""                                              # no progress bar when not a TTY


def test_restore_with_reference_prints_summary(tiny_model, tmp_path):
    from sw.data import imresize

    hr = np.random.default_rng(1).integers(0, 256, (20, 26, 3), dtype=np.uint8)
    Image.fromarray(hr).save(tmp_path / "hr.png")
    Image.fromarray(imresize(hr, 0.5)).save(tmp_path / "lr.png")
    base = ["restore", str(tmp_path / "lr.png"), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model),
            "--backend", "golden", "--ref", str(tmp_path / "hr.png")]
    r = bbcu(*base, "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    row = res["images"][0]
    assert row["ref"].endswith("hr.png") and "baseline_psnr" not in row
    from sw.data import psnr
    want = psnr(np.asarray(Image.open(tmp_path / "o.png")), hr, border=2)   # SR: Y-PSNR, border = scale
    assert row["psnr"] == pytest.approx(want, abs=1e-3) and res["summary"]["psnr"] == row["psnr"]
    assert 0 < res["summary"]["ssim"] <= 1
    r = bbcu(*base, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "summary: 1 image(s)" in r.stdout and "quality: PSNR" in r.stdout


@pytest.mark.parametrize("case,msg", [
    ("size", "reference is 25x20, but the restored lr.png will be 26x20"),
    ("both", "not both"),
])
def test_reference_errors(tiny_model, tmp_path, case, msg):
    Image.fromarray(np.zeros((10, 13, 3), np.uint8)).save(tmp_path / "lr.png")
    Image.fromarray(np.zeros((20, 25, 3), np.uint8)).save(tmp_path / "hr.png")
    extra = ["--eval"] if case == "both" else []
    r = bbcu("restore", str(tmp_path / "lr.png"), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model),
             "--backend", "golden", "--ref", str(tmp_path / "hr.png"), *extra)
    assert r.returncode != 0 and msg in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.png").exists()


def test_one_pixel_image_is_restored_bit_exact(tiny_model, tmp_path):
    from sw import golden
    from sw.program import Program

    img = np.array([[[200, 17, 90]]], np.uint8)
    Image.fromarray(img).save(tmp_path / "one.png")
    r = bbcu("restore", str(tmp_path / "one.png"), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model),
             "--backend", "golden")
    assert r.returncode == 0, r.stderr
    prog = Program.load(tiny_model / "program.safetensors")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")), golden.run(prog, img))


def test_progress_bar_goes_to_stderr(tiny_model, tmp_path, capsys):
    from sw.restore import restore_files

    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(tmp_path / "a.png")
    restore_files([str(tmp_path / "a.png")], tmp_path / "o.png", str(tiny_model), "golden", progress=True)
    out, err = capsys.readouterr()
    assert out == "" and "restore (golden)" in err and "100%" in err and "px/s" in err and "stripes 1/1" in err


@pytest.mark.parametrize("args,msg", [
    (["restore", "missing.png", "-o", "x.png", "--model", "MODEL"], "no such file"),
    (["restore", "--sample", "astronaut", "-o", "x.png", "--model", "nonexistent-model"], "unknown model"),
    (["restore", "-o", "x.png", "--model", "MODEL"], "give INPUT files"),
    (["compile", "pyproject.toml"], "not a loadable"),
    (["build", "--board", "ulx3s-85f", "--placer", "annealing"], "Invalid value for '--placer'"),
    (["build", "--board", "ulx3s-85f", "--router", "router3"], "Invalid value for '--router'"),
])
def test_clean_errors(tiny_model, tmp_path, args, msg):
    args = [str(tiny_model) if a == "MODEL" else a for a in args]
    r = bbcu(*args, cwd=tmp_path if "missing.png" in args else ROOT)
    assert r.returncode != 0
    assert msg in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("content,args,msg", [
    (b"", [], "empty file (0 bytes)"),
    ("big", ["--max-pixels", "100"], "image too large (20x10 = 200 pixels; the limit is 100 pixels"),
], ids=["zero-bytes", "too-many-pixels"])
def test_input_refused_with_one_line(tiny_model, tmp_path, content, args, msg):
    if content == "big":
        Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(tmp_path / "in.png")
    else:
        (tmp_path / "in.png").write_bytes(content)
    r = bbcu("restore", str(tmp_path / "in.png"), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model),
             "--backend", "golden", *args)
    assert r.returncode != 0 and msg in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_unreadable_image(tiny_model, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    r = bbcu("restore", str(tmp_path / "bad.png"), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model))
    assert r.returncode != 0 and "cannot read image" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.png").exists()
