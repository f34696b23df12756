"""Training: the recipes parse and train the named presets; a short run on the shared training
set writes checkpoints and the learning-curve log, and resuming from a checkpoint reproduces an
uninterrupted run exactly (model weights, optimiser and patch-sampler state are all restored)."""
import json

import pytest
import torch

from conftest import ROOT, need_dataset
from sw.config import PRESETS, ModelConfig
import sw.train as T
from sw.train import Recipe, train


def test_recipes_parse_and_train_the_presets():
    recipes = sorted((ROOT / "recipes").glob("*.yaml"))
    assert recipes
    for path in recipes:
        r = Recipe.from_yaml(path)
        assert r.name == path.stem
        assert r.name in PRESETS, f"{path.name}: no preset of that name in sw/config.py"
        assert r.model == PRESETS[r.name], (path.name, r.model, PRESETS[r.name])
        assert r.iterations > 0 and r.batch > 0 and r.patch > 0


def _tiny_recipe(task: str, **kw) -> Recipe:
    cfg = ModelConfig(task, 2 if task == "sr" else 1, 4, 1, colors=1 if task == "jpeg" else 3)
    return Recipe(name=f"t-{task}", model=cfg, iterations=4, batch=2, patch=12, ckpt_every=2, log_every=2,
                  train_sets=["T91"], val_limit=1, val_crop=32, **kw)


@pytest.mark.parametrize("task", ["sr", "denoise", "jpeg"])
def test_train_resume_reproduces_an_uninterrupted_run(tmp_path, task, monkeypatch):
    need_dataset("T91")
    need_dataset(T.DEFAULT_VAL[task])
    r = _tiny_recipe(task)
    full = train(r, tmp_path / "full", progress=False)

    # the same run, killed while drawing the batch of iteration 3 (after the checkpoint at 2)
    real, calls = T.PatchSampler.batch, {"n": 0}

    def dying(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(T.PatchSampler, "batch", dying)
    with pytest.raises(KeyboardInterrupt):
        train(r, tmp_path / "part", progress=False)
    monkeypatch.setattr(T.PatchSampler, "batch", real)
    assert torch.load(tmp_path / "part" / "last.pt", weights_only=True)["iteration"] == 2
    resumed = train(r, tmp_path / "part", progress=False)
    a = torch.load(full, weights_only=True)
    b = torch.load(resumed, weights_only=True)
    assert a["iteration"] == b["iteration"] == 4
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    log = [json.loads(l) for l in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert [x["iteration"] for x in log if "loss" in x] == [2, 4]
    val = [x["val_psnr"] for x in log if "val_psnr" in x]
    assert len(val) == 2 and all(v > 5 for v in val), log            # the learning curve at each checkpoint
