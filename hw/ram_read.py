"""Memory reads without collision emulation: an asynchronous read port and its data register.

A synchronous Amaranth read port reaches yosys as "read-first" on a read/write collision (its
$memrd_v2 has COLLISION_X_MASK 0), and yosys honours a memory's `no_rw_check` attribute only in
memory_dff, when it merges a register into an asynchronous port. On the ECP5 the read-first
emulation is a LUT behind every block-RAM data output plus a bypass register (after opt_merge one
for all memories with the same write data): x4-base's critical path in docs/boards.md row 97 was
one 13.8 ns route from it, across the 37 banks of the feature window. A memory with a write port
and `no_rw_check` (NO_RW_CHECK) is therefore read here through an asynchronous port and a data
register loaded with `en`, which memory_dff merges into the block-RAM port: every data bit then
drives flip-flops only (the netlist tests in tests/test_hw_feature_window.py, test_hw_window.py
and test_hw_upsample.py).

Stream signature: none (a helper for the line buffers).
Cycle model: that of a synchronous read port: the word at the address of cycle t is in the
register in cycle t + 1 when `en` was high in cycle t, held otherwise.
Resource estimate: the register's flip-flops, which the block RAM absorbs once merged.
"""
from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import memory

#: the memory attribute that says a read never needs the word written in the same cycle
NO_RW_CHECK = {"no_rw_check": 1}


def registered_read(m: Module, mem: memory.Memory, en, name: str):
    """(asynchronous read port of `mem`, its data register named `name`, loaded while `en`)."""
    rd = mem.read_port(domain="comb")
    q = Signal(mem.shape, name=name, reset_less=True)
    with m.If(en):
        m.d.sync += q.eq(rd.data)
    return rd, q
