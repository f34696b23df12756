"""Memory layouts of the row-serial accelerator, shared by its gateware, tests and loader.

RAM (16-bit words, single-ported: the UP5K's SPRAM) holds the full-precision feature rows and,
per binary layer, a parameter block: one record per output channel co (conv order; for a BBCU-U
co = c*r*r + i*r + j, the channel c of HR pixel (r*y + i, r*x + j)):

  weights   9 taps t = 3*ky + kx of ceil(cin/16) words each: the cin weight bits of tap t
            (formats.weight_bit_index order, bits t*cin ...) from bit 0 of the tap's first word,
            bit b of word k = bit 16*k + b of the tap (1 = +1), the rest zero (the binary
            engine reads one tap of cin bits per cycle)
  A, B, S, Z  scale, bias, RPReLU slope and zeta of co (BinaryLayer.mult/bias/slope/zeta)
  T         the threshold the result goes through on its way to the next binary layer's bits
            (that layer's thresh of the output channel; 0 where no binary layer follows)
Each constant takes ceil(width/16) words, two's complement, least significant word first; the
widths are the smallest signed widths that hold the constant over every binary layer of the
program, so one record layout serves every layer.

Feature rows: pixel x, channel c of a row at base b is word b + x*C + c.
Binary rows (EBR rings, C bits per word): pixel x of a row at base b is word b + x, channel c at bit c.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

import numpy as np
from amaranth import Cat, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from sw.formats import TAPS
from sw.program import Program

WORD = 16
CONSTANTS = ("A", "B", "S", "Z", "T")


def _signed_width(values) -> int:
    lo, hi = min(int(v) for v in values), max(int(v) for v in values)
    w = 1
    while not (-(1 << (w - 1)) <= lo and hi <= (1 << (w - 1)) - 1):
        w += 1
    return w


@dataclass(frozen=True)
class ParamLayout:
    cin: int
    widths: tuple            # signed width of each of CONSTANTS

    @property
    def tap_words(self) -> int:
        """Words per kernel tap of weights (cin bits, padded to whole words)."""
        return ceil(self.cin / WORD)

    @property
    def weight_words(self) -> int:
        return TAPS * self.tap_words

    def words(self, name: str) -> int:
        return ceil(self.widths[CONSTANTS.index(name)] / WORD)

    def offset(self, name: str) -> int:
        """Word offset of a constant in the record."""
        off = self.weight_words
        for n in CONSTANTS[:CONSTANTS.index(name)]:
            off += self.words(n)
        return off

    def width(self, name: str) -> int:
        return self.widths[CONSTANTS.index(name)]

    @property
    def record_words(self) -> int:
        return self.weight_words + sum(self.words(n) for n in CONSTANTS)


def next_thresholds(prog: Program, index: int) -> np.ndarray:
    """T per output channel (conv order) of binary layer `index` (see the module docstring)."""
    layers = prog.binary_layers
    layer = layers[index]
    if index + 1 >= len(layers):
        return np.zeros(layer.cout, dtype=np.int64)
    nxt = np.asarray(layers[index + 1].thresh, dtype=np.int64)
    return np.repeat(nxt, layer.r * layer.r)        # co = c*r*r + i*r + j -> channel c


def param_layout(prog: Program) -> ParamLayout:
    layers = prog.binary_layers
    cins = {int(l.cin) for l in layers}
    if len(cins) != 1:
        raise ValueError(f"every binary layer must have the same cin, got {sorted(cins)}")
    vals = {"A": [], "B": [], "S": [], "Z": [], "T": []}
    for i, l in enumerate(layers):
        vals["A"] += list(l.mult)
        vals["B"] += list(l.bias)
        vals["S"] += list(l.slope)
        vals["Z"] += list(l.zeta)
        vals["T"] += list(next_thresholds(prog, i))
    return ParamLayout(cins.pop(), tuple(_signed_width(vals[n]) for n in CONSTANTS))


def _words(value: int, n: int) -> list[int]:
    v = int(value) & ((1 << (WORD * n)) - 1)
    return [(v >> (WORD * k)) & 0xFFFF for k in range(n)]


def param_block(prog: Program, index: int, layout: ParamLayout | None = None) -> np.ndarray:
    """The parameter block of binary layer `index`: cout records, uint16."""
    layout = layout or param_layout(prog)
    layer = prog.binary_layers[index]
    bits = layer.weight_bits().reshape(layer.cout, TAPS, layer.cin)     # kernel taps
    bits = np.pad(bits, ((0, 0), (0, 0), (0, layout.tap_words * WORD - layer.cin)))
    bits = bits.reshape(layer.cout, layout.weight_words * WORD)
    wwords = (bits.reshape(layer.cout, layout.weight_words, WORD).astype(np.uint32)
              << np.arange(WORD, dtype=np.uint32)).sum(-1)
    consts = {"A": layer.mult, "B": layer.bias, "S": layer.slope, "Z": layer.zeta,
              "T": next_thresholds(prog, index)}
    out = []
    for co in range(layer.cout):
        rec = [int(w) for w in wwords[co]]
        for n in CONSTANTS:
            rec += _words(consts[n][co], layout.words(n))
        out += rec
    return np.asarray(out, dtype=np.uint16)


#: cycles from an engine's read request to its data on rdata: RowSerialCore registers the port's
#: request (address, write enable, data), then the RAM reads synchronously. A write lands a cycle
#: after it is requested; requests keep their order.
READ_LATENCY = 2


class RamPort(wiring.Signature):
    """Single-ported 16-bit RAM behind a request register: rdata is the word at the address
    requested READ_LATENCY (2) cycles earlier. From the master's side: addr/we/wdata out, rdata in."""

    def __init__(self, addr_width: int):
        super().__init__({"addr": Out(addr_width), "we": Out(1), "wdata": Out(WORD), "rdata": In(WORD)})


