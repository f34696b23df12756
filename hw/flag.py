"""set_clear: a one-bit state register (a valid flag) written as logic, so it takes no clock enable.

`with m.If(fire): flag <= 1 / with m.Elif(ready): flag <= 0` is the natural way to write a stream
stage's valid flag, and yosys maps it to a flip-flop whose clock enable is `fire | ready`: an
enable net of its own for one flip-flop. An ECP5 slice's two flip-flops share clock, clock enable
and set/reset, so every such one-flip-flop control set takes half a slice and constrains the
placer's legaliser: x2-base's netlist had 523 of them and its legalisation stalled
(docs/boards.md). The same flag as `set | (flag & ~clear)` is a LUT in front of a flip-flop
without enable, which shares its slice with any other such flip-flop of the clock domain.
(ECP5 TRELLIS_FF: CE and LSR per slice, REGSET per flip-flop.)
"""
from __future__ import annotations

from amaranth import Module, Value


def set_clear(m: Module, flag: Value, set_, clear) -> None:
    """flag <= 1 when `set_`, else 0 when `clear`, else held (set wins), with no clock enable."""
    m.d.sync += flag.eq(set_ | (flag & ~clear))
