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
    # the same integer program; the recorded float calibration statistics may differ in their last
    # bits on another CPU (float32 sums), and so may the content hash, which covers them
    assert again.differences(prog) == [], f"{name}: program.safetensors is not the compilation of model.pt"


@pytest.mark.parametrize("name", MODELS)
def test_shipped_quality_rows(name):
    rows = json.loads((MODELS_DIR / name / "eval.json").read_text())
    key = lambda r: (r["dataset"], r.get("sigma"), r.get("quality"))  # noqa: E731
    fl = {key(r): r for r in rows if r["backend"] == "float"}
    gd = {key(r): r for r in rows if r["backend"] == "golden"}
    assert fl and fl.keys() == gd.keys()
    for k in fl:
        assert abs(gd[k]["psnr"] - fl[k]["psnr"]) <= 0.05, (name, k, gd[k]["psnr"], fl[k]["psnr"])


#: issue 7's quality targets for this round: (model, dataset, sigma, quality) -> integer PSNR (dB)
TARGETS = {("x2-tiny", "Set5", None, None): 35.5, ("x2-base", "Set5", None, None): 36.5,
           ("x4-base", "Set5", None, None): 30.3, ("dn-base", "CBSD68", 25, None): 29.5,
           ("jpeg-base", "LIVE1", None, 10): 28.0}


@pytest.mark.parametrize("target", sorted(TARGETS, key=str), ids=lambda t: f"{t[0]}-{t[1]}")
def test_committed_rows_meet_the_targets(target):
    """The integer (hardware) rows committed in models/<name>/eval.json meet the targets."""
    name, dataset, sigma, quality = target
    rows = json.loads((MODELS_DIR / name / "eval.json").read_text())
    got = [r["psnr"] for r in rows if r["backend"] == "golden" and r["dataset"] == dataset
           and r.get("sigma") == sigma and r.get("quality") == quality]
    assert len(got) == 1, (target, got)
    assert got[0] >= TARGETS[target], (target, got[0])
