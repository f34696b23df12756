"""The whole compiled program as one streaming dataflow, generated from a Program + FoldConfig.

SR:        pixels -fork-> WindowGen -> HeadConv -> BBCU-B x n -> BBCU-U (x1 or x2) -> BBCU-B (HR)
                     \\                                                               -> FeatureWindow -> TailConv -> pixels
                      \\-> skip FIFO -> BilinearSkip (x r) ---------------------------------------------> TailConv.skip
denoise/JPEG: the same without the up-sampling units; the skip is the input itself (identity).

Stream signature
  i: In(stream of pixels)   the stripe, LR raster order
  o: Out(stream of pixels)  the restored stripe, HR raster order (width*r x height*r)
  width, height: In         LR stripe geometry, stable during a stripe and from 3 cycles before its
                            first pixel (each unit registers its own copy, hw/static_copy.py: the
                            pixel window and the bilinear skip from these inputs, every layer from
                            the copy of the unit before it, the feature window from the last
                            layer's: a chain along the dataflow, whose k-th copy settles k cycles
                            after the first, long before the first pixel has passed k units; each
                            of these units reads a copy of its chain copy, one cycle later)
Cycle model: hw/fold.py throughput() (cycles per LR pixel of the slowest stage) x pixels + fill.
Golden twin: sw.golden.run_features(...)["out"].
"""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats
from sw.program import Program

from . import layouts
from .bbcu_layer import BBCULayer
from .stream_fifo import StreamFIFO
from .bilinear import BilinearSkip
from .feature_window import FeatureWindow
from .fold import FoldConfig, auto_fold, head_cut_half_rate, throughput
from .fork import Broadcast
from .head import HeadConv
from .reset_tree import COPY_FF, cleared, region_copy
from .estimate import throwaway, total
from .skid import SkidBuffer, pipe
from .static_copy import GEO_FF, geometry_copy
from .tail import TailConv
from .window import WindowGen


def receptive_halo(prog: Program) -> int:
    """LR pixels of context each output needs on each side of a stripe.

    A zero-padded stripe edge contaminates one more pixel per 3x3 conv, at that conv's
    resolution. SR: head + n body + the first BBCU-U conv at LR (n + 2 LR pixels), then the
    remaining convs at higher resolution (x4: one at x2 and two at x4; x2/x3: two at HR) add
    at most one LR pixel: n + 3. Denoise/JPEG: head + n + tail = n + 2. The bilinear skip needs
    one pixel, which is always covered.
    """
    cfg = prog.config
    return cfg.units + (3 if cfg.task == "sr" else 2)


def skip_fifo_depth(prog: Program, max_width: int) -> int:
    """Input pixels that enter before the tail consumes the first skip value: about one LR row
    per layer of latency plus the bilinear unit's rows, with margin."""
    rows = receptive_halo(prog) + 4
    return rows * max_width + 16


