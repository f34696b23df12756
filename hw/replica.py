"""Replicated control flags: n identical registers per flag, so that a clock enable with a large
fan-out is driven by n small nets instead of one.

A unit whose step enables hundreds of data flip-flops (the window generator's column and output
registers, ~1,150 for 64 channels) computes that enable from a few flag registers in one or two
LUTs; the LUT's output net then spans the unit's whole placement. On the ECP5 that single net was
the critical path of x4-base (docs/boards.md row 108: 9.0 ns of one route from the step LUT to a
column register's CE). With the flags replicated, group g of the data registers takes its enable
from LUT g fed by copy g of the flags: n nets of ~1/n the fan-out, each placed with its group.

The copies are identical flip-flops (the same assignments, each its own feedback), which yosys's
opt_merge would fold back into one: the board build marks them `keep` (YOSYS_KEEP, in
boards/build.yosys_options after read_rtlil), as it does the reset and geometry copies. All copies
are reset together and assigned together, so they hold the same value in every cycle; tests check
that the copies survive synthesis and bound each enable's fan-out.

Stream signature: none (a helper for units with wide enables, e.g. hw/window.py).
Cycle model: none (the copies are the flag).
Resource estimate: n flip-flops per flag bit (plus its next-state LUT per copy).
"""
from __future__ import annotations

from amaranth import Signal

from .reset_tree import keep_script

REP_PREFIX = "rep_"
YOSYS_KEEP = keep_script(REP_PREFIX)


class Replicated:
    """`n` copies of a flag register: `r[g]` is copy g, `r.eq(v)` the assignment of all copies
    (use it wherever the flag is assigned, under the same conditions)."""

    def __init__(self, n: int, name: str, shape=1, init: int = 0, reset_less: bool = False):
        if n < 1:
            raise ValueError(f"n must be >= 1, not {n}")
        self.copies = [Signal(shape, init=init, name=f"{REP_PREFIX}{name}_{g}", reset_less=reset_less)
                       for g in range(n)]

    def __getitem__(self, g: int) -> Signal:
        return self.copies[g]

    def __len__(self) -> int:
        return len(self.copies)

    def eq(self, value) -> list:
        return [c.eq(value) for c in self.copies]


def groups(total: int, per_group: int) -> list[tuple[int, int]]:
    """[lo, hi) ranges splitting range(total) into ceil(total / per_group) nearly equal groups."""
    n = max(1, -(-total // max(per_group, 1)))
    return [(g * total // n, (g + 1) * total // n) for g in range(n)]
