"""The shipped models (models/<name>/): each loads without executing code, has the shape of the
preset of its name, its program is the compilation of its float checkpoint (same calibration as
`bbcu compile`), its card exists, and its committed quality rows (eval.json, the rows of
docs/results.md) have the integer program within 0.05 dB of float (issue 7's target)."""
import json

import pytest
import torch

from conftest import need_dataset
from sw.calibration import calibration_images
from sw.compiler import compile_model
from sw.config import PRESETS, ModelConfig
from sw.model import load_checkpoint
from sw.models import MODELS_DIR, shipped_models

MODELS = shipped_models()


def test_there_are_shipped_models():
    assert "x2-tiny" in MODELS


@pytest.mark.parametrize("name", MODELS)
def test_shipped_model(name):
    d = MODELS_DIR / name
    obj = torch.load(d / "model.pt", weights_only=True)
    assert "optimizer" not in obj                      # weights and config only
    cfg = ModelConfig.from_dict(obj["config"])
    assert cfg == PRESETS[name], (name, cfg)
    assert (d / "README.md").is_file()
    from sw.program import Program

    prog = Program.load(d / "program.safetensors")
    assert prog.config == cfg
    need_dataset("T91")
    model, _ = load_checkpoint(d / "model.pt")
    again = compile_model(model.eval(), calibration_images(cfg))
    assert again.content_hash == prog.content_hash, f"{name}: program.safetensors is not the compilation of model.pt"


@pytest.mark.parametrize("name", MODELS)
def test_shipped_quality_rows(name):
    rows = json.loads((MODELS_DIR / name / "eval.json").read_text())
    key = lambda r: (r["dataset"], r.get("sigma"), r.get("quality"))  # noqa: E731
    fl = {key(r): r for r in rows if r["backend"] == "float"}
    gd = {key(r): r for r in rows if r["backend"] == "golden"}
    assert fl and fl.keys() == gd.keys()
    for k in fl:
        assert abs(gd[k]["psnr"] - fl[k]["psnr"]) <= 0.05, (name, k, gd[k]["psnr"], fl[k]["psnr"])