class Network(wiring.Component):
    def __init__(self, prog: Program, fold: FoldConfig | None = None, max_width: int = 64, max_height: int = 64):
        self.prog = prog
        self.fold = fold or auto_fold(prog)
        self.max_width, self.max_height = max_width, max_height
        cfg = prog.config
        self.colors, self.scale = cfg.colors, cfg.scale
        super().__init__({
            "i": In(stream.Signature(layouts.pixel(cfg.colors))),
            "o": Out(stream.Signature(layouts.pixel(cfg.colors))),
            "width": In(16),
            "height": In(16),
            # a clear request: every unit (and skid buffer) is reset two cycles later, each from its
            # own registered copy of its region's copy (hw/reset_tree.py; the accelerator drives it
            # from the link)
            "clear": In(1),
        })

    def model(self) -> dict:
        return throughput(self.prog, self.fold)

    def cycle_model(self, width: int, height: int) -> int:
        t = self.model()
        return int(round(t["cycles_per_lr_pixel"] * width * height))

    def units(self) -> dict:
        """The network's units (fresh instances), as elaborate() instantiates them."""
        prog, fmt, cfg = self.prog, self.prog.fmt, self.prog.config
        colors, mw, mh = cfg.colors, self.max_width, self.max_height
        bil_mode = "bilinear" if prog.tail.skip == "bilinear" else "identity"
        head = HeadConv(prog.head, fmt, colors, self.fold.head_macs, split_lrelu=True, dsp_reg=True)
        # the pixel window decoupled from the head's ready (which then does not reach its step
        # logic and pass registers: row 127's paths over 8 ns) when that costs no throughput: the
        # head takes two or more cycles per pixel (as hw/bbcu_layer.layer_window)
        u = {"fork": Broadcast(layouts.pixel(colors)),
             "pwin": WindowGen(8 * colors, mw, mh, decoupled=head.cycles_per_pixel() >= 2),
             "head": head,
             "skipq": StreamFIFO(layouts.pixel(colors), skip_fifo_depth(prog, mw)),
             "bil": BilinearSkip(prog.tail.r, colors, mw, mh, mode=bil_mode)}
        res = 1
        for i, (layer, f) in enumerate(zip(prog.binary_layers, self.fold.layers)):
            u[f"layer{i}"] = BBCULayer(layer, fmt, f, mw * res, mh * res, self.fold.scale_mult)
            res *= layer.r
        u["fwin"] = FeatureWindow(cfg.channels, fmt, mw * res, mh * res)
        u["tail"] = TailConv(prog.tail, fmt, cfg.channels, colors, dsp_reg=True)
        return u

    def resource_estimate(self) -> dict:
        """Sum of the units' estimates plus the network's five SkidBuffers, a reset copy for each
        and the geometry copies (boards/fit.py scales it to a device with the calibration of
        boards/calibration.json)."""
        u = self.units()
        fmt = self.prog.fmt
        skids = [SkidBuffer(layouts.feature(fmt)), SkidBuffer(layouts.feature(fmt)), SkidBuffer(layouts.feature(fmt)),
                 SkidBuffer(layouts.pixel(self.colors)),
                 SkidBuffer(layouts.window(8 * self.colors), half_rate=head_cut_half_rate(u["head"].cycles_per_pixel()))]
        throwaway(*u.values(), *skids)
        geo_users = 2 + 2 * (1 + len(self.prog.binary_layers))   # pwin, bil; fwin, the layers: two each
        # reset copies: one per unit but the layers (their sub-units have their own, in their estimate)
        copies = {"ff": COPY_FF * (1 + len(u) - len(self.prog.binary_layers) + len(skids)) + GEO_FF * geo_users}
        return total([x.resource_estimate() for x in [*u.values(), *skids]] + [copies])

    def elaborate(self, platform):
        m = Module()
        prog, cfg = self.prog, self.prog.config
        u = self.units()
        # the reset tree's second level for the units outside the layers (each layer takes its own)
        clear = region_copy(m, self.clear, "net")

        def add(name):
            m.submodules[name] = cleared(m, clear, name, u[name])
            return u[name]
        fork, pwin, head, skipq, bil = (add(k) for k in ("fork", "pwin", "head", "skipq", "bil"))

        wiring.connect(m, wiring.flipped(self.i), fork.i)
        # pixel words: colour k at bits [8k, 8k+8) (layouts.pixel), window elements are the same bits
        m.d.comb += [pwin.i.payload.eq(fork.a.payload), pwin.i.valid.eq(fork.a.valid), fork.a.ready.eq(pwin.i.ready)]
        # (head counters -> ready -> window step was an ECP5 critical path)
        # (the half-rate variant when the head takes many cycles per pixel: then its pipeline enable,
        # i.ready, reaches only the cut's valid flags, not the 225 data bits' clock enables)
        self.cut_head = pipe(m, "cut_head", pwin.o, head.i, clear=clear,
                             half_rate=head_cut_half_rate(head.cycles_per_pixel()))
        wiring.connect(m, fork.b, skipq.i)
        wiring.connect(m, skipq.o, bil.i)
        # each unit reads its own registered copy of the geometry (hw/static_copy.py), the layers
        # and the feature window through a chain along the dataflow: a transport copy per unit from
        # the previous unit's (scaled by that unit's r), so every geometry net runs between
        # neighbouring units (from one copy at the link to all of them, a 12.3 ns route was x4-base's
        # critical path, row 91), and the unit's own copy from its transport copy (without it the
        # chain drew the window generators' pass registers, which read the height, across the die:
        # rows 92-95)
        geo = {}
        for name, unit in (("pwin", pwin), ("bil", bil)):
            geo[name] = geometry_copy(m, self.width, self.height, name)
            m.d.comb += [unit.width.eq(geo[name][0]), unit.height.eq(geo[name][1])]
        w_c, h_c = geo["pwin"]

        src = head.o
        res, r_prev = 1, 1
        for i, layer in enumerate(prog.binary_layers):
            # (a layer resets its sub-units from their own copies of the request: hw/bbcu_layer.py)
            m.submodules[f"layer{i}"] = unit = u[f"layer{i}"]
            m.d.comb += unit.clear.eq(self.clear)
            if i == 0:
                # a cut at the head's output: the head's pipeline enable (every stage's clock enable)
                # then reads a skid flag placed beside the head, not layer 0's input cut (x4-base
                # docs/boards.md row 133: that flag -> the enable -> 10.7 ns route -> the head's
                # operand registers, 12.35 ns)
                self.cut_head_o = pipe(m, "cut_head_o", src, unit.i, clear=clear)
            else:
                wiring.connect(m, src, unit.i)
            w_c, h_c = geometry_copy(m, w_c * r_prev, h_c * r_prev, f"chain_layer{i}")
            w_u, h_u = geometry_copy(m, w_c, h_c, f"layer{i}")
            m.d.comb += [unit.width.eq(w_u), unit.height.eq(h_u)]
            r_prev = layer.r
            res *= layer.r
            src = unit.o

        fwin, tail = add("fwin"), add("tail")
        # SkidBuffers (hw/skid.py) cut the handshake between stages (every BBCULayer cuts its own)
        pipe(m, "cut_fwin", src, fwin.i, clear=clear)
        w_c, h_c = geometry_copy(m, w_c * r_prev, h_c * r_prev, "chain_fwin")
        w_u, h_u = geometry_copy(m, w_c, h_c, "fwin")
        m.d.comb += [fwin.width.eq(w_u), fwin.height.eq(h_u)]
        pipe(m, "cut_tail", fwin.o, tail.i, clear=clear)
        pipe(m, "cut_skip", bil.o, tail.skip, clear=clear)
        wiring.connect(m, tail.o, wiring.flipped(self.o))
        # the stages, for profiling (benchmarks/stage_profile.py)
        self.stages = {"pwin": pwin, "head": head, "skipq": skipq, "bil": bil, "fwin": fwin, "tail": tail,
                       **{f"layer{i}": u[f"layer{i}"] for i in range(len(prog.binary_layers))}}
        assert res == cfg.scale, (res, cfg.scale)
        assert formats.BILINEAR_FRAC == 16
        return m
