"""cocotb testbench: Threshold unit vs sw.golden.threshold."""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, pack, reset


@cocotb.test()
async def threshold_matches_golden(dut):
    v, p = load_vectors()
    x = v["x"]                     # [pixels, C] int
    expected = v["bits"]           # [pixels] packed ints (as int64 words of C bits, C <= 62)
    lanes, fw = p["lanes"], p["bits"]
    items = [pack(row[s * lanes:(s + 1) * lanes], fw) for row in x for s in range(x.shape[1] // lanes)]
    await reset(dut)
    bench = StreamBench(dut, {"i": items}, {"o": len(expected)}, p["p_bubble"], p["p_stall"], p["seed"])
    out = await bench.run()
    got = [int(w) for w in out["o"]]
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if g != int(e)]
    assert not bad, f"{len(bad)} mismatching pixels, first at {bad[0]}: got {got[bad[0]]:#x} expected {int(expected[bad[0]]):#x}"
    write_result({"cycles": bench.busy_cycles, "pixels": len(expected)})
