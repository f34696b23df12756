"""StreamFIFO: a first-in first-out queue behind stream signatures (hw/bram_fifo.BlockRamFIFO, i.e.
lib.fifo.SyncFIFOBuffered without yosys's collision logic behind the block RAM).

Stream signature
  i: In(stream of shape)    items in
  o: Out(stream of shape)   the same items, in order
A FIFO deeper than `bank_depth` (default 1024 words: one ECP5 DP16KD at up to 18 bits) is built as
a chain of BlockRamFIFO stages of at most bank_depth memory words each, so that every block
RAM's output goes straight into its stage's read register and then its output register (out_reg:
the DP16KD's output register in the board build, boards/outreg.py; 0.95 ns clock-to-out instead of
5.8 ns): one deep memory would be split by
yosys into several blocks with a read multiplexer behind their (slow) clock-to-out, which was the
ECP5 critical path of x2-tiny's HR residual FIFO (4,416 words over five DP16KD). Consecutive
stages are joined by a SkidBuffer: a stage's read enable is then the skid's registered ready, not
the next stage's "not full" compare (the stages sit at block RAMs far apart, and that compare ->
read enable -> read-address clock enable path had two die-crossing routes: x4-base's critical
path, docs/boards.md row 109). The chain holds at least `depth` items (the sum of its stages, plus
two per skid).

With `clear=True` the FIFO has a `clear` input (a clear request, hw/reset_tree.py) and each stage
and skid is reset from its own registered copy of it, beside its block RAM: one copy for the whole
chain reached the flip-flops of all its stages across the die (x4-base layer 10's 13-stage
residual FIFO: ~130 reset endpoints over 8 ns, up to 10.95 ns, docs/boards.md row 131).

Cycle model: one item per cycle in and out when neither side stalls; an item entering an empty
queue appears at the output 1 cycle later per stage and per skid, and one more per block-RAM
stage (`latency`).
Resource estimate: the stages' own (BlockRamFIFO.resource_estimate: pointers, level, read and
output registers, the memory words) and the SkidBuffers' (with clear: a copy flip-flop each).
"""
from __future__ import annotations

from amaranth import Module
from amaranth.hdl import Shape
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from hw.bram_fifo import BlockRamFIFO
from hw.estimate import throwaway, total
from hw.reset_tree import COPY_FF, cleared
from hw.skid import SkidBuffer


class _RegisterStage(fifo.SyncFIFOBuffered):
    """A one-item stage: lib.fifo's SyncFIFOBuffered of depth 1, a register with its valid flag."""
    latency = 1

    def resource_estimate(self) -> dict:
        return {"lut": 3, "ff": self.width + 1, "bram_bits": 0, "dsp": 0}


def _stage(width: int, d: int):
    """The chain's stage holding d items, the one place that chooses it: a block-RAM queue with the
    output register behind its read latch (d >= 3; the DP16KD's output register in the board build,
    boards/outreg.py), a plain block-RAM queue (d = 2), a register (d = 1). Each answers
    `latency` and `resource_estimate()`."""
    if d >= 3:
        return BlockRamFIFO(width=width, depth=d, out_reg=True)
    if d == 2:
        return BlockRamFIFO(width=width, depth=d)
    return _RegisterStage(width=width, depth=d)


class StreamFIFO(wiring.Component):
    def __init__(self, shape, depth: int, bank_depth: int = 1024, clear: bool = False):
        if depth < 1 or bank_depth < 2:
            raise ValueError("depth must be >= 1 and bank_depth >= 2")
        self.shape, self.depth, self.bank_depth, self.has_clear = shape, depth, bank_depth, clear
        # BlockRamFIFO / SyncFIFOBuffered(depth=d) keep d - 1 words in memory and one in its output register
        # (stages of equal size, each at most bank_depth + 1)
        per = bank_depth + 1
        n = max(1, -(-depth // per))
        self.stage_depths = [depth // n + (k < depth % n) for k in range(n)]
        sig = {"i": In(stream.Signature(shape)), "o": Out(stream.Signature(shape))}
        if clear:
            sig["clear"] = In(1)
        super().__init__(sig)

    def _stages(self) -> list:
        """The stages, built for their latency and estimate only (never elaborated)."""
        width = Shape.cast(self.shape).width
        return [throwaway(_stage(width, d)) for d in self.stage_depths]

    @property
    def latency(self) -> int:
        # each stage's latency, and one cycle per SkidBuffer between stages
        return sum(q.latency for q in self._stages()) + len(self.stage_depths) - 1

    def cycle_model(self, items: int) -> int:
        return items + self.latency

    def resource_estimate(self) -> dict:
        parts = [q.resource_estimate() for q in self._stages()]
        parts += [throwaway(SkidBuffer(self.shape)).resource_estimate()] * (len(self.stage_depths) - 1)
        if self.has_clear:
            parts.append({"ff": COPY_FF * (2 * len(self.stage_depths) - 1)})
        return total(parts)

    def elaborate(self, platform):
        m = Module()
        width = Shape.cast(self.shape).width
        prev = None

        def add(name, unit):
            m.submodules[name] = cleared(m, self.clear, name, unit) if self.has_clear else unit
            return unit
        for k, d in enumerate(self.stage_depths):
            q = add(f"q{k}" if k else "q", _stage(width, d))
            if prev is None:
                m.d.comb += [q.w_data.eq(self.i.payload), q.w_en.eq(self.i.valid), self.i.ready.eq(q.w_rdy)]
            else:
                cut = add(f"cut{k}", SkidBuffer(self.shape))
                m.d.comb += [cut.i.payload.eq(prev.r_data), cut.i.valid.eq(prev.r_rdy), prev.r_en.eq(cut.i.ready),
                             q.w_data.eq(cut.o.payload), q.w_en.eq(cut.o.valid), cut.o.ready.eq(q.w_rdy)]
            prev = q
        m.d.comb += [self.o.payload.eq(prev.r_data), self.o.valid.eq(prev.r_rdy), prev.r_en.eq(self.o.ready)]
        return m
