"""cocotb testbench: SinglePortRAM against a Python model: random writes, reads and idle cycles;
rdata must be the word of the last read, also across writes and idle cycles."""
import random

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import reset


@cocotb.test()
async def ram_random_ops(dut):
    _, p = load_vectors()
    rng = random.Random(p["seed"])
    depth = p["depth"]
    await reset(dut)
    model = {}
    expect = None           # rdata after the last read (None: a never-written word, undefined)
    checked = 0
    hot = [rng.randrange(depth) for _ in range(16)] + [v for v in (0, depth - 1, 16383, 16384, 32767, 32768) if v < depth]
    for _ in range(p["ops"]):
        await FallingEdge(dut.clk)
        op = rng.choice(["w", "w", "r", "r", "r", "idle"])
        a = rng.choice(hot) if rng.random() < 0.5 else rng.randrange(depth)
        dut.we.value, dut.re.value, dut.addr.value = 0, 0, a
        if op == "w":
            v = rng.randrange(1 << 16)
            dut.we.value, dut.wdata.value = 1, v
            dut.re.value = rng.randrange(2)          # re together with we: still only a write
            model[a] = v
        elif op == "r":
            dut.re.value = 1
        await RisingEdge(dut.clk)
        if op == "r":
            expect = model.get(a)
        await ReadOnly()
        if expect is not None:
            raw = dut.rdata.value
            assert raw.is_resolvable, f"after {op} at {a}: rdata {raw} (expected {expect:#x}, re={int(dut.re.value)}, we={int(dut.we.value)})"
            got = int(raw)
            assert got == expect, f"after {op} at {a}: rdata {got:#x}, expected {expect:#x}"
            checked += 1
    write_result({"checked": checked})
