"""Training of the float BBCU networks: L1 loss, Adam, cosine LR, patch sampling with
flips/rotations, checkpoints with resume, deterministic seeds, all CPU threads (or a GPU)."""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from . import data
from .config import ConfigError, ModelConfig
from .model import BBCUNet, save_checkpoint


@dataclass
class Recipe:
    name: str
    model: ModelConfig
    iterations: int = 2000
    batch: int = 16
    patch: int = 48                  # LR patch size (SR) / patch size (denoise, jpeg)
    lr: float = 5e-4
    lr_min: float = 1e-6
    seed: int = 0
    train_sets: list = field(default_factory=lambda: ["T91", "BSD200"])
    sigma_range: tuple = (0.0, 75.0)      # denoise
    quality_range: tuple = (10, 50)       # jpeg
    ckpt_every: int = 250
    log_every: int = 50
    # learning curve: float-model PSNR on a held-out set at every checkpoint (never trained on)
    val_set: str | None = None            # default: Set5 (SR), CBSD68 (denoise), LIVE1 (jpeg)
    val_limit: int = 5                    # images
    val_crop: int = 128                   # centre crop of each (keeps CPU cost small)
    val_sigma: float = 25.0
    val_quality: int = 10

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Recipe":
        d = yaml.safe_load(Path(path).read_text())
        if not isinstance(d, dict) or "model" not in d:
            raise ConfigError(f"{path}: a recipe needs a 'model' mapping")
        d = dict(d)
        d.setdefault("name", Path(path).stem)
        d["model"] = ModelConfig.from_dict(d["model"])
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"{path}: unknown recipe keys {sorted(unknown)}")
        return cls(**d)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


class PatchSampler:
    """Random training patches (input, target) as float tensors in 0..1."""

    def __init__(self, recipe: Recipe, rng: np.random.Generator):
        self.r = recipe
        self.rng = rng
        cfg = recipe.model
        root = data.datasets_dir()
        paths = []
        for s in recipe.train_sets:
            d = root / s
            if not d.is_dir():
                raise FileNotFoundError(f"training set {d} not found (put the datasets in ../shared/datasets)")
            paths += data.list_images(d)
        self.pairs = []
        need = recipe.patch * max(cfg.scale, 1)
        for p in paths:
            hr = data.load_image(p, cfg.colors)
            if cfg.task == "sr":
                hr = data.modcrop(hr, cfg.scale)
                if min(hr.shape[:2]) < need:
                    continue
                self.pairs.append((data.imresize(hr, 1.0 / cfg.scale), hr))
            elif min(hr.shape[:2]) >= need:
                self.pairs.append((None, hr))
        if not self.pairs:
            raise RuntimeError("no training images large enough for the patch size")

    def _aug(self, *arrs):
        k = int(self.rng.integers(4))
        flip = bool(self.rng.integers(2))
        out = []
        for a in arrs:
            a = np.rot90(a, k)
            out.append(np.ascontiguousarray(a[:, ::-1] if flip else a))
        return out

    def batch(self):
        cfg, p = self.r.model, self.r.patch
        xs, ys = [], []
        for _ in range(self.r.batch):
            lr, hr = self.pairs[int(self.rng.integers(len(self.pairs)))]
            if cfg.task == "sr":
                s = cfg.scale
                y0 = int(self.rng.integers(lr.shape[0] - p + 1))
                x0 = int(self.rng.integers(lr.shape[1] - p + 1))
                x = lr[y0:y0 + p, x0:x0 + p]
                y = hr[y0 * s:(y0 + p) * s, x0 * s:(x0 + p) * s]
            else:
                y0 = int(self.rng.integers(hr.shape[0] - p + 1))
                x0 = int(self.rng.integers(hr.shape[1] - p + 1))
                y = hr[y0:y0 + p, x0:x0 + p]
                if cfg.task == "denoise":
                    x = data.add_noise(y, float(self.rng.uniform(*self.r.sigma_range)), self.rng)
                else:
                    x = data.jpeg_degrade(y, int(self.rng.integers(self.r.quality_range[0], self.r.quality_range[1] + 1)))
            x, y = self._aug(x, y)
            xs.append(x)
            ys.append(y)
        return _to_tensor(np.stack(xs)), _to_tensor(np.stack(ys))


DEFAULT_VAL = {"sr": "Set5", "denoise": "CBSD68", "jpeg": "LIVE1"}


