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
    row = json.loads(r.stdout)[0]
    assert row["psnr"] > 15 and row["baseline_psnr"] > 25


@pytest.mark.parametrize("args,msg", [
    (["restore", "missing.png", "-o", "x.png", "--model", "MODEL"], "no such file"),
    (["restore", "--sample", "astronaut", "-o", "x.png", "--model", "nonexistent-model"], "unknown model"),
    (["restore", "-o", "x.png", "--model", "MODEL"], "give INPUT files"),
    (["compile", "pyproject.toml"], "not a loadable"),
])
def test_clean_errors(tiny_model, tmp_path, args, msg):
    args = [str(tiny_model) if a == "MODEL" else a for a in args]
    r = bbcu(*args, cwd=tmp_path if "missing.png" in args else ROOT)
    assert r.returncode != 0
    assert msg in r.stderr and "Traceback" not in r.stderr


def test_unreadable_image(tiny_model, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    r = bbcu("restore", str(tmp_path / "bad.png"), "-o", str(tmp_path / "o.png"), "--model", str(tiny_model))
    assert r.returncode != 0 and "cannot read image" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.png").exists()
