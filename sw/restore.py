"""Restoring image files with any backend; outputs are written atomically."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from . import data
from .backends import open_backend
from .calibration import degrade
from .models import resolve


def write_atomic(path: str | Path, img: np.ndarray):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        data.save_image(tmp, img)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_input(path: str | Path, colors: int) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        img = data.load_image(p, colors)
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad files
        raise ValueError(f"{p}: cannot read image ({type(e).__name__}: {e})") from None
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"{p}: empty image")
    return img


def centre_crop(img: np.ndarray, n: int | None) -> np.ndarray:
    if not n:
        return img
    h, w = img.shape[:2]
    y0, x0 = max(0, (h - n) // 2), max(0, (w - n) // 2)
    return img[y0:y0 + n, x0:x0 + n]


def restore_files(inputs, out, model_spec, backend, sample=None, do_eval=False, port=None, baud=3_000_000,
                  crop=None) -> list[dict]:
    ref = resolve(model_spec)
    cfg = (ref.load_program() if ref.program is not None else ref.load_float()).config
    # read and check every input before opening a backend (a board build or a port can be slow)
    items = [(f"{sample}.png", data.sample_image(sample, cfg.colors))] if sample else []
    items += [(Path(p).name, read_input(p, cfg.colors)) for p in inputs]
    bk = open_backend(backend, ref, port, baud)
    try:
        out = Path(out)
        single = len(items) == 1 and out.suffix.lower() in data.IMAGE_EXTS
        rows = []
        for name, img in items:
            img = centre_crop(img, crop)
            clean = None
            if do_eval:
                clean = data.modcrop(img, cfg.scale) if cfg.task == "sr" else img
                img = degrade(clean, cfg, np.random.default_rng(0), sigma=25.0, quality=10)
            t0 = time.time()
            res = bk.restore(img)
            dt = time.time() - t0
            dest = out if single else out / (Path(name).stem + ".png")
            write_atomic(dest, res)
            row = {"input": name, "output": str(dest), "backend": bk.name, "size": f"{img.shape[1]}x{img.shape[0]}",
                   "seconds": round(dt, 3)}
            if clean is not None:
                border = cfg.scale if cfg.task == "sr" else 0
                y_only = cfg.task != "denoise"
                base = data.imresize(img, cfg.scale) if cfg.task == "sr" else img
                row["psnr"] = round(data.psnr(res, clean, border, y_only), 3)
                row["baseline_psnr"] = round(data.psnr(base, clean, border, y_only), 3)
            rows.append(row)
    finally:
        bk.close()
    return rows
