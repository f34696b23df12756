"""The row-serial accelerator's schedule, memory rings, budget and cycle model, and an executable
model that runs the schedule on that memory layout (bit-exact against sw.golden).

Jobs (one output row of one layer each)
  head(y)      pixel rows y-1..y+1              -> features row y (ring "fp"), bits row y ("bits.0")
  bin(l, y)    bits.l rows y-1..y+1, fp row y   -> fp row y in place, bits row y of layer l+1
  up(y)        bits.n rows y-1..y+1, fp row y   -> HR features rows r*y..r*y+r-1 ("hrfp") and bits
  hr(h)        HR bits rows h-1..h+1, hrfp row h -> hrfp row h in place
  tail(h)      feature rows h-1..h+1 (+ the pixel rows of the skip) -> output pixel row h
Rows outside the image are not read (the 3x3 window's zero padding), so a job never waits for them.

Period t (the static wavefront; jobs run in this order, each only if its row exists):
  head(t), bin(1, t-1) ... bin(n, t-n),
  r = 1:  tail(t-n-1)
  r > 1:  up(u), hr(r*u-1 .. r*u+r-2), tail(r*u-2 .. r*u+r-3)     with u = t-n-1
Every job finds what it reads written by a job earlier in the same period or in an earlier one
(`check_order` proves it for a given geometry), and a frame takes H + n + 2 periods.
Pixel row p is received during period max(0, p - 1 - RX_AHEAD), i.e. the link fills the ring
RX_AHEAD rows ahead of the head so reception overlaps computation.

Rings: row p of a ring lives in slot p mod depth. `ring_depths` finds, from the schedule, the
smallest depth at which no row is overwritten before its last read; the executable model tags
every slot with the row it holds and fails on any read that finds another row there.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np
import torch

from sw import golden
from sw.formats import TAPS
from sw.program import BinaryLayer, Program

#: the link receives this many pixel rows ahead of the row the head needs next
RX_AHEAD = 1

# Planned datapaths (the sizing assumptions the gateware is built to; docs/boards.md):
#: XNOR-popcount lanes of the shared binary datapath: cin, one kernel tap per cycle (9 cycles per
#: output channel and pixel; 3*cin lanes and 3 cycles until row 36 of docs/boards.md)
LANES_PER_CIN = 1
#: cycles per output channel of a binary job besides the pixels: its weights from the 16-bit
#: parameter memory (9*cin/16 words) and the scale/RPReLU pipeline
BIN_CO_OVERHEAD = 8
#: SB_MAC16s of the head (output channels in parallel) and of the tail (one per colour)
HEAD_MACS = 2
#: cycles per row job besides its pixels (sequencer, pipeline fill)
JOB_OVERHEAD = 16
#: iCE40UP5K memories
SPRAM_WORDS, SPRAM_BLOCKS = 16384, 4
EBR_BITS, EBR_WIDTH, EBR_BLOCKS = 4096, 16, 30


@dataclass(frozen=True)
class Job:
    kind: str      # "head" | "bin" | "up" | "hr" | "tail"
    row: int       # output row: LR for head/bin/up (and tail when r = 1), HR for hr/tail when r > 1
    layer: int = -1  # index into Program.binary_layers for bin/up/hr


class ScheduleError(ValueError):
    pass


def _shape(prog: Program) -> tuple[int, int]:
    """(n body layers, r) of a program the row-serial schedule covers."""
    ups = prog.config.up_factors
    if len(ups) > 1:
        raise ScheduleError(f"the row-serial schedule covers one up-sampling unit (x2, x3); "
                            f"x{prog.config.scale} has {len(ups)}")
    return prog.config.units, (ups[0] if ups else 1)


def period_jobs(t: int, n: int, r: int, height: int) -> list[Job]:
    """The jobs of period t for an LR frame of `height` rows, in execution order."""
    jobs = [Job("head", t)] + [Job("bin", t - l, l - 1) for l in range(1, n + 1)]
    u = t - n - 1
    if r == 1:
        jobs.append(Job("tail", u))
        hi = {"head": height, "bin": height, "tail": height}
    else:
        jobs.append(Job("up", u, n))
        jobs += [Job("hr", h, n + 1) for h in range(r * u - 1, r * u + r - 1)]
        jobs += [Job("tail", h) for h in range(r * u - 2, r * u + r - 2)]
        hi = {"head": height, "bin": height, "up": height, "hr": r * height, "tail": r * height}
    return [j for j in jobs if 0 <= j.row < hi[j.kind]]


def periods(n: int, r: int, height: int) -> int:
    return height + n + 2


def _rows(lo: int, hi: int, limit: int) -> range:
    return range(max(lo, 0), min(hi, limit - 1) + 1)


def job_access(job: Job, n: int, r: int, height: int) -> tuple[list, list]:
    """(reads, writes) of a job: lists of (ring, row)."""
    H, y = height, job.row
    if job.kind == "head":
        return ([("pix", p) for p in _rows(y - 1, y + 1, H)],
                [("fp", y)] + ([("bits.0", y)] if n > 0 or r > 1 else []))
    if job.kind == "bin":
        l = job.layer
        return ([(f"bits.{l}", p) for p in _rows(y - 1, y + 1, H)] + [("fp", y)],
                [("fp", y), (f"bits.{l + 1}", y)] if l + 1 < n or r > 1 else [("fp", y)])
    if job.kind == "up":
        hrs = range(r * y, r * y + r)
        return ([(f"bits.{n}", p) for p in _rows(y - 1, y + 1, H)] + [("fp", y)],
                [("hrfp", h) for h in hrs] + [(f"bits.{n + 1}", h) for h in hrs])
    if job.kind == "hr":
        return ([(f"bits.{n + 1}", p) for p in _rows(y - 1, y + 1, r * H)] + [("hrfp", y)],
                [("hrfp", y)])
    # tail
    if r == 1:
        return [("fp", p) for p in _rows(y - 1, y + 1, H)] + [("pix", y)], []
    ly = y // r
    return ([("hrfp", p) for p in _rows(y - 1, y + 1, r * H)]
            + [("pix", p) for p in _rows(ly - 1, ly + 1, H)]), []


def pixel_arrival(p: int) -> int:
    return max(0, p - 1 - RX_AHEAD)


def events(n: int, r: int, height: int):
    """Every access in schedule order: (time, ring, row, 'r' | 'w'), time = (period, position);
    pixel rows are written at (period, -1): during the whole period they are received in."""
    ev = [((pixel_arrival(p), -1), "pix", p, "w") for p in range(height)]
    for t in range(periods(n, r, height)):
        for pos, job in enumerate(period_jobs(t, n, r, height)):
            reads, writes = job_access(job, n, r, height)
            ev += [((t, pos), ring, row, "r") for ring, row in reads]
            ev += [((t, pos), ring, row, "w") for ring, row in writes]
    return ev


def check_order(n: int, r: int, height: int):
    """Every read finds its row written earlier (an in-place job reads what an earlier job
    wrote) and every row is read by a later job; raises ScheduleError otherwise."""
    first_w = {}
    for time, ring, row, rw in sorted(events(n, r, height), key=lambda e: (e[0], e[3] == "w")):
        key = (ring, row)
        if rw == "w":
            first_w.setdefault(key, time)
        elif key not in first_w:
            raise ScheduleError(f"{ring} row {row} read at period {time[0]} before it is written")


def ring_depths(n: int, r: int, height: int | None = None) -> dict:
    """Smallest ring depth per ring: row p + depth may be written only after the last read of
    row p (a pixel row is written during its whole arrival period, so strictly before it)."""
    height = height or 4 * (n + 8)
    first_w, last_r = {}, {}
    for time, ring, row, rw in events(n, r, height):
        if rw == "w":
            first_w[(ring, row)] = min(first_w.get((ring, row), time), time)
        else:
            last_r[(ring, row)] = max(last_r.get((ring, row), time), time)
    depths = {}
    for ring in sorted({k[0] for k in first_w}):
        rows = sorted(row for rg, row in first_w if rg == ring)
        d = 1
        while any((ring, p + d) in first_w and last_r.get((ring, p), (-1, -1)) >= first_w[(ring, p + d)]
                  for p in rows):
            d += 1
        depths[ring] = d
    return depths


# --------------------------------------------------------------------------- budget and cycles
def ring_geometry(prog: Program, max_width: int) -> dict:
    """Per ring: (depth, row width in pixels, bits per pixel)."""
    n, r = _shape(prog)
    C, fmt, colors = prog.config.channels, prog.fmt, prog.config.colors
    depths = ring_depths(n, r)
    geo = {"pix": (depths["pix"], max_width, 8 * colors), "fp": (depths["fp"], max_width, C * fmt.bits)}
    for i, layer in enumerate(prog.binary_layers):
        w = max_width * r if (r > 1 and i == n + 1) else max_width
        geo[f"bits.{i}"] = (depths[f"bits.{i}"], w, layer.cin)
    if r > 1:
        geo["hrfp"] = (depths["hrfp"], max_width * r, C * fmt.bits)
    return geo


def budget(prog: Program, max_width: int) -> dict:
    """Memory of the row-serial plan on the UP5K: 16-bit single-port RAM words (features, pixels,
    weights, per-channel constants) against the SPRAM, binary rings in EBR (256 x 16 each)."""
    geo = ring_geometry(prog, max_width)
    words = {}
    ebr = 0
    for ring, (depth, width, bits) in geo.items():
        if ring.startswith("bits."):
            ebr += ceil(bits / EBR_WIDTH) * ceil(depth * width / (EBR_BITS // EBR_WIDTH))
        else:
            words[ring] = depth * width * ceil(bits / 16)
    layers = prog.binary_layers
    words["weights"] = sum(l.cout * TAPS * ceil(l.cin / 16) for l in layers)
    # per output channel: threshold of the next layer, A, B (32 bits), S, Z
    words["constants"] = sum(l.cout * 6 for l in layers)
    total = sum(words.values())
    return {"spram_words": words, "spram_total": total, "spram_available": SPRAM_WORDS * SPRAM_BLOCKS,
            "ebr_rings": ebr, "ebr_available": EBR_BLOCKS,
            "fits": total <= SPRAM_WORDS * SPRAM_BLOCKS and ebr <= EBR_BLOCKS}


def job_cycles(job: Job, prog: Program, width: int) -> int:
    """Planned cycles of one row job on a stripe `width` LR pixels wide."""
    n, r = _shape(prog)
    C, colors = prog.config.channels, prog.config.colors
    if job.kind == "head":
        return JOB_OVERHEAD + width * ceil(C / HEAD_MACS) * TAPS * colors
    if job.kind == "tail":
        return JOB_OVERHEAD + width * r * TAPS * C          # one MAC per colour, in parallel
    layer = prog.binary_layers[job.layer]
    w = width * r if job.kind == "hr" else width
    return JOB_OVERHEAD + layer.cout * (ceil(TAPS / LANES_PER_CIN) * w + TAPS * ceil(layer.cin / 16)
                                        + BIN_CO_OVERHEAD)


def cycle_model(prog: Program, width: int, height: int) -> int:
    """Planned cycles of a whole stripe (width x height LR pixels), link stalls excluded."""
    n, r = _shape(prog)
    return sum(job_cycles(j, prog, width) for t in range(periods(n, r, height))
               for j in period_jobs(t, n, r, height))


# --------------------------------------------------------------------------- executable model
def binary_row(layer: BinaryLayer, fmt, band: torch.Tensor, k: int, residual: torch.Tensor,
               next_thresh=None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One binary row job (bin, hr or up), the golden twin of the row engine: `band` holds the
    input bits of the rows that exist among y-1..y+1 ([1, cin, h, W]; row y at index k),
    `residual` the features of row y ([1, C, 1, W]). Returns the output rows ([1, C, r, r*W]) and
    their bits through `next_thresh` (None: no binary layer follows)."""
    dot = golden.binary_conv(band, layer.weight_bits(), layer.cin)[:, :, k:k + 1]
    v = golden.scale_rprelu(dot, layer, fmt)
    x = golden.residual_add(golden.pixel_shuffle(v, layer.r), golden.nearest_up(residual, layer.r), fmt)
    return x, (golden.threshold(x, next_thresh) if next_thresh is not None else None)


