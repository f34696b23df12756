"""cocotb testbench: a row-serial engine inside sim/rowserial_harness.RowHarness runs its row jobs
one after the other (cycles from acceptance to `done` each); then the RAM and the output bits ring
are read back for the test to compare with the golden row jobs."""
import cocotb
from cocotb.triggers import RisingEdge

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
    dst = await _dump(dut, dut.dst_dump_addr, dut.dst_dump_data, 0, p["dst_words"])
    write_result({"cycles": cycles, "ram": ram, "dst": dst})
