"""cocotb testbench: Broadcast. Random input bubbles, independent random back-pressure on both
outputs (StreamBench draws one ready per sink per cycle), both output sequences must equal the
input sequence."""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset


@cocotb.test()
async def broadcast_copies(dut):
    v, p = load_vectors()
    items = [int(x) for x in v["items"]]
    await reset(dut)
    bench = StreamBench(dut, {"i": items}, {"a": len(items), "b": len(items)}, p["p_bubble"], p["p_stall"], p["seed"])
    out = await bench.run()
    for k in ("a", "b"):
        got = out[k]
        bad = [i for i, (g, e) in enumerate(zip(got, items)) if g != e]
        assert len(got) == len(items) and not bad, f"{k}: {len(bad)} mismatches, first at {bad[0]}: got {got[bad[0]]:#x} expected {items[bad[0]]:#x}"
    write_result({"cycles": bench.busy_cycles, "a": out["a"], "b": out["b"]})