class _Rings:
    """Ring memories with a row tag per slot; a read that finds another row fails."""

    def __init__(self, depths: dict):
        self.depths, self.data, self.tags = depths, {}, {k: [None] * d for k, d in depths.items()}

    def write(self, ring: str, row: int, value: torch.Tensor):
        slot = row % self.depths[ring]
        self.data[(ring, slot)] = value.clone()
        self.tags[ring][slot] = row

    def read(self, ring: str, row: int) -> torch.Tensor:
        slot = row % self.depths[ring]
        if self.tags[ring][slot] != row:
            raise ScheduleError(f"ring {ring} slot {slot}: row {row} needed, row {self.tags[ring][slot]} found")
        return self.data[(ring, slot)]

    def band(self, ring: str, rows: range) -> torch.Tensor:
        """Rows stacked along the height axis ([1, ch, len(rows), W])."""
        return torch.cat([self.read(ring, p) for p in rows], dim=2)


def run(prog: Program, img: np.ndarray, depths: dict | None = None) -> np.ndarray:
    """Restore one uint8 image with the row-serial schedule on its rings (golden unit functions per
    row job); equals sw.golden.run bit for bit. `depths` overrides ring_depths (tests)."""
    n, r = _shape(prog)
    fmt, layers = prog.fmt, prog.binary_layers
    pix = golden.to_nchw(img)
    H, W = pix.shape[2], pix.shape[3]
    rings = _Rings(depths or ring_depths(n, r))
    out = torch.zeros(1, prog.config.colors, H * r, W * r, dtype=torch.int64)
    received = 0

    for t in range(periods(n, r, H)):
        while received < H and pixel_arrival(received) <= t:
            rings.write("pix", received, pix[:, :, received:received + 1])
            received += 1
        for job in period_jobs(t, n, r, H):
            y = job.row
            if job.kind == "head":
                rows = _rows(y - 1, y + 1, H)
                x = golden.head(rings.band("pix", rows), prog.head, fmt)[:, :, y - rows.start:y - rows.start + 1]
                rings.write("fp", y, x)
                if layers:
                    rings.write("bits.0", y, golden.threshold(x, layers[0].thresh))
            elif job.kind in ("bin", "hr", "up"):
                l = job.layer
                limit, src = (r * H, "hrfp") if job.kind == "hr" else (H, "fp")
                dst = "hrfp" if job.kind == "up" else src
                rows = _rows(y - 1, y + 1, limit)
                nxt = layers[l + 1].thresh if l + 1 < len(layers) else None
                x, bits = binary_row(layers[l], fmt, rings.band(f"bits.{l}", rows), y - rows.start,
                                     rings.read(src, y), nxt)
                rr = layers[l].r
                for i in range(rr):
                    rings.write(dst, rr * y + i, x[:, :, i:i + 1])
                    if bits is not None:
                        rings.write(f"bits.{l + 1}", rr * y + i, bits[:, :, i:i + 1])
            else:  # tail
                fp, limit = ("fp", H) if r == 1 else ("hrfp", r * H)
                rows = _rows(y - 1, y + 1, limit)
                acc = golden.tail_conv(rings.band(fp, rows), prog.tail)[:, :, y - rows.start:y - rows.start + 1]
                ly = y // r
                prow = _rows(ly - 1, ly + 1, H) if r > 1 else range(y, y + 1)
                skip = golden.tail_skip(rings.band("pix", prow), prog.tail)
                k = r * (ly - prow.start) + y % r
                out[:, :, y:y + 1] = golden.tail_output(acc, skip[:, :, k:k + 1], prog.tail)
    res = golden.to_hwc(out)
    return res[:, :, 0] if np.asarray(img).ndim == 2 else res
