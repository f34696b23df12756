"""Quality evaluation: Y-PSNR/SSIM (SR, JPEG) or RGB PSNR (colour denoising) per backend,
with the baseline (bicubic / noisy / JPEG input) beside it."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import data
from .backends import open_backend
from .calibration import degrade
from .models import resolve


def _dataset_path(spec: str) -> Path:
    p = Path(spec)
    if p.is_dir():
        return p
    q = data.datasets_dir() / spec
    if q.is_dir():
        return q
    raise FileNotFoundError(f"dataset {spec!r} not found (neither a folder nor {q})")


def evaluate(model_spec, datasets, backends, sigmas=None, qualities=None, limit=None,
             device=None) -> list[dict]:
    """`device`: torch device for the golden and float backends (e.g. "cuda"); the integer
    results are the same on every device."""
    ref = resolve(model_spec)
    bks = [open_backend(b, ref, device=device) for b in backends]
    cfg = bks[0].config
    if cfg.task == "denoise":
        levels = [("sigma", s) for s in (sigmas or [15, 25, 50])]
    elif cfg.task == "jpeg":
        levels = [("quality", q) for q in (qualities or [10, 20, 30, 40])]
    else:
        levels = [(None, None)]
    y_only = cfg.task != "denoise"
    border = cfg.scale if cfg.task == "sr" else 0
    rows = []
    for ds in datasets:
        path = _dataset_path(ds)
        files = data.list_images(path)[:limit]
        for key, level in levels:
            acc = {b.name: {"psnr": [], "ssim": []} for b in bks}
            base = {"psnr": [], "ssim": []}
            for i, f in enumerate(files):
                clean = data.load_image(f, cfg.colors)
                if cfg.task == "sr":
                    clean = data.modcrop(clean, cfg.scale)
                rng = np.random.default_rng(i)
                kw = {"sigma": level} if key == "sigma" else {"quality": level} if key == "quality" else {}
                x = degrade(clean, cfg, rng, **kw)
                baseline = data.imresize(x, cfg.scale) if cfg.task == "sr" else x
                base["psnr"].append(data.psnr(baseline, clean, border, y_only))
                base["ssim"].append(data.ssim(baseline, clean, border, y_only))
                for b in bks:
                    out = b.restore(x)
                    acc[b.name]["psnr"].append(data.psnr(out, clean, border, y_only))
                    acc[b.name]["ssim"].append(data.ssim(out, clean, border, y_only))
            for b in bks:
                row = {"model": ref.name, "dataset": path.name, "backend": b.name,
                       "psnr": round(float(np.mean(acc[b.name]["psnr"])), 4),
                       "ssim": round(float(np.mean(acc[b.name]["ssim"])), 5),
                       "baseline_psnr": round(float(np.mean(base["psnr"])), 4),
                       "baseline_ssim": round(float(np.mean(base["ssim"])), 5),
                       "images": len(files), "metric": "Y" if y_only else "RGB"}
                if key:
                    row[key] = level
                rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    cols = ["model", "dataset", "backend", "sigma", "quality", "psnr", "ssim", "baseline_psnr", "images"]
    cols = [c for c in cols if any(c in r for r in rows)]
    lines = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in rows:
        lines.append(" | ".join(str(r.get(c, "")) for c in cols))
    return "\n".join(lines)
