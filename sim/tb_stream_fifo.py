"""cocotb testbench: StreamFIFO. Random input bubbles and back-pressure (every item once, in
order); then a fill test: with the output stalled, the queue takes items until it refuses one
for 8 cycles in a row (its capacity, at least its depth), and drains them in order."""
import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset


@cocotb.test()
async def fifo_passes_everything(dut):
    v, p = load_vectors()
    items = [int(x) for x in v["items"]]
    await reset(dut)
    bench = StreamBench(dut, {"i": items}, {"o": len(items)}, p["p_bubble"], p["p_stall"], p["seed"])
    out = await bench.run()
    got = out["o"]

    await RisingEdge(dut.clk)
    dut.o__ready.value = 0
    taken, refused = 0, 0
    while refused < 8 and taken < len(items):
        dut.i__payload.value = items[taken]
        dut.i__valid.value = 1
        await ReadOnly()
        ok = int(dut.i__ready.value)
        await RisingEdge(dut.clk)                 # the transfer happens here if ready was high
        if ok:
            taken, refused = taken + 1, 0
        else:
            refused += 1
    dut.i__valid.value = 0
    dut.o__ready.value = 1
    drained = []
    for _ in range(4 * taken + 64):
        await ReadOnly()
        if int(dut.o__valid.value):
            drained.append(int(dut.o__payload.value))
        await RisingEdge(dut.clk)
        if len(drained) == taken:
            break
    write_result({"cycles": bench.busy_cycles, "o": got, "capacity": taken, "drained": drained})
