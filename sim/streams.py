"""cocotb helpers for Amaranth `lib.stream` ports (payload/valid/ready, Verilog names
`<port>__payload`, `<port>__valid`, `<port>__ready`).

StreamBench drives any number of source streams and drains any number of sink streams from one
per-cycle loop (one coroutine: fast under Icarus), with random bubbles on the inputs and random
back-pressure on the outputs, and checks the stream rule that a valid payload is held stable
until it is taken.
"""
from __future__ import annotations

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


def pack(values, width: int) -> int:
    """Lane 0 in the least significant bits (Amaranth ArrayLayout order)."""
    word, mask = 0, (1 << width) - 1
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * width)
    return word


def unpack(word: int, width: int, n: int, signed: bool = False) -> list[int]:
    mask = (1 << width) - 1
    out = []
    for i in range(n):
        v = (word >> (i * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out


def to_signed(v: int, width: int) -> int:
    return v - (1 << width) if v >> (width - 1) else v


async def reset(dut, cycles: int = 2):
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


class StreamBench:
    def __init__(self, dut, sources: dict, sinks: dict, p_bubble: float = 0.0, p_stall: float = 0.0,
                 seed: int = 0, max_cycles: int = 200_000):
        """sources: {port: [payload ints]}; sinks: {port: number of transfers expected}."""
        self.dut = dut
        self.sources = {k: list(v) for k, v in sources.items()}
        self.sinks = dict(sinks)
        self.p_bubble, self.p_stall = p_bubble, p_stall
        self.rng = random.Random(seed)
        self.max_cycles = max_cycles
        self.outputs = {k: [] for k in sinks}
        self.cycles = 0
        self.first_in = None
        self.last_out = None

    def _sig(self, port, field):
        return getattr(self.dut, f"{port}__{field}")

    async def run(self):
        idx = {k: 0 for k in self.sources}
        held = {}   # sink port -> payload seen valid but not yet taken (must stay stable)
        for k in self.sources:
            self._sig(k, "valid").value = 0
        for k in self.sinks:
            self._sig(k, "ready").value = 0
        while any(len(self.outputs[k]) < n for k, n in self.sinks.items()):
            if self.cycles >= self.max_cycles:
                got = {k: len(v) for k, v in self.outputs.items()}
                fed = {k: idx[k] for k in idx}
                raise AssertionError(f"timeout after {self.cycles} cycles: outputs {got} of {self.sinks}, inputs fed {fed}")
            await RisingEdge(self.dut.clk)
            drive = {}
            for k, items in self.sources.items():
                on = idx[k] < len(items) and self.rng.random() >= self.p_bubble
                self._sig(k, "valid").value = int(on)
                if on:
                    self._sig(k, "payload").value = items[idx[k]]
                drive[k] = on
            take = {}
            for k in self.sinks:
                take[k] = self.rng.random() >= self.p_stall
                self._sig(k, "ready").value = int(take[k])
            await ReadOnly()
            for k in self.sources:
                if drive[k] and int(self._sig(k, "ready").value):
                    if self.first_in is None:
                        self.first_in = self.cycles
                    idx[k] += 1
            for k in self.sinks:
                if int(self._sig(k, "valid").value):
                    p = int(self._sig(k, "payload").value)
                    if k in held and held[k] != p:
                        raise AssertionError(f"{k}: payload changed while valid and not taken")
                    if take[k]:
                        self.outputs[k].append(p)
                        self.last_out = self.cycles
                        held.pop(k, None)
                    else:
                        held[k] = p
                elif k in held:
                    raise AssertionError(f"{k}: valid dropped before the payload was taken")
            self.cycles += 1
        return self.outputs

    @property
    def busy_cycles(self) -> int:
        """Cycles from the first input transfer to the last output transfer, inclusive."""
        return self.last_out - self.first_in + 1