class BitsRead(wiring.Signature):
    """Read port of a binary-row ring (synchronous read)."""

    def __init__(self, addr_width: int, channels: int):
        super().__init__({"addr": Out(addr_width), "data": In(channels)})


class BitsWrite(wiring.Signature):
    """Write port of a binary-row ring: one bit (channel `bit` of the pixel word at `addr`) per
    write (hw/bits_ram.BitsRAM: the iCE40 EBR's MASK)."""

    def __init__(self, addr_width: int, channels: int):
        super().__init__({"addr": Out(addr_width), "bit": Out(range(channels)), "data": Out(1), "en": Out(1)})


def feature_offset(x, c, C: int):
    """x*C + c (c < C): the word offset of pixel x, channel c in a feature row. With C a power of
    two it is the bits of c below those of x, no adder (x must then be non-negative)."""
    if C & (C - 1) == 0:
        return Cat(c[:(C - 1).bit_length()], x)
    return x * C + c


def delay_line(m, values, stages: int) -> list[tuple]:
    """`values` (signals) and copies of them 1 .. stages - 1 cycles later, through registers:
    entry q is the tuple q cycles behind (entry 0 is `values`); the copies are named after the
    originals with the delay appended."""
    line = [tuple(values)]
    for q in range(1, stages):
        line.append(tuple(Signal.like(v, name=f"{v.name}_d{q}") for v in line[0]))
        m.d.sync += [a.eq(b) for a, b in zip(line[-1], line[-2])]
    return line


def addr_bits(depth: int) -> int:
    return max(1, (depth - 1).bit_length())



@dataclass(frozen=True)
class Ring:
    base: int        # word address of slot 0
    depth: int       # slots (rows)
    stride: int      # words per slot (a row at the widest stripe)

    def slot_bases(self) -> list[int]:
        return [self.base + s * self.stride for s in range(self.depth)]

    @property
    def words(self) -> int:
        return self.depth * self.stride


class NetworkMap:
    """Where everything of a program lives at a given stripe width (max_width LR pixels):
    RAM: the parameter blocks of the binary layers from word 0, then the rings "pix" (colors words
    per pixel), "fp" (C per pixel) and, with up-sampling, "hrfp" (C per HR pixel);
    bits memory (C bits per word): one ring per binary layer, "bits.<i>" = layer i's input bits.
    The RAM rings' slot strides are rounded up to powers of two when the RAM still holds
    everything within `ram_limit` words (a slot address is then base + (slot << k): no
    multiply-add in the sequencer), else they are the exact row sizes."""

    def __init__(self, prog: Program, max_width: int, ram_limit: int = 1 << 16):
        self._build(prog, max_width, pow2=True)
        if self.ram_words > ram_limit:
            self._build(prog, max_width, pow2=False)

    def _build(self, prog: Program, max_width: int, pow2: bool):
        from .schedule import ring_geometry
        self.layout = param_layout(prog) if prog.binary_layers else None
        self.param_base, addr = [], 0
        for layer in prog.binary_layers:
            self.param_base.append(addr)
            addr += layer.cout * self.layout.record_words
        self.param_words = addr
        colors, C = prog.config.colors, prog.config.channels
        geo = ring_geometry(prog, max_width)
        self.ram, self.bits = {}, {}
        for name in ("pix", "fp", "hrfp"):
            if name in geo:
                depth, width, _ = geo[name]
                per = colors if name == "pix" else C
                stride = width * per
                self.ram[name] = Ring(addr, depth, 1 << (stride - 1).bit_length() if pow2 else stride)
                addr += self.ram[name].words
        self.ram_words = addr
        baddr = 0
        for name, (depth, width, _) in geo.items():
            if name.startswith("bits."):
                self.bits[name] = Ring(baddr, depth, width)
                baddr += depth * width
        self.bits_words = max(baddr, 1)

    def param_image(self, prog: Program) -> np.ndarray:
        """The RAM words below ram["pix"].base: every binary layer's parameter block (uint16)."""
        if not prog.binary_layers:
            return np.zeros(0, dtype=np.uint16)
        return np.concatenate([param_block(prog, i, self.layout) for i in range(len(prog.binary_layers))])
