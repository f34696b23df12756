"""Golden-model speed benchmark."""
from __future__ import annotations

import time

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


def virtual_bench(model_spec=None, image: np.ndarray | None = None, crop: int = 64, baud: int = 3_000_000) -> dict:
    """Run one image through the virtual board and measure it against the models.

    - cycles_per_lr_pixel: steady state, from the first to the last restored pixel leaving the
      network (fill excluded), per LR pixel processed; model_cycles_per_lr_pixel: hw/fold.py.
    - utilisation: ideal binary MACs of the image / (binary lanes x busy cycles); busy cycles run
      from STRIPE_BEGIN to the last result row, so fill, drain and halo are all included.
    - virtual_cycles_per_s: simulated cycles per wall-clock second of the session.
    - projected_fps: at the board clock, compute only; link_seconds: the same image's bytes at `baud`
      8N1 (full duplex: the larger direction), which bounds a host-streamed board.
    """
    import json
    import time

    from hw.fold import auto_fold, throughput
    from sim.vboard import VirtualBoard, build

    from .backends import virtual_build_config
    from .data import sample_image
    from .driver import Accelerator
    from .restore import centre_crop

    ref = resolve(model_spec)
    prog = ref.load_program()
    cfg = prog.config
    bc = virtual_build_config()
    if image is None:
        image = sample_image("astronaut", cfg.colors)
    image = centre_crop(image, min(crop, bc.max_width))
    model = throughput(prog, auto_fold(prog))
    binary = build(prog, bc)
    with VirtualBoard(binary) as vb:
        with Accelerator.open(vb.url, timeout=600) as acc:
            acc.check_program(prog.content_hash)
            t0 = time.monotonic()
            out = acc.restore(image)
            wall = time.monotonic() - t0
            stats = acc.stats
        vb.proc.terminate()
        vb.proc.wait(10)
        lines = [l for l in vb.proc.stderr.read().splitlines() if l.startswith("VBOARD_STATS ")]
    vs = json.loads(lines[-1].split(" ", 1)[1])
    h, w = image.shape[:2]
    r2 = cfg.scale ** 2
    lr_processed = vs["out_pixels"] / r2
    steady = (vs["last_out"] - vs["first_out"]) / max(1.0, lr_processed - 1 / r2)
    ideal = model["binary_macs_per_lr_pixel"] * h * w
    ref_out = golden.run(prog, image)
    link_s = max(stats.bytes_out, stats.bytes_in) * 10 / baud
    return {
        "model": ref.name, "program_hash": prog.content_hash, "image": f"{w}x{h}", "scale": cfg.scale,
        "bit_exact": bool(np.array_equal(out, ref_out)),
        "cycles_per_lr_pixel": round(steady, 2),
        "model_cycles_per_lr_pixel": model["cycles_per_lr_pixel"],
        "model_error": round(steady / model["cycles_per_lr_pixel"] - 1, 4),
        "bottleneck": model["bottleneck"], "lanes": model["lanes"],
        "busy_cycles": vs["busy_cycles"], "session_cycles": vs["cycles"],
        "utilisation": round(ideal / (model["lanes"] * vs["busy_cycles"]), 4),
        "virtual_cycles_per_s": round(vs["cycles"] / wall, 1), "virtual_seconds": round(wall, 2),
        "clock_hz": bc.clock_hz,
        "projected_fps": round(bc.clock_hz / (model["cycles_per_lr_pixel"] * h * w), 3),
        "link_bytes_in": stats.bytes_in, "link_bytes_out": stats.bytes_out,
        "link_seconds_at_baud": round(link_s, 3), "baud": baud,
        "compute_seconds_at_clock": round(vs["busy_cycles"] / bc.clock_hz, 3),
        "bound_by": "link" if link_s > vs["busy_cycles"] / bc.clock_hz else "compute",
    }
