"""One BBCU-B (r = 1) or BBCU-U (r > 1) unit as a streaming chain of the datapath units.

    i --Broadcast--a--> Threshold -> WindowGen(replay r) -> PopcountEngine -> ScaleRPReLU --v--+
               \\--b--> residual FIFO [-> NearestUpsample (r > 1)] ------------------------x--+-> ResidualAdd -> o

Stream signature
  i: In(stream of features)   layer input, raster order, C per pixel (channel-serial)
  o: Out(stream of features)  layer output: same geometry (BBCU-B) or x r (BBCU-U), C per pixel
  width, height: In            input geometry
  clear: In(1)                 a clear request: every sub-unit (and skid buffer) is reset two cycles
                               later from its own registered copy of the layer's copy (hw/reset_tree.py:
                               one copy for the whole layer drove ~1,850 synchronous resets, an ECP5
                               critical path)
The residual FIFO holds the features that enter while the window generator waits for the next
row: (max_width + 4) pixels x C words (sized from the window latency; see docs/architecture.md).
Cycle model: the slowest of its units (hw/fold.py: throughput).
Golden twin: sw.golden.binary_layer.
"""
from __future__ import annotations

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sw.formats import FeatureFormat
from sw.program import BinaryLayer

from . import layouts
from .fold import LayerFold
from .fork import Broadcast
from .estimate import throwaway, total
from .reset_tree import COPY_FF, cleared, region_copy
from .skid import SkidBuffer, pipe
from .stream_fifo import StreamFIFO
from .popcount import PopcountEngine
from .residual import ResidualAdd
from .scale import ScaleRPReLU
from .threshold import Threshold
from .upsample import NearestUpsample
from .window import WindowGen


def residual_fifo_depth(channels: int, max_width: int) -> int:
    # the window generator may hold up to W+3 pixels past the oldest pending window, and the
    # engine + scale pipelines a few pixels more: one row + 8 pixels of slack
    return channels * (max_width + 8) + 64


#: widest line-buffer word the window generator aims for: an iCE40 EBR port is 16 bits wide (256 x 16),
#: an ECP5 DP16KD 18 (1024 x 18) or 36 (512 x 36); wider words cost blocks for their width alone
WINDOW_WORD_BITS = 16


def window_sub(elem_bits: int, lanes: int, max_step_cycles: int) -> int:
    """Sub-words per line-buffer column (hw/window.py `sub`): the fewest that bring the word
    (lanes x elem_bits / sub) to WINDOW_WORD_BITS, as long as a step (sub + 2 cycles) is no slower
    than `max_step_cycles` (the engine's cycles per window and the channel-serial input's
    cycles per pixel), so the window generator never becomes the layer's bottleneck."""
    q = 1
    while (lanes * elem_bits // q > WINDOW_WORD_BITS and elem_bits % (2 * q) == 0
           and 2 * q + 2 <= max_step_cycles):
        q *= 2
    return q


def layer_window(layer: BinaryLayer, fold: LayerFold, max_width: int, max_height: int) -> WindowGen:
    """The layer's window generator, with the sub-words window_sub allows beside its engine, and
    decoupled from the engine's ready when that costs no throughput."""
    eng = throwaway(PopcountEngine(layer.weight_bits(), layer.cin, fold.simd, fold.pe, passes=layer.r,
                                   max_width=max_width))
    sub = window_sub(layer.cin, 2 if layer.r == 1 else 3, min(eng.cycles_per_window(), layer.cin))
    # decoupled (the engine's ready does not reach the step logic) costs nothing beside an engine
    # that takes two or more cycles per window
    return WindowGen(layer.cin, max_width, max_height, replay=layer.r, sub=sub,
                     decoupled=eng.cycles_per_window() >= 2)


