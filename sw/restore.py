"""Restoring image files with any backend: progress bar, run summary (time, link bytes and
utilisation, PSNR/SSIM against a reference), outputs written atomically.

Memory policy: inputs are refused above `max_pixels` pixels (Pillow's decompression-bomb guard,
default Pillow's 89.5 Mpx; `--max-pixels` raises it). Outputs larger than STREAM_BYTES are not
held in memory: the backend writes them stripe by stripe into a numpy memmap (a temporary file
beside the output), and PNG outputs are encoded from it a band of rows at a time, so peak memory
is the input plus one stripe. Temporary files never outlive the run, whether it succeeds or not.
"""
from __future__ import annotations

import os
import struct
import sys
import tempfile
import time
import warnings
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from . import data
from .backends import open_backend
from .calibration import degrade
from .models import resolve

#: outputs of more bytes than this are streamed through a memmap (tests lower it)
STREAM_BYTES = 256 << 20
#: Pillow's default decompression-bomb limit (pixels), our default input limit
DEFAULT_MAX_PIXELS = int(Image.MAX_IMAGE_PIXELS)
#: rows per IDAT band when streaming a PNG
PNG_BAND_ROWS = 64


# --------------------------------------------------------------------------- writing
def _png_chunk(f, tag: bytes, payload: bytes):
    f.write(struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload)))


