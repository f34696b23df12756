"""Golden-model speed benchmark."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from . import golden
from .config import PRESETS
from .models import resolve


def golden_speed(model_spec=None, size=256, preset=None) -> dict:
    if preset:
        from .calibration import calibration_images
        from .compiler import compile_model
        from .model import BBCUNet

        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        torch.manual_seed(0)
        model = BBCUNet(PRESETS[preset]).eval()
        prog = compile_model(model, calibration_images(model.cfg, n=2))
        name = f"random {preset}"
    else:
        ref = resolve(model_spec)
        prog = ref.load_program()
        name = ref.name
    cfg = prog.config
    img = np.random.default_rng(0).integers(0, 256, (size, size, cfg.colors), dtype=np.uint8)
    if cfg.colors == 1:
        img = img[:, :, 0]
    golden.run(prog, img[:16, :16])  # warm-up
    t0 = time.perf_counter()
    golden.run(prog, img)
    dt = time.perf_counter() - t0
    return {"model": name, "channels": cfg.channels, "units": cfg.units, "scale": cfg.scale,
            "input": f"{size}x{size}", "seconds": round(dt, 3), "threads": torch.get_num_threads(),
            "input_pixels_per_s": round(size * size / dt, 1)}


def _bench_images(cfg, crop: int | None, image: str | None, dataset: str | None):
    """(name, LR input) pairs: a bundled photo's centre crop, one file, or a whole dataset
    (SR: the HR file modcropped and bicubic-downscaled, as in `bbcu eval`)."""
    from . import data
    from .calibration import degrade
    from .restore import centre_crop

    if dataset or image:
        if dataset:
            folder = Path(dataset) if Path(dataset).is_dir() else data.datasets_dir() / dataset
            if not folder.is_dir():
                raise FileNotFoundError(f"dataset {dataset!r} not found (neither a folder nor {folder})")
            files = data.list_images(folder)
        else:
            p = Path(image)
            if not p.is_file() and (data.datasets_dir() / image).is_file():
                p = data.datasets_dir() / image
            if not p.is_file():
                raise FileNotFoundError(f"image {image!r} not found")
            files = [p]
        out = []
        for i, f in enumerate(files):
            clean = data.load_image(f, cfg.colors)
            x = degrade(clean, cfg, np.random.default_rng(i), sigma=25.0, quality=10)
            out.append((f.stem, centre_crop(x, crop)))
        return out
    return [("astronaut", centre_crop(data.sample_image("astronaut", cfg.colors), crop or 64))]


def virtual_bench(model_spec=None, crop: int | None = 64, baud: int = 3_000_000, image: str | None = None,
                  dataset: str | None = None, max_width: int | None = None) -> dict:
    """Run images through the virtual board and measure them against the models.

    Per image and in total:
    - cycles_per_lr_pixel: steady state, from the first to the last restored pixel leaving the
      network (fill excluded), per LR pixel processed (halo columns included), against
      model_cycles_per_lr_pixel (hw/fold.py);
    - utilisation: ideal binary MACs of the image / (binary lanes x busy cycles); busy cycles run
      from STRIPE_BEGIN to the last result row, so fill, drain and halo are all included;
    - virtual_cycles_per_s: simulated cycles per wall-clock second of the session;
    - projected_fps: at the board clock, from the measured busy cycles; link_seconds: the same
      image's bytes at `baud` 8N1 (full duplex: the larger direction), which bounds a
      host-streamed board;
    - bit_exact: the whole restored image equals the golden model's whole-image output.
    """
    import json
    import time

    from hw.fold import auto_fold, throughput
    from hw.network import receptive_halo
    from sim.vboard import VirtualBoard, build

    from .backends import virtual_build_config
    from .driver import Accelerator

    ref = resolve(model_spec)
    prog = ref.load_program()
    cfg = prog.config
    bc = virtual_build_config()
    if max_width:
        bc.max_width = max_width
    images = _bench_images(cfg, crop, image, dataset)
    model = throughput(prog, auto_fold(prog))
    binary = build(prog, bc)
    r2 = cfg.scale ** 2
    rows = []
    with VirtualBoard(binary) as vb:
        for name, img in images:
            with Accelerator.open(vb.url, timeout=600) as acc:
                acc.prepare(prog)
                t0 = time.monotonic()
                out = acc.restore(img)
                wall = time.monotonic() - t0
                stats = acc.stats
            while True:                      # the board prints its counters when the client leaves
                line = vb.proc.stderr.readline()
                if not line:
                    raise RuntimeError("the virtual board exited without its statistics")
                if line.startswith("VBOARD_STATS "):
                    vs = json.loads(line.split(" ", 1)[1])
                    break
            h, w = img.shape[:2]
            lr_processed = vs["out_pixels"] / r2
            # steady state within stripes: each stripe's first to last output pixel (its fill and
            # the gap between stripes excluded), per LR pixel processed (halo columns included)
            n_str = max(1, vs.get("stripes", 1))
            steady = vs.get("steady_cycles", vs["last_out"] - vs["first_out"]) / max(1.0, lr_processed - n_str / r2)
            ideal = model["binary_macs_per_lr_pixel"] * h * w
            link_s = max(stats.bytes_out, stats.bytes_in) * 10 / baud
            compute_s = vs["busy_cycles"] / bc.clock_hz
            rows.append({
                "image": name, "size": f"{w}x{h}", "stripes": vs.get("stripes", 1),
                "bit_exact": bool(np.array_equal(out, golden.run(prog, img))),
                "cycles_per_lr_pixel": round(steady, 2),
                "model_error": round(steady / model["cycles_per_lr_pixel"] - 1, 4),
                "busy_cycles": vs["busy_cycles"], "session_cycles": vs["cycles"],
                "utilisation": round(ideal / (model["lanes"] * vs["busy_cycles"]), 4),
                "virtual_cycles_per_s": round(vs["cycles"] / wall, 1), "virtual_seconds": round(wall, 2),
                "link_bytes_in": stats.bytes_in, "link_bytes_out": stats.bytes_out,
                "link_seconds_at_baud": round(link_s, 3), "compute_seconds_at_clock": round(compute_s, 4),
                "projected_fps": round(1 / compute_s, 3),
                "bound_by": "link" if link_s > compute_s else "compute",
            })
        vb.proc.terminate()
        vb.proc.wait(10)
    tot = {k: sum(r[k] for r in rows) for k in ("busy_cycles", "session_cycles", "virtual_seconds",
                                                  "link_seconds_at_baud", "compute_seconds_at_clock")}
    pixels = sum(int(r["size"].split("x")[0]) * int(r["size"].split("x")[1]) for r in rows)
    # the steady state weighted by pixels
    steady = sum(r["cycles_per_lr_pixel"] * int(r["size"].split("x")[0]) * int(r["size"].split("x")[1])
                 for r in rows) / pixels
    first = rows[0]
    return {
        "model": ref.name, "program_hash": prog.content_hash, "scale": cfg.scale,
        "images": len(rows), "image": first["size"] if len(rows) == 1 else (dataset or image),
        "max_width": bc.max_width, "halo": receptive_halo(prog),
        "bit_exact": all(r["bit_exact"] for r in rows),
        "cycles_per_lr_pixel": round(steady, 2),
        "model_cycles_per_lr_pixel": model["cycles_per_lr_pixel"],
        "model_error": round(steady / model["cycles_per_lr_pixel"] - 1, 4),
        "bottleneck": model["bottleneck"], "lanes": model["lanes"],
        "busy_cycles": tot["busy_cycles"], "session_cycles": tot["session_cycles"],
        "utilisation": round(model["binary_macs_per_lr_pixel"] * pixels / (model["lanes"] * tot["busy_cycles"]), 4),
        "virtual_cycles_per_s": round(tot["session_cycles"] / tot["virtual_seconds"], 1),
        "virtual_seconds": round(tot["virtual_seconds"], 2),
        "clock_hz": bc.clock_hz,
        "projected_fps": round(bc.clock_hz / tot["busy_cycles"] * len(rows), 3),
        "compute_seconds_at_clock": round(tot["compute_seconds_at_clock"], 4),
        "link_seconds_at_baud": round(tot["link_seconds_at_baud"], 3), "baud": baud,
        "bound_by": "link" if tot["link_seconds_at_baud"] > tot["compute_seconds_at_clock"] else "compute",
        "per_image": rows,
    }
