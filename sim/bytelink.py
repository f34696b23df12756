"""cocotb host side of the byte-level link: feeds bytes into a `rx` byte stream and parses the
frames coming out of a `tx` byte stream with sw.protocol.Parser (the same parser the host
driver uses)."""
from __future__ import annotations

import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sw import protocol as P


class ByteLink:
    def __init__(self, dut, rx="rx", tx="tx", p_stall=0.0, seed=0, max_payload=0xFFFF):
        self.dut = dut
        self.rx, self.tx = rx, tx
        self.out = bytearray()
        self.parser = P.Parser(max_payload)
        self.frames: list[P.Frame] = []
        self.p_stall = p_stall
        self.rng = random.Random(seed)
        self.cycle = 0
        self._task = cocotb.start_soon(self._run())

    def _s(self, port, field):
        return getattr(self.dut, f"{port}__{field}")

    def send(self, data: bytes):
        self.out += data

    async def _run(self):
        self._s(self.rx, "valid").value = 0
        while True:
            await RisingEdge(self.dut.clk)
            on = bool(self.out)
            self._s(self.rx, "valid").value = int(on)
            if on:
                self._s(self.rx, "payload").value = self.out[0]
            take = self.rng.random() >= self.p_stall
            self._s(self.tx, "ready").value = int(take)
            await ReadOnly()
            if on and int(self._s(self.rx, "ready").value):
                del self.out[0]
            if take and int(self._s(self.tx, "valid").value):
                self.frames += self.parser.feed(bytes([int(self._s(self.tx, "payload").value)]))
            self.cycle += 1

    async def wait_idle(self, cycles: int):
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)

    async def frame(self, max_cycles: int = 200_000) -> P.Frame:
        for _ in range(max_cycles):
            if self.frames:
                return self.frames.pop(0)
            await RisingEdge(self.dut.clk)
        raise AssertionError(f"no frame from the board within {max_cycles} cycles")
