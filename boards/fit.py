"""The resource model behind `--fold auto`: the fastest fold that fits a board.

The analytical estimate (`hw.accelerator.Accelerator.resource_estimate()`: the sum of every unit's
`resource_estimate()`) counts LUT4s, flip-flops, memory bits and multipliers. A device does not
map them one to one (iCE40 logic cells hold a LUT, a carry and a flip-flop; block RAMs are used
in whole blocks of fixed aspect ratios; 18-bit constants take two to four 16x16 SB_MAC16), so the
estimate is mapped to each family's resources by a straight line per resource,
used = a * estimate + b, fitted to nextpnr's utilisation of real builds (least squares on the
relative error)
(benchmarks/fold_calibration.py -> boards/calibration.json, which keeps the points).

`choose_fold` walks the fold candidates from the fastest (hw.fold.auto_fold at the serial floor,
every stage balanced) towards one lane per engine, each with DSP scale units and, when multipliers
are short, shift-add ones, and returns the first whose predicted utilisation is within the
board's limits (logic at most FILL of the device: placement and timing degrade above it).

Fold specifications (`resolve_fold_spec`, `bbcu build --fold`): "auto" (choose_fold, needs the
board), "auto:N" (choose_fold with at most N lanes per engine), "balanced" (hw.fold.auto_fold:
the fastest fold, whatever its size), "balanced:N", "min" (one lane per engine), each optionally
followed by ",shiftadd"; or a FoldConfig, its dict, or a JSON file.
"""
from __future__ import annotations

import json
from pathlib import Path

from hw.fold import FoldConfig, LayerFold, _divisors, auto_fold, engine_cycles, geometry, serial_floor, throughput

CALIBRATION = Path(__file__).resolve().parent / "calibration.json"
RESOURCES = ("logic", "ff", "bram", "dsp")
BLOCK_BITS = {"ice40": 4096, "ecp5": 18432}
# nextpnr utilisation names (boards/build.py _RESOURCES) of each model resource
DEVICE_NAMES = {"ice40": {"logic": "LC", "ff": "FF", "bram": "EBR", "dsp": "DSP"},
                "ecp5": {"logic": "LUT", "ff": "FF", "bram": "BRAM", "dsp": "DSP"}}
AVAILABLE = {"ice40": {"logic": 5280, "ff": 5280, "bram": 30, "dsp": 8},
             "ecp5": {"logic": 83640, "ff": 83640, "bram": 208, "dsp": 156}}
FILL = {"ice40": {"logic": 0.95, "ff": 1.0, "bram": 1.0, "dsp": 1.0},
        "ecp5": {"logic": 0.80, "ff": 0.80, "bram": 1.0, "dsp": 1.0}}


# --------------------------------------------------------------------------- estimate
def _family(board: str) -> str:
    from .build import board_info
    return board_info(board)["family"]


def estimate_raw(prog, fold: FoldConfig, board: str, max_width: int, max_height: int = 2048,
                 max_payload: int = 1024, clock_hz: int = 48_000_000, baud: int = 3_000_000) -> dict:
    """The analytical estimate in the model's resources (memory as bits / the family's block size)."""
    from hw.accelerator import Accelerator, BuildConfig

    b = BuildConfig(max_width=max_width, max_height=max_height, max_payload=max_payload, clock_hz=clock_hz,
                    baud=baud)
    from hw.estimate import throwaway
    acc = Accelerator(prog, b, fold)
    throwaway(acc, acc.core)
    e = acc.resource_estimate()
    return {"logic": e["lut"], "ff": e["ff"], "bram": round(e["bram_bits"] / BLOCK_BITS[_family(board)], 2),
            "dsp": e["dsp"]}


def measured(report: dict) -> dict:
    """The model's resources from a build report's utilisation (None where nextpnr gave none)."""
    family = "ice40" if report["device"].startswith("iCE40") else "ecp5"
    u = report.get("utilisation") or {}
    return {r: (u[n]["used"] if n in u else None) for r, n in DEVICE_NAMES[family].items()}


def fit_line(xs: list[float], ys: list[float]) -> dict:
    """y = a x + b minimising the sum of squared *relative* errors ((a x + b - y) / y)^2, so that
    a small design is predicted as well as a large one; with the largest relative error."""
    n = len(xs)
    w = [1.0 / max(y, 1) ** 2 for y in ys]
    sw = sum(w)
    swx = sum(wi * x for wi, x in zip(w, xs))
    swxx = sum(wi * x * x for wi, x in zip(w, xs))
    swy = sum(wi * y for wi, y in zip(w, ys))
    swxy = sum(wi * x * y for wi, x, y in zip(w, xs, ys))
    det = sw * swxx - swx * swx
    if abs(det) < 1e-12 * max(1.0, sw * swxx):        # all x equal: a ratio through the origin
        a, b = (swxy / swxx if swxx else 1.0), 0.0
    else:
        a = (sw * swxy - swx * swy) / det
        b = (swxx * swy - swx * swxy) / det
    errs = [abs(a * x + b - y) / max(y, 1) for x, y in zip(xs, ys)]
    return {"a": round(a, 4), "b": round(b, 2), "n": n, "max_rel_err": round(max(errs), 4)}


def calibration() -> dict:
    return json.loads(CALIBRATION.read_text())["fit"] if CALIBRATION.exists() else {}


