"""Fold factors and the throughput model of the streaming dataflow (FINN-style balancing).

Every stage of the network is a streaming unit; its cost is counted in cycles per *LR input
pixel* so that stages at LR and at HR resolution compare directly. The network's steady-state
throughput is set by its slowest stage; `auto_fold` gives every binary engine the fewest lanes
(SIMD x PE) that keep it no slower than a target, so no layer is much slower than the others and
lanes are not wasted (utilisation = ideal binary MACs / (lanes x cycles)).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sw.formats import TAPS
from sw.program import BinaryLayer, Program


@dataclass
class LayerFold:
    simd: int          # window bits per cycle (divides 9*cin)
    pe: int            # output channels per cycle (divides the channels emitted per window)


@dataclass
class FoldConfig:
    layers: list[LayerFold]
    head_macs: int = 1
    scale_mult: str = "dsp"          # "dsp" | "shiftadd"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FoldConfig":
        return cls([LayerFold(**l) for l in d["layers"]], d.get("head_macs", 1), d.get("scale_mult", "dsp"))


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass
class LayerGeometry:
    """How one binary layer sits in the network, per LR input pixel of the stripe."""
    layer: BinaryLayer
    area: int                # output-resolution pixels of this layer's *input* per LR pixel (1, r^2, ...)
    windows: int             # windows the engine sees per LR pixel (area * passes)
    ch_per_window: int       # channels emitted per window

    @property
    def macs(self) -> int:
        """Binary MACs per LR pixel (the ideal work, no halo)."""
        return self.windows * self.ch_per_window * TAPS * self.layer.cin


def geometry(prog: Program) -> list[LayerGeometry]:
    out, area = [], 1
    for l in prog.binary_layers:
        if l.r == 1:
            out.append(LayerGeometry(l, area, area, l.cout))
        else:
            out.append(LayerGeometry(l, area, area * l.r, l.cout // l.r))
            area *= l.r * l.r
    return out


def engine_cycles(g: LayerGeometry, f: LayerFold) -> float:
    return g.windows * (g.ch_per_window // f.pe) * (TAPS * g.layer.cin // f.simd)


#: the head's input cut is the half-rate SkidBuffer (hw/skid.py) when the head takes at least this
#: many cycles per pixel: it costs one cycle per pixel (counted by throughput()), under 1/8 then
HALF_RATE_HEAD_CYCLES = 8


def head_cut_half_rate(head_cycles: float) -> bool:
    """Whether the head's input cut (cut_head in hw/network.py) is the half-rate variant."""
    return head_cycles >= HALF_RATE_HEAD_CYCLES


def serial_floor(prog: Program) -> dict[str, float]:
    """Cycles per LR pixel of the stages that move one word per cycle (not folded)."""
    c, colors = prog.config.channels, prog.config.colors
    hr = prog.config.scale ** 2
    floor = {"head": c * TAPS * colors, "tail": TAPS * c * hr, "feature_window": TAPS * c * hr}
    for i, g in enumerate(geometry(prog)):
        out_words = g.windows * g.ch_per_window
        floor[f"layer{i}.threshold"] = g.area * g.layer.cin
        floor[f"layer{i}.scale"] = out_words
        floor[f"layer{i}.residual"] = out_words
    return floor


def auto_fold(prog: Program, target: float | None = None, head_macs: int | None = None,
              max_lanes: int | None = None, scale_mult: str = "dsp") -> FoldConfig:
    """Fewest lanes per engine meeting `target` cycles per LR pixel (default: the serial floor)."""
    floor = serial_floor(prog)
    if target is None:
        target = max(v for k, v in floor.items() if k != "head")
    cfg = prog.config
    if head_macs is None:
        head_macs = 1
        while cfg.channels * TAPS * cfg.colors / head_macs > target and head_macs < TAPS * cfg.colors:
            head_macs += 1
        while (TAPS * cfg.colors) % head_macs:
            head_macs += 1
    folds = []
    for g in geometry(prog):
        best = None
        for pe in _divisors(g.ch_per_window):
            for simd in _divisors(TAPS * g.layer.cin):
                if max_lanes and simd * pe > max_lanes:
                    continue
                f = LayerFold(simd, pe)
                if engine_cycles(g, f) <= target:
                    lanes = simd * pe
                    if best is None or lanes < best[0] or (lanes == best[0] and pe < best[1].pe):
                        best = (lanes, f)
        if best is None:            # cannot reach the target: take the fastest allowed
            best = min(((engine_cycles(g, LayerFold(s, p)), LayerFold(s, p))
                        for p in _divisors(g.ch_per_window) for s in _divisors(TAPS * g.layer.cin)
                        if not max_lanes or s * p <= max_lanes), key=lambda t: t[0])
        folds.append(best[1])
    return FoldConfig(folds, head_macs, scale_mult)


def throughput(prog: Program, fold: FoldConfig) -> dict:
    """Model: cycles per LR pixel of every stage, the bottleneck, lanes and ideal utilisation."""
    stages = dict(serial_floor(prog))
    head = stages["head"] / fold.head_macs
    # (+1: the half-rate input cut refills a cycle after the head takes a pixel window)
    stages["head"] = head + (1 if head_cut_half_rate(head) else 0)
    geo = geometry(prog)
    lanes = 0
    macs = 0
    for i, (g, f) in enumerate(zip(geo, fold.layers)):
        stages[f"layer{i}.engine"] = engine_cycles(g, f)
        lanes += f.simd * f.pe
        macs += g.macs
    bottleneck = max(stages, key=stages.get)
    cyc = stages[bottleneck]
    return {"cycles_per_lr_pixel": cyc, "bottleneck": bottleneck, "lanes": lanes,
            "binary_macs_per_lr_pixel": macs, "ideal_utilisation": macs / (lanes * cyc), "stages": stages}
