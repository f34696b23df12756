"""cocotb testbench: Broadcast. Random input bubbles, independent random back-pressure on both
outputs (StreamBench draws one ready per sink per cycle), both output sequences must equal the
input sequence. A monitor counts the cycles where one output takes an item while the other
output holds its copy back (the outputs really are independent)."""
import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset


async def _monitor(dut, lead):
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        a_fire = int(dut.a__valid.value) and int(dut.a__ready.value)
        b_fire = int(dut.b__valid.value) and int(dut.b__ready.value)
        if a_fire and int(dut.b__valid.value) and not b_fire:
            lead["a"] += 1
        if b_fire and int(dut.a__valid.value) and not a_fire:
            lead["b"] += 1


@cocotb.test()
async def broadcast_copies(dut):
    v, p = load_vectors()
    items = [int(x) for x in v["items"]]
    await reset(dut)
    lead = {"a": 0, "b": 0}
    cocotb.start_soon(_monitor(dut, lead))
    bench = StreamBench(dut, {"i": items}, {"a": len(items), "b": len(items)}, p["p_bubble"], p["p_stall"], p["seed"])
    out = await bench.run()
    for k in ("a", "b"):
        got = out[k]
        bad = [i for i, (g, e) in enumerate(zip(got, items)) if g != e]
        assert len(got) == len(items) and not bad, (
            f"{k}: {len(got)} items, {len(bad)} mismatches" + (f", first at {bad[0]}" if bad else ""))
    write_result({"cycles": bench.busy_cycles, "a": out["a"], "b": out["b"], "lead": lead})
