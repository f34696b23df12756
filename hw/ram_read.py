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

from amaranth import Module, Mux, Signal, Value
from amaranth.lib import memory

from .head import or_tree

#: the memory attribute that says a read never needs the word written in the same cycle
NO_RW_CHECK = {"no_rw_check": 1}


def banks(m: Module, shape, depth: int, bank_depth: int, en):
    """A line buffer of `depth` words of `shape` (NO_RW_CHECK) as one memory per `bank_depth`
    words (a power of two: bank k holds the words k * bank_depth ..; submodules mem0, mem1, ..),
    every bank block RAM once there are several (a short last bank as LUT RAM put its asynchronous
    read and address decode on the x4-base critical path, docs/boards.md row 87), each read through
    registered_read loaded with `en` (one signal, or a list: bank k's enable): (write ports, read
    ports, read registers), one per bank. One memory over several block RAMs would have a read
    multiplexer behind their outputs."""
    n = -(-depth // bank_depth)
    attrs = {**NO_RW_CHECK, **({"ram_style": "block"} if n > 1 else {})}
    wrs, rds, rqs = [], [], []
    for k in range(n):
        mem = memory.Memory(shape=shape, depth=min(bank_depth, depth - k * bank_depth), init=[], attrs=attrs)
        m.submodules[f"mem{k}"] = mem
        wrs.append(mem.write_port())
        rd, q = registered_read(m, mem, en[k] if isinstance(en, (list, tuple)) else en, f"rq{k}")
        rds.append(rd)
        rqs.append(q)
    return wrs, rds, rqs


def bank_select(m: Module, load, sel, rqs, shape, prefix: str, groups=None, group_load=None):
    """The banks' read registers `rqs` to one word: a register per bank loads its bank's word with
    `load` (one signal, or a list: bank k's) (no reset, no logic between block RAM and register: boards/outreg.py makes it the
    DP16KD's output register, whose clock-to-out is 0.95 ns instead of the read latch's 5.8 ns),
    the one-hot `sel` is registered beside them, and the result is the OR of the selected
    registers: no bank number decoded and no multiplexer behind the block RAMs (x4-base's feature
    window, 37 banks: a 37-way select was the ECP5 critical path, docs/boards.md row 89). One cycle.
    (The registers took 0 when not selected, as yosys' synchronous reset, until the output-register
    pass: it moves no reset, since what the DP16KD's RST does to the read latch in OUTREG mode could
    not be checked.)
    With `groups` ([lo, hi) bank ranges) and `group_load` (one enable per group): one more cycle,
    the OR of each group's selected registers registered (`{prefix}_g{j}`, loaded with its
    group_load), and the result the OR of those: a group's OR stays beside its banks, and the
    result has one input per group instead of per bank."""
    regs = [Signal(shape, name=f"{prefix}{k}", reset_less=True) for k in range(len(rqs))]
    sel_q = Signal(len(rqs), name=f"{prefix}_sel")
    loads = load if isinstance(load, (list, tuple)) else [load] * len(rqs)
    for k, (r, q) in enumerate(zip(regs, rqs)):
        with m.If(loads[k]):
            m.d.sync += [r.eq(q), sel_q[k].eq(sel[k])]
    terms = [Mux(sel_q[k], Value.cast(r), 0) for k, r in enumerate(regs)]
    if groups is None:
        return or_tree(terms)
    gregs = [Signal(shape, name=f"{prefix}_g{j}", reset_less=True) for j in range(len(groups))]
    for j, ((lo, hi), g) in enumerate(zip(groups, gregs)):
        with m.If(group_load[j]):
            m.d.sync += g.eq(or_tree(terms[lo:hi]))
    return or_tree([Value.cast(g) for g in gregs])


def registered_read(m: Module, mem: memory.Memory, en, name: str):
    """(asynchronous read port of `mem`, its data register named `name`, loaded while `en`)."""
    rd = mem.read_port(domain="comb")
    q = Signal(mem.shape, name=name, reset_less=True)
    with m.If(en):
        m.d.sync += q.eq(rd.data)
    return rd, q
