"""Reset tree: a clear request fanned out through one register per unit.

The link clears the dataflow network before every stripe (hw/link.py `net_rst`). As one register
driving the synchronous reset of every flip-flop of the network (40k on the ECP5 base presets) it
was the critical path of the first routed x2-base (docs/boards.md: 16.8 ns of routing alone).
Here the link's request (`net_clear`, combinational) is registered once between the link and the
network (the tree's first level, hw/accelerator.py); that copy once per region (second level: the
accelerator's own units around the input FIFO, the network's units outside the layers, each BBCU
layer); that one again once per unit (and sub-unit, skid buffer) of the region, and each unit is
reset from its own copy: the same cycle as the link's `net_rst`
(the link delays it by the tree's TREE_LEVELS), so link and network are cleared together, with a
net per unit that stays inside the unit's placement and no route from the link to a far unit
within one cycle (with one copy per unit behind the first level, its route to the ~200 copies of
x4-base across the die was 12.8 ns, docs/boards.md row 117; the regions' copies cut it to ~20
routes). On a board the request
also carries the power-on reset (hw/accelerator.py `por`; the board's sync domain is reset-less),
so a copy is the only reset of its unit's flip-flops.

The copies are identical flip-flops, which yosys's opt_merge would fold back into one: the board
build marks them `keep` (YOSYS_KEEP, in boards/build.yosys_options after read_rtlil).

Stream signature: none (a helper for the network and the accelerator core).
Cycle model: no cycles; a unit is reset in the cycle after `early`.
Resource estimate: one flip-flop per copy (COPY_FF).
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.hdl import ResetInserter

COPY_PREFIX = "rst_copy_"


def keep_script(prefix: str) -> str:
    """yosys: the cells driving the wires named `prefix`* (their $dff) kept, so that opt_merge
    leaves one per unit (also for the geometry copies, hw/static_copy.py)."""
    return f"setattr -set keep 1 w:{prefix}* %ci1 c:* %i"


YOSYS_KEEP = keep_script(COPY_PREFIX)
COPY_FF = 1
#: levels of the dataflow accelerator's tree: a first-level copy between the link and the network
#: (hw/accelerator.py), a copy per region (`region_copy`: the accelerator's units, the network's
#: units, each BBCU layer), then a copy per unit (`cleared`)
TREE_LEVELS = 3


def reset_copy(m: Module, early, name: str) -> Signal:
    """A registered copy of `early` (reset_less: a reset copy must not clear itself)."""
    r = Signal(name=COPY_PREFIX + name, reset_less=True)
    m.d.sync += r.eq(early)
    return r


def region_copy(m: Module, early, name: str) -> Signal:
    """The tree's second level: the copy of `early` that a region's units take their own copies from."""
    return reset_copy(m, early, "region_" + name)


def cleared(m: Module, early, name: str, unit):
    """`unit` with its sync domain also reset from its own copy of `early` (one cycle later)."""
    return ResetInserter(reset_copy(m, early, name))(unit)