def validation_set(recipe: Recipe) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """(input, clean) pairs for the learning curve, or None when the set is absent."""
    cfg = recipe.model
    folder = data.datasets_dir() / (recipe.val_set or DEFAULT_VAL[cfg.task])
    if not folder.is_dir():
        return None
    pairs = []
    for i, p in enumerate(data.list_images(folder)[:recipe.val_limit]):
        clean = data.load_image(p, cfg.colors)
        h, w = clean.shape[:2]
        n = recipe.val_crop * max(cfg.scale, 1) if recipe.val_crop else max(h, w)
        y0, x0 = max(0, (h - n) // 2), max(0, (w - n) // 2)
        clean = data.modcrop(clean[y0:y0 + n, x0:x0 + n], max(cfg.scale, 1))
        rng = np.random.default_rng(i)
        if cfg.task == "sr":
            x = data.imresize(clean, 1.0 / cfg.scale)
        elif cfg.task == "denoise":
            x = data.add_noise(clean, recipe.val_sigma, rng)
        else:
            x = data.jpeg_degrade(clean, recipe.val_quality)
        pairs.append((x, clean))
    return pairs


@torch.no_grad()
def validate(model, recipe: Recipe, pairs, device) -> float:
    """Mean PSNR of the float model (Y with border=scale for SR, RGB for denoise, Y for JPEG)."""
    cfg = recipe.model
    model.eval()
    vals = []
    for x, clean in pairs:
        out = model(_to_tensor(x[None]).to(device)).clamp(0, 1)
        out = (out[0].permute(1, 2, 0).cpu().numpy() * 255.0).round().astype(np.uint8)
        if out.shape[2] == 1:
            out = out[:, :, 0]
        vals.append(data.psnr(out, clean, cfg.scale if cfg.task == "sr" else 0, cfg.task != "denoise"))
    model.train()
    return float(np.mean(vals))


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    if a.ndim == 3:
        a = a[..., None]
    return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255.0


def train(recipe: Recipe, out_dir: str | Path, resume: bool = True, iterations: int | None = None,
          progress: bool = True) -> Path:
    """Train (or resume) a recipe; writes out_dir/last.pt, out_dir/log.jsonl. Returns last.pt."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = iterations or recipe.iterations
    torch.set_num_threads(os.cpu_count() or 1)
    torch.manual_seed(recipe.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = BBCUNet(recipe.model).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, betas=(0.9, 0.99))
    start, wall = 0, 0.0
    rng_state = None
    ckpt = out_dir / "last.pt"
    if resume and ckpt.exists():
        obj = torch.load(ckpt, map_location=device, weights_only=True)
        if ModelConfig.from_dict(obj["config"]) != recipe.model:
            raise ConfigError(f"{ckpt} was trained with another model config; use a new output folder")
        model.load_state_dict(obj["state_dict"])
        opt.load_state_dict(obj["optimizer"])
        start, wall = int(obj["iteration"]), float(obj.get("wall_s", 0.0))
        rng_state = obj.get("rng")
    rng = np.random.default_rng(recipe.seed)
    if rng_state is not None:
        rng.bit_generator.state = json.loads(rng_state)
    sampler = PatchSampler(recipe, rng)

    def lr_at(it):
        return recipe.lr_min + 0.5 * (recipe.lr - recipe.lr_min) * (1 + math.cos(math.pi * min(it, total) / total))

    def save(it):
        save_checkpoint(ckpt.with_suffix(".tmp"), model.cpu(), {
            "optimizer": opt.state_dict(), "iteration": it, "wall_s": wall,
            "recipe": json.dumps(recipe.to_dict()), "rng": json.dumps(rng.bit_generator.state)})
        os.replace(ckpt.with_suffix(".tmp"), ckpt)
        model.to(device)

    val_pairs = validation_set(recipe)
    model.train()
    log = open(out_dir / "log.jsonl", "a")
    bar = tqdm(range(start, total), initial=start, total=total, disable=not progress, desc=recipe.name)
    run_loss, t0 = 0.0, time.time()
    for it in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = sampler.batch()
        x, y = x.to(device), y.to(device)
        loss = F.l1_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run_loss += float(loss.detach())
        done = it + 1
        if done % recipe.log_every == 0:
            now = time.time()
            wall += now - t0
            t0 = now
            rec = {"iteration": done, "loss": run_loss / recipe.log_every, "lr": lr_at(it), "wall_s": round(wall, 1)}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
            run_loss = 0.0
        if done % recipe.ckpt_every == 0 or done == total:
            wall += time.time() - t0
            t0 = time.time()
            save(done)
            if val_pairs:
                v = validate(model, recipe, val_pairs, device)
                log.write(json.dumps({"iteration": done, "val_psnr": round(v, 3),
                                      "val_set": recipe.val_set or DEFAULT_VAL[recipe.model.task]}) + "\n")
                log.flush()
                bar.set_postfix(loss=f"{run_loss:.4f}", val=f"{v:.2f}")
                t0 = time.time()   # validation time is not training time
    log.close()
    return ckpt
