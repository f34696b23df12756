"""Images, degradations and metrics shared by training, evaluation and the host driver.

Bicubic resizing is MATLAB-imresize-compatible (the SR literature's convention): we use the
`resize-right` library (cubic kernel a=-0.5, antialiasing when downscaling) with half-sample
symmetric boundary padding, which is MATLAB's rule; tests/test_data.py checks it against the
known MATLAB x1/2 weights and the symmetric boundary.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTS = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")

#: ../shared relative to the project root; override with BBCU_SHARED.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("BBCU_SHARED", PROJECT_ROOT.parent / "shared"))


def datasets_dir() -> Path:
    return shared_dir() / "datasets"


def list_images(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)


def load_image(path: str | Path, colors: int = 3) -> np.ndarray:
    """Load as uint8 HxWx3 (colors=3) or HxW (colors=1, ITU-R BT.601 luma via Pillow 'L')."""
    with Image.open(path) as im:
        im.load()
        return pil_to_array(im, colors)


def pil_to_array(im: Image.Image, colors: int = 3) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im).astype(np.float64)
        im = Image.fromarray(np.clip(np.round(a / 257.0), 0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    im = im.convert("RGB" if colors == 3 else "L")
    return np.asarray(im, dtype=np.uint8).copy()


def save_image(path: str | Path, img: np.ndarray):
    Image.fromarray(img).save(path)


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB-compatible bicubic imresize of a uint8 image by `scale`, rounded back to uint8."""
    from resize_right import interp_methods, resize

    a = img.astype(np.float64)
    squeeze = a.ndim == 2
    if squeeze:
        a = a[:, :, None]
    out = resize(a, scale_factors=[scale, scale, 1], interp_method=interp_methods.cubic,
                 antialiasing=True, pad_mode="symmetric")
    out = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return out[:, :, 0] if squeeze else out


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr luma (BT.601, studio range) of uint8 RGB, as float64 in 16..235."""
    if img.ndim == 2:
        return img.astype(np.float64)
    a = img.astype(np.float64) / 255.0
    return 16.0 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]


def _crop(a: np.ndarray, border: int) -> np.ndarray:
    return a[border:-border, border:-border] if border > 0 else a


def psnr(a: np.ndarray, b: np.ndarray, border: int = 0, y_only: bool = True) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    if y_only:
        a, b = rgb_to_y(a), rgb_to_y(b)
    else:
        a, b = a.astype(np.float64), b.astype(np.float64)
    a, b = _crop(a, border), _crop(b, border)
    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(a, b, data_range=255))


def ssim(a: np.ndarray, b: np.ndarray, border: int = 0, y_only: bool = True) -> float:
    from skimage.metrics import structural_similarity

    if y_only:
        a, b = rgb_to_y(a), rgb_to_y(b)
        return float(structural_similarity(_crop(a, border), _crop(b, border), data_range=255))
    a, b = _crop(a.astype(np.float64), border), _crop(b.astype(np.float64), border)
    if a.ndim == 2:
        return float(structural_similarity(a, b, data_range=255))
    return float(structural_similarity(a, b, data_range=255, channel_axis=-1))


def add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive white Gaussian noise of std sigma (0..255 scale), clipped and rounded to uint8
    (the accelerator's input is 8-bit)."""
    n = rng.normal(0.0, sigma, img.shape)
    return np.clip(np.round(img.astype(np.float64) + n), 0, 255).astype(np.uint8)


def jpeg_degrade(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L" if img.ndim == 2 else "RGB"), dtype=np.uint8).copy()


SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "camera", "cat", "retina")


def sample_image(name: str = "astronaut", colors: int = 3) -> np.ndarray:
    """A photo bundled with scikit-image (no download)."""
    from skimage import data as skdata

    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; choose from {', '.join(SAMPLES)}")
    img = getattr(skdata, name)()
    im = Image.fromarray(img)
    return pil_to_array(im, colors)