def predict(est: dict, family: str, cal: dict | None = None) -> dict:
    """Device utilisation predicted from the analytical estimate (identity where uncalibrated)."""
    cal = calibration() if cal is None else cal
    f = cal.get(family, {})
    out = {}
    for r in RESOURCES:
        line = f.get(r, {"a": 1.0, "b": 0.0})
        out[r] = max(0, round(line["a"] * est[r] + line["b"]))
    return out


def overflows(pred: dict, family: str) -> dict:
    """{resource: (predicted, limit)} for every resource above its limit."""
    out = {}
    for r in RESOURCES:
        limit = int(AVAILABLE[family][r] * FILL[family][r])
        if pred[r] > limit:
            out[r] = (pred[r], limit)
    return out


# --------------------------------------------------------------------------- candidates
def _candidate_targets(prog, max_lanes: int | None) -> list[float]:
    """Every cycles-per-LR-pixel target at which some engine's fold changes, fastest first."""
    floor = serial_floor(prog)
    t0 = max(v for k, v in floor.items() if k != "head")
    vals = {t0}
    for g in geometry(prog):
        for pe in _divisors(g.ch_per_window):
            for simd in _divisors(9 * g.layer.cin):
                if max_lanes and simd * pe > max_lanes:
                    continue
                c = engine_cycles(g, LayerFold(simd, pe))
                if c > t0:
                    vals.add(c)
    return sorted(vals)


def choose_fold(prog, board: str, max_width: int, max_lanes: int | None = None, scale_mult: str | None = None,
                **build_kw) -> tuple[FoldConfig, dict]:
    """The fastest fold predicted to fit `board`; (fold, choice) where choice records the
    prediction, the limits, how many candidates were tried and whether it fits. When none fits,
    the candidate closest to fitting (smallest worst used/limit ratio) with what overflows."""
    family = _family(board)
    cal = calibration()
    modes = [scale_mult] if scale_mult else ["dsp", "shiftadd"]
    tried, seen, best = 0, set(), None        # best: the candidate closest to fitting
    limits = _limits(family)
    for t in _candidate_targets(prog, max_lanes):
        for mode in modes:
            f = auto_fold(prog, target=t, max_lanes=max_lanes, scale_mult=mode)
            key = json.dumps(f.to_dict(), sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            tried += 1
            pred = predict(estimate_raw(prog, f, board, max_width, **build_kw), family, cal)
            over = overflows(pred, family)
            tp = throughput(prog, f) if prog.binary_layers else {"cycles_per_lr_pixel": t, "lanes": 0}
            worst = max(pred[r] / max(limits[r], 1) for r in RESOURCES)
            if best is None or worst < best[0]:
                best = (worst, f, pred, over, tp)
            if not over:
                return f, {"fits": True, "predicted": pred, "limits": _limits(family), "candidates": tried,
                           "cycles_per_lr_pixel": tp["cycles_per_lr_pixel"], "lanes": tp["lanes"],
                           "calibrated": bool(cal.get(family))}
    _, f, pred, over, tp = best
    return f, {"fits": False, "predicted": pred, "limits": _limits(family), "candidates": tried,
               "over": {r: {"predicted": p, "limit": l} for r, (p, l) in over.items()},
               "cycles_per_lr_pixel": tp["cycles_per_lr_pixel"], "lanes": tp["lanes"],
               "calibrated": bool(cal.get(family))}


def _limits(family: str) -> dict:
    return {r: int(AVAILABLE[family][r] * FILL[family][r]) for r in RESOURCES}


def resolve_fold_spec(prog, fold, board: str | None = None, max_width: int | None = None, **build_kw):
    """A FoldConfig from a fold specification (module docstring); "auto" needs `board`."""
    return resolve_fold_choice(prog, fold, board, max_width, **build_kw)[0]


def resolve_fold_choice(prog, fold, board: str | None = None, max_width: int | None = None,
                        **build_kw) -> tuple[FoldConfig, dict | None]:
    if isinstance(fold, FoldConfig):
        return fold, None
    if isinstance(fold, dict):
        return FoldConfig.from_dict(fold), None
    if fold is None:
        fold = "auto"
    spec = str(fold)
    mult = None
    if spec.endswith(",shiftadd"):
        spec, mult = spec[:-len(",shiftadd")], "shiftadd"
    head, _, arg = spec.partition(":")
    lanes = int(arg) if arg else None
    if head == "auto":
        if board is None:
            raise ValueError("fold 'auto' needs a board (use 'balanced' for the board-independent fold)")
        return choose_fold(prog, board, max_width, max_lanes=lanes, scale_mult=mult, **build_kw)
    if head == "balanced":
        return auto_fold(prog, max_lanes=lanes, scale_mult=mult or "dsp"), None
    if head == "min" and not arg:
        return auto_fold(prog, max_lanes=1, head_macs=1, scale_mult=mult or "dsp"), None
    p = Path(str(fold))
    if p.is_file():
        return FoldConfig.from_dict(json.loads(p.read_text())), None
    raise ValueError(f"fold must be 'auto', 'auto:N', 'balanced', 'balanced:N', 'min' (each optionally "
                     f"',shiftadd'), a FoldConfig or a JSON file, not {fold!r}")