def write_png_stream(path: str | Path, img: np.ndarray, level: int = 6):
    """Encode a uint8 HxW or HxWx3 array (e.g. a memmap) as an 8-bit PNG, PNG_BAND_ROWS rows at a
    time (filter 1, 'Sub', on every row), so memory stays at one band whatever the image size."""
    h, w = img.shape[:2]
    c = img.shape[2] if img.ndim == 3 else 1
    color_type = {1: 0, 3: 2}.get(c)
    if color_type is None:
        raise ValueError(f"cannot write {c}-channel images as PNG")
    z = zlib.compressobj(level)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        _png_chunk(f, b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
        for y0 in range(0, h, PNG_BAND_ROWS):
            band = np.asarray(img[y0:y0 + PNG_BAND_ROWS]).reshape(-1, w * c)
            rows = np.empty((band.shape[0], w * c + 1), np.uint8)
            rows[:, 0] = 1                                   # filter type Sub: x - x[-bpp], mod 256
            rows[:, 1:c + 1] = band[:, :c]
            rows[:, c + 1:] = band[:, c:] - band[:, :-c]
            comp = z.compress(rows.tobytes())
            if comp:
                _png_chunk(f, b"IDAT", comp)
        _png_chunk(f, b"IDAT", z.flush())
        _png_chunk(f, b"IEND", b"")


def write_atomic(path: str | Path, img: np.ndarray):
    """Write an image so that `path` either keeps its old content or gets the whole new file.
    A memmap is encoded by streaming when the output is a PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        if isinstance(img, np.memmap) and path.suffix.lower() == ".png":
            write_png_stream(tmp, img)
        else:
            data.save_image(tmp, np.asarray(img))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def output_buffer(dest: Path, shape: tuple[int, ...]):
    """A uint8 array of `shape` for a backend to fill: in memory, or for outputs larger than
    STREAM_BYTES a memmap in a temporary file beside `dest`, removed afterwards in any case."""
    if int(np.prod(shape)) <= STREAM_BYTES:
        yield None                                   # the backend allocates it
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, raw = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".raw")
    os.close(fd)
    try:
        yield np.memmap(raw, np.uint8, "w+", shape=shape)
    finally:
        os.unlink(raw)                               # (POSIX: a mapping still open keeps the data alive)


# --------------------------------------------------------------------------- reading
def read_input(path: str | Path, colors: int, max_pixels: int | None = None) -> np.ndarray:
    """Load an input image; clear one-line errors (ValueError/FileNotFoundError) for a missing,
    empty, unreadable or oversized file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty file (0 bytes)")
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else int(max_pixels)
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = limit
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)   # the limit is `limit`, not 2x
            img = data.load_image(p, colors)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        size = _declared_size(p)
        what = f"{size[0]}x{size[1]} = {size[0] * size[1]:,} pixels" if size else "too many pixels"
        raise ValueError(f"{p}: image too large ({what}; the limit is {limit:,} pixels, Pillow's "
                         f"decompression-bomb guard); if you trust the file, raise it with --max-pixels, "
                         f"or crop it first") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad files
        raise ValueError(f"{p}: cannot read image ({type(e).__name__}: {e})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f"{p}: empty image ({img.shape[1]}x{img.shape[0]} pixels)")
    return img


def _declared_size(p: Path):
    old = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(p) as im:
                return im.size
    except Exception:  # noqa: BLE001
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = old


def centre_crop(img: np.ndarray, n: int | None) -> np.ndarray:
    if not n:
        return img
    h, w = img.shape[:2]
    y0, x0 = max(0, (h - n) // 2), max(0, (w - n) // 2)
    return img[y0:y0 + n, x0:x0 + n]


# --------------------------------------------------------------------------- metrics
def quality(res: np.ndarray, ref: np.ndarray, cfg) -> dict:
    """PSNR/SSIM as the literature computes them: SR on Y with a border of `scale` pixels cropped,
    JPEG on Y, colour denoising on RGB."""
    border = cfg.scale if cfg.task == "sr" else 0
    y_only = cfg.task != "denoise"
    return {"psnr": round(data.psnr(res, ref, border, y_only), 3),
            "ssim": round(data.ssim(res, ref, border, y_only), 4)}


def _ref_for(ref: str | Path, name: str, multiple: bool) -> Path:
    ref = Path(ref)
    if ref.is_dir():
        for ext in data.IMAGE_EXTS:
            for cand in (ref / (Path(name).stem + ext), ref / (Path(name).stem + ext.upper())):
                if cand.is_file():
                    return cand
        raise FileNotFoundError(f"{ref}: no reference image named {Path(name).stem}.* for {name}")
    if multiple:
        raise ValueError("with several inputs, --ref must be a folder of references named like the inputs")
    return ref


def _mean(rows, key):
    v = [r[key] for r in rows if r.get(key) is not None]
    return round(float(np.mean(v)), 4) if v else None


# --------------------------------------------------------------------------- the run
def restore_files(inputs, out, model_spec, backend, sample=None, do_eval=False, port=None, baud=3_000_000,
                  crop=None, ref=None, progress=False, timeout=None, max_pixels=None) -> dict:
    """Restore files (or a scikit-image `sample`) and write the outputs.

    Returns {"images": [one row per image], "summary": {...}}; the summary has wall_s (time
    restoring, backend start excluded), total_s, pixels_per_s (LR input pixels), bytes_out
    (host->board), bytes_in (board->host), link_busy_out_s / link_busy_in_s (bytes*10/baud, 8N1)
    and link_utilisation_out / _in (busy / wall_s), None for the software backends, and the
    mean psnr/ssim (and the baseline's, with do_eval) when a reference was given."""
    t_start = time.monotonic()
    if ref is not None and do_eval:
        raise ValueError("use either --ref (compare with a given HR image) or --eval (degrade, then compare), not both")
    mref = resolve(model_spec)
    cfg = (mref.load_program() if mref.program is not None else mref.load_float()).config
    # read and check every input (and reference) before opening a backend: a board build or a port can be slow
    items = [(f"{sample}.png", data.sample_image(sample, cfg.colors))] if sample else []
    items += [(Path(p).name, read_input(p, cfg.colors, max_pixels)) for p in inputs]
    jobs = []
    for name, img in items:
        img = centre_crop(img, crop)
        clean = ref_path = None
        if do_eval:
            clean = data.modcrop(img, cfg.scale) if cfg.task == "sr" else img
            img = degrade(clean, cfg, np.random.default_rng(0), sigma=25.0, quality=10)
        if ref is not None:
            ref_path = _ref_for(ref, name, len(items) > 1)
            clean = read_input(ref_path, cfg.colors, max_pixels)
            h, w = img.shape[:2]
            want = (h * cfg.scale, w * cfg.scale)
            if clean.shape[:2] != want:
                raise ValueError(f"{ref_path}: reference is {clean.shape[1]}x{clean.shape[0]}, but the restored "
                                 f"{name} will be {want[1]}x{want[0]} ({w}x{h} x{cfg.scale}); sizes must match")
        jobs.append((name, img, clean, ref_path))

    from tqdm import tqdm

    total_px = sum(img.shape[0] * img.shape[1] for _, img, _, _ in jobs)
    bk = open_backend(backend, mref, port, baud, timeout)
    bar = tqdm(total=total_px, unit="px", unit_scale=total_px >= 100_000, file=sys.stderr, disable=not progress,
               desc=f"restore ({bk.name})", dynamic_ncols=True)
    link0 = bk.link_stats.snapshot() if bk.link_stats is not None else None
    rows, base, restore_s = [], 0, 0.0
    try:
        out = Path(out)
        single = len(jobs) == 1 and out.suffix.lower() in data.IMAGE_EXTS
        for name, img, clean, ref_path in jobs:
            dest = out if single else out / (Path(name).stem + ".png")
            before = bk.link_stats.snapshot() if bk.link_stats is not None else None
            t0 = time.monotonic()

            def cb(sd, st, pd, pt, _base=base, _t0=t0, _before=before):
                bar.update(_base + pd - bar.n)
                post = f"stripes {sd}/{st}"
                if _before is not None:
                    d = bk.link_stats.since(_before)
                    rate = (d.bytes_out + d.bytes_in) / max(1e-9, time.monotonic() - _t0)
                    post += f", link {tqdm.format_sizeof(rate, 'B/s')}"
                bar.set_postfix_str(post, refresh=False)

            with output_buffer(dest, bk.output_shape(img)) as buf:
                res = bk.restore(img, out=buf, progress=cb)
                dt = time.monotonic() - t0
                restore_s += dt
                row = {"input": name, "output": str(dest), "backend": bk.name,
                       "size": f"{img.shape[1]}x{img.shape[0]}", "out_size": f"{res.shape[1]}x{res.shape[0]}",
                       "seconds": round(dt, 3)}
                if before is not None:
                    d = bk.link_stats.since(before)
                    d.wall_s = dt
                    row.update(_link_figures(d))
                if clean is not None:
                    row.update(quality(res, clean, cfg))
                    if ref_path is not None:
                        row["ref"] = str(ref_path)
                    else:
                        base_img = data.imresize(img, cfg.scale) if cfg.task == "sr" else img
                        row.update({f"baseline_{k}": v for k, v in quality(base_img, clean, cfg).items()})
                write_atomic(dest, res)
                del res
            base += img.shape[0] * img.shape[1]
            bar.refresh()
            rows.append(row)
    finally:
        bar.close()
        bk.close()
    summary = {"images": len(rows), "backend": bk.name, "lr_pixels": total_px,
               "wall_s": round(restore_s, 3), "total_s": round(time.monotonic() - t_start, 3),
               "pixels_per_s": round(total_px / restore_s, 1) if restore_s > 0 else None}
    if link0 is not None:
        d = bk.link_stats.since(link0)
        d.wall_s = restore_s
        summary.update(_link_figures(d))
    else:
        summary.update({k: None for k in _link_figures(None)})
    for k in ("psnr", "ssim", "baseline_psnr", "baseline_ssim"):
        summary[k] = _mean(rows, k)
    return {"images": rows, "summary": summary}


def _link_figures(d) -> dict:
    keys = ("bytes_out", "bytes_in", "baud", "link_busy_out_s", "link_busy_in_s", "link_utilisation_out",
            "link_utilisation_in", "frames_resent", "stripe_retries", "crc_errors")
    if d is None:
        return dict.fromkeys(keys)
    util = d.utilisation()
    vals = (d.bytes_out, d.bytes_in, d.baud,
            None if d.busy_out_s is None else round(d.busy_out_s, 4),
            None if d.busy_in_s is None else round(d.busy_in_s, 4),
            None if util is None else round(util[0], 5), None if util is None else round(util[1], 5),
            d.resent, d.stripe_retries, d.rx_errors)
    return dict(zip(keys, vals))


def format_summary(result: dict) -> str:
    """Human-readable lines: one per image, then the summary."""
    lines = []
    for r in result["images"]:
        q = ""
        if r.get("psnr") is not None:
            q = f"  PSNR {r['psnr']:.2f} dB  SSIM {r['ssim']:.4f}"
            if r.get("baseline_psnr") is not None:
                q += f"  (baseline: PSNR {r['baseline_psnr']:.2f} dB  SSIM {r['baseline_ssim']:.4f})"
        lines.append(f"{r['input']} {r['size']} -> {r['output']} {r['out_size']}  {r['seconds']:.2f} s{q}")
    s = result["summary"]
    rate = f"{s['pixels_per_s']:,.0f} px/s" if s["pixels_per_s"] else "-"
    lines.append(f"summary: {s['images']} image(s), {s['lr_pixels']:,} input pixels, backend {s['backend']}, "
                 f"{s['wall_s']:.2f} s restoring ({rate}), {s['total_s']:.2f} s in all")
    if s.get("bytes_out") is not None:
        def pct(v):
            return "-" if v is None else f"{100 * v:.2f} %"
        busy = ("" if s["baud"] is None else f"; line busy {s['link_busy_out_s']:.3f} s / {s['link_busy_in_s']:.3f} s "
                f"at {s['baud']:,} baud 8N1 = utilisation {pct(s['link_utilisation_out'])} / "
                f"{pct(s['link_utilisation_in'])} of the wall time")
        lines.append(f"link: host->board {s['bytes_out']:,} B, board->host {s['bytes_in']:,} B{busy}; "
                     f"resent frames {s['frames_resent']}, stripe retries {s['stripe_retries']}, "
                     f"CRC errors {s['crc_errors']}")
    if s.get("psnr") is not None:
        q = f"quality: PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.4f}"
        if s.get("baseline_psnr") is not None:
            q += f" (baseline: PSNR {s['baseline_psnr']:.2f} dB, SSIM {s['baseline_ssim']:.4f})"
        lines.append(q + ("" if s["images"] == 1 else " (means)"))
    return "\n".join(lines)
