"""cocotb testbench: a row-serial engine inside sim/rowserial_harness.RowHarness runs its row jobs
one after the other (cycles from acceptance to `done` each); then the RAM and the output bits ring
are read back for the test to compare with the golden row jobs."""
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import reset


async def _dump(dut, addr, data, lo: int, n: int) -> list[int]:
    out = []
    for a in range(lo, lo + n + 1):
        if a < lo + n:
            addr.value = a
        await RisingEdge(dut.clk)
        if a > lo:
            out.append(int(data.value))
    return out


@cocotb.test()
async def row_jobs(dut):
    _, p = load_vectors()
    await reset(dut)
    jobs = [int(w, 16) for w in p["jobs"]]
    out = []
    if p.get("stream"):
        rng = random.Random(p.get("seed", 1))

        async def sink():     # random back-pressure; a transfer is valid & ready seen after the edge
            while True:
                await RisingEdge(dut.clk)
                ready = int(rng.random() >= p.get("p_stall", 0.0))
                dut.o__ready.value = ready
                await ReadOnly()
                if ready and int(dut.o__valid.value):
                    out.append(int(dut.o__payload.value))
        cocotb.start_soon(sink())
    cycles = []
    for word in jobs:
        dut.job__payload.value = word
        dut.job__valid.value = 1
        assert int(dut.job__ready.value), "engine busy between jobs"
        await RisingEdge(dut.clk)            # accepted at this edge
        dut.job__valid.value = 0
        n = 0
        while True:
            await RisingEdge(dut.clk)
            n += 1
            if int(dut.done.value):          # the value before this edge: done was set n - 1 edges after acceptance
                break
            assert n < p["timeout"], "engine never signalled done"
        cycles.append(n)
    ram = await _dump(dut, dut.ram_dump_addr, dut.ram_dump_data, 0, p["ram_words"])
    dst = await _dump(dut, dut.dst_dump_addr, dut.dst_dump_data, 0, p["dst_words"]) if p.get("dst_words") else []
    write_result({"cycles": cycles, "ram": ram, "dst": dst, "out": out})