def replay_fifo_depth(channels: int, max_width: int) -> int:
    # an up-sampling unit's window generator takes no input during its replay passes (r-1 of
    # every r passes over an LR row, each half as long as the live pass is paced by the layer
    # upstream): the upstream layer goes on at its own rate into this FIFO, about (r-1)/r of a
    # row of pixels; half a row + 8 pixels for r = 2, with slack
    return channels * (max_width // 2 + 8) + 64


#: the layer's SkidBuffers (elaborate's `pipe` calls)
SKIDS = ("cut_in", "cut_fork", "cut_thr", "cut_eng", "cut_res", "cut_out")


class BBCULayer(wiring.Component):
    def __init__(self, layer: BinaryLayer, fmt: FeatureFormat, fold: LayerFold, max_width: int,
                 max_height: int, scale_mult: str = "dsp"):
        self.layer, self.fmt, self.fold = layer, fmt, fold
        self.max_width, self.max_height = max_width, max_height
        self.scale_mult = scale_mult
        self.channels = layer.cin
        super().__init__({
            "i": In(stream.Signature(layouts.feature(fmt))),
            "o": Out(stream.Signature(layouts.feature(fmt))),
            "width": In(16),
            "height": In(16),
            "clear": In(1),
        })

    def skids(self) -> tuple:
        """The names of this layer's SkidBuffers: SKIDS, and for an up-sampling layer "cut_up"."""
        return SKIDS + (("cut_up",) if self.layer.r > 1 else ())

    def resource_estimate(self) -> dict:
        units = self._units()
        throwaway(*units.values())
        parts = [units[k].resource_estimate() for k in ("thr", "win", "eng", "scale", "add")]
        fifo_bits = residual_fifo_depth(self.channels, self.max_width) * self.fmt.bits
        est = total(parts)
        est["bram_bits"] += fifo_bits
        est["lut"] += 60
        for shape in (layouts.feature(self.fmt), layouts.feature(self.fmt), self.channels, 32, layouts.feature(self.fmt),
                      layouts.feature(self.fmt)) + (layouts.feature(self.fmt),) * (self.layer.r > 1):  # skids()
            sk = throwaway(SkidBuffer(shape)).resource_estimate()
            est["lut"] += sk["lut"]
            est["ff"] += sk["ff"]
        if self.layer.r > 1:
            est["bram_bits"] += replay_fifo_depth(self.channels, self.max_width) * self.fmt.bits
            est["lut"] += 40
        # reset copies: the region's, one per unit and skid, the FIFOs' one per stage and skid
        fifo_copies = sum(2 * len(v.stage_depths) - 1 for v in units.values() if isinstance(v, StreamFIFO))
        plain = sum(not isinstance(v, StreamFIFO) for v in units.values())
        est["ff"] += COPY_FF * (1 + plain + len(self.skids())) + COPY_FF * fifo_copies
        return est

    def _units(self):
        l, fmt, f = self.layer, self.fmt, self.fold
        u = {
            "fork": Broadcast(layouts.feature(fmt)),
            "thr": Threshold(l.thresh, fmt, 1),
            "eng": PopcountEngine(l.weight_bits(), l.cin, f.simd, f.pe, passes=l.r, max_width=self.max_width),
            "scale": ScaleRPReLU(l, fmt, self.scale_mult),
            "add": ResidualAdd(fmt),
            "fifo": StreamFIFO(layouts.feature(fmt), residual_fifo_depth(l.cin, self.max_width), clear=True),
        }
        u["win"] = layer_window(l, f, self.max_width, self.max_height)
        if l.r > 1:
            u["up"] = NearestUpsample(l.cin, l.r, fmt, self.max_width, self.max_height)
            u["inq"] = StreamFIFO(layouts.feature(fmt), replay_fifo_depth(l.cin, self.max_width), clear=True)
        return u

    def elaborate(self, platform):
        m = Module()
        u = self._units()
        self.stages = u           # for profiling (benchmarks/stage_profile.py)
        clear = region_copy(m, self.clear, "layer")   # (the reset tree's second level)
        for k, v in u.items():
            if isinstance(v, StreamFIFO):         # (a copy of the request per stage: hw/stream_fifo.py)
                m.submodules[k] = v
                m.d.comb += v.clear.eq(clear)
            else:
                m.submodules[k] = cleared(m, clear, k, v)
        # SkidBuffers (hw/skid.py) cut the handshake at the layer input and between the
        # channel-serial and the window stages, so no ready path crosses more than one unit; the
        # one behind the residual FIFO is the ring variant (nothing but registers behind its
        # block RAMs)
        if "inq" in u:
            pipe(m, "cut_in", wiring.flipped(self.i), u["inq"].i, clear=clear)
            wiring.connect(m, u["inq"].o, u["fork"].i)
        else:
            pipe(m, "cut_in", wiring.flipped(self.i), u["fork"].i, clear=clear)
        # (a SkidBuffer between the input fork and the threshold unit: the threshold's ready, from its
        # output flags, went to the fork, which sits with the residual FIFO's first block RAM, and on
        # to cut_in's flags: a 6.5 ns route across the die and four LUTs, x4-base row 114's critical
        # path, 12.3 ns)
        pipe(m, "cut_fork", u["fork"].a, u["thr"].i, clear=clear)
        pipe(m, "cut_thr", u["thr"].o, u["win"].i, clear=clear)
        wiring.connect(m, u["win"].o, u["eng"].i)
        pipe(m, "cut_eng", u["eng"].o, u["scale"].i, clear=clear)
        wiring.connect(m, u["scale"].o, u["add"].v)
        wiring.connect(m, u["fork"].b, u["fifo"].i)
        if "up" in u:
            pipe(m, "cut_res", u["fifo"].o, u["up"].i, clear=clear, out_select=True)
            # (a SkidBuffer between the up-sampler and the adder: the adder's handshake, from the scale
            # unit's and the output cut's flags, reached the up-sampler's issue logic and its "word
            # available" compare selection: x4-base docs/boards.md row 109, 11.3 ns)
            pipe(m, "cut_up", u["up"].o, u["add"].x, clear=clear)
            m.d.comb += [u["up"].width.eq(self.width), u["up"].height.eq(self.height)]
        else:
            # the FIFO's block-RAM read data go through a register before the residual adder
            pipe(m, "cut_res", u["fifo"].o, u["add"].x, clear=clear, out_select=True)
        # a SkidBuffer at the output too: the next layer's ready (a register of its cut_in, maybe
        # far away) reaches only this one's flags, not the residual adder and the scale unit's
        # handshake on the way to cut_eng (two die-crossing routes: x2-base, docs/boards.md row 104)
        pipe(m, "cut_out", u["add"].o, wiring.flipped(self.o), clear=clear)
        m.d.comb += [u["win"].width.eq(self.width), u["win"].height.eq(self.height),
                     u["eng"].width.eq(self.width)]
        return m
