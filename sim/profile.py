"""Stage profile of the generated network in Amaranth's simulator: feed a stripe at full speed
(input always valid, output always ready) and count, for every stream between stages, the cycles
it transferred, was back-pressured (valid, not ready) or starved (not valid).

The bottleneck stage is the one that is neither starved nor back-pressured in steady state;
a stage starved while its producer is back-pressured points at a dependency stall. This is how
the BBCU-U replay stall (the up-sampler's window generator takes no input during replay passes,
which throttled the layer upstream: 1664 instead of 1152 cycles per LR pixel on x2-tiny) was
found. `benchmarks/stage_profile.py` prints it; tests/test_hw_network.py checks the steady state
against the throughput model.
"""
from __future__ import annotations

import numpy as np
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hw.fold import FoldConfig, auto_fold, throughput
from hw.network import Network
from sw import golden
from sw.program import Program

PORTS = ("i", "o", "x", "v", "skip", "a", "b")


def _streams(net) -> list[tuple[str, object]]:
    out = []

    def walk(prefix, comp):
        for k, v in getattr(comp, "stages", {}).items():
            for port in PORTS:
                s = getattr(v, port, None)
                if s is not None and hasattr(s, "valid"):
                    out.append((f"{prefix}{k}.{port}", s))
            walk(f"{prefix}{k}.", v)

    walk("", net)
    return out


def profile(prog: Program, img: np.ndarray, fold: FoldConfig | None = None, monitor: bool = True) -> dict:
    """Run one stripe `img` (H x W x colours, uint8) through the network; returns cycle counts,
    the steady-state cycles per LR pixel (first to last output pixel), the model's figure, the
    per-stream counts (when `monitor`) and whether the output equals the golden model."""
    fold = fold or auto_fold(prog)
    cfg = prog.config
    a = img if img.ndim == 3 else img[:, :, None]
    h, w, c = a.shape
    r2 = cfg.scale ** 2
    net = Network(prog, fold, max_width=w, max_height=h)
    frag = Fragment.get(net, None)
    streams = _streams(net) if monitor else []
    counts = {name: [0, 0, 0] for name, _ in streams}
    pix = [sum(int(a[y, x, k]) << (8 * k) for k in range(c)) for y in range(h) for x in range(w)]
    res: dict = {"out": []}

    async def bench(ctx):
        ctx.set(net.width, w)
        ctx.set(net.height, h)
        ctx.set(net.o.ready, 1)
        await ctx.tick()
        k = cyc = 0
        first = last = None
        while len(res["out"]) < h * w * r2:
            ctx.set(net.i.valid, k < len(pix))
            if k < len(pix):
                ctx.set(net.i.payload.as_value(), pix[k])
            for name, s in streams:
                v, rd = ctx.get(s.valid), ctx.get(s.ready)
                counts[name][0 if v and rd else 1 if v else 2] += 1
            fire_i = k < len(pix) and ctx.get(net.i.ready)
            out = ctx.get(net.o.payload.as_value()) if ctx.get(net.o.valid) else None
            await ctx.tick()
            cyc += 1
            k += bool(fire_i)
            if out is not None:
                res["out"].append(out)
                first = cyc if first is None else first
                last = cyc
        res.update(cycles=cyc, first=first, last=last)

    sim = Simulator(frag)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    model = throughput(prog, fold)
    words = np.array(res["out"], dtype=np.uint32)
    got = np.stack([(words >> (8 * k)) & 0xFF for k in range(c)], -1).astype(np.uint8)
    got = got.reshape(h * cfg.scale, w * cfg.scale, c)
    ref = golden.run(prog, img).reshape(got.shape)
    steady = (res["last"] - res["first"]) / max(1.0, h * w - 1 / r2)
    return {
        "image": f"{w}x{h}", "cycles": res["cycles"], "first_out": res["first"], "last_out": res["last"],
        "steady_cycles_per_lr_pixel": steady, "model_cycles_per_lr_pixel": model["cycles_per_lr_pixel"],
        "model_error": steady / model["cycles_per_lr_pixel"] - 1, "bottleneck": model["bottleneck"],
        "bit_exact": bool(np.array_equal(got, ref)),
        "streams": {n: dict(zip(("fire", "backpressured", "starved"), v)) for n, v in counts.items()},
    }
