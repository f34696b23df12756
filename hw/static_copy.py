"""Static copies: a quasi-static input (the stripe geometry) registered once per consuming unit.

The link holds the stripe's width and height in registers for a whole stripe, and every window
generator, the bilinear skip and the upsampler derive their compares from them (W - 2, W == 1,
s + 1 < H, ...). Driven straight from the link, yosys shares those derivations between units
(opt_merge: the same function of the same register), so one adder near the link fed registers
all over the die: the ECP5 critical path of x2-base row 77 (docs/boards.md) was the link's W - 2
adder to a far window generator, 10.9 ns in one route. Here each unit reads its own registered
copy: the only net that crosses the die is a register-to-register one, and the derivations are
made per unit from the copy.

The copies are identical flip-flops, which opt_merge would fold back into one: the board build
marks them `keep` (YOSYS_KEEP, in boards/build.yosys_options after read_rtlil), as it does the
reset copies (hw/reset_tree.py).

Stream signature: none (a helper for the network).
Cycle model: a unit sees a new geometry one cycle after the link sets it (the link sets it at
the STRIPE_BEGIN frame, long before the stripe's first pixel).
Resource estimate: one flip-flop per bit of each copy (GEO_FF per copy of width and height).
"""
from __future__ import annotations

from amaranth import Module, Signal

from .reset_tree import keep_script

GEO_PREFIX = "geo_copy_"
GEO_BITS = 16
GEO_FF = 2 * GEO_BITS
YOSYS_KEEP = keep_script(GEO_PREFIX)


def geometry_copy(m: Module, width, height, name: str) -> tuple[Signal, Signal]:
    """Registered copies of (width, height) for the unit `name` (reset-less: they follow the link
    continuously, so they hold the link's values one cycle later whatever the reset)."""
    w = Signal(GEO_BITS, name=f"{GEO_PREFIX}{name}_w", reset_less=True)
    h = Signal(GEO_BITS, name=f"{GEO_PREFIX}{name}_h", reset_less=True)
    m.d.sync += [w.eq(width), h.eq(height)]
    return w, h
