"""cocotb testbench: hw/crc.CRC32Unit. Frames of bytes (init, then each byte with `go` once the unit
is not busy, after a random gap); after every byte the register must equal the software model
(crc32_next_int), and ~value at a frame's end zlib.crc32 of the frame. Records how many cycles
each update kept `busy` high."""
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from hw.crc import crc32_next_int
from sim.runner import load_vectors, write_result
from sim.streams import reset


@cocotb.test()
async def crc_frames(dut):
    v, p = load_vectors()
    rnd = random.Random(p["seed"])
    lens = [int(n) for n in v["lens"]]
    data = [int(b) for b in v["bytes"]]
    await reset(dut)
    finals, busy_cycles, pos = [], set(), 0
    for n in lens:
        frame = data[pos:pos + n]
        pos += n
        dut.init.value = 1
        await RisingEdge(dut.clk)
        dut.init.value = 0
        model = 0xFFFFFFFF
        for b in frame:
            for _ in range(rnd.choice([0, 0, 1, 3])):
                await RisingEdge(dut.clk)
            dut.byte.value = b
            dut.go.value = 1
            await RisingEdge(dut.clk)
            dut.go.value = 0
            dut.byte.value = rnd.randrange(256)       # the byte is only read with go
            busy = 0
            while True:
                await ReadOnly()
                if not int(dut.busy.value):
                    break
                busy += 1
                await RisingEdge(dut.clk)
            busy_cycles.add(busy)
            model = crc32_next_int(model, b)
            got = int(dut.value.value)
            assert got == model, f"after byte {b:#x}: {got:#010x} != {model:#010x}"
            await RisingEdge(dut.clk)
        await ReadOnly()
        finals.append(int(dut.value.value) ^ 0xFFFFFFFF)
        await RisingEdge(dut.clk)
    write_result({"finals": finals, "busy": sorted(busy_cycles)})
