"""cocotb testbench: ScaleRPReLU unit vs sw.golden.scale_rprelu."""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset, to_signed


@cocotb.test()
async def scale_matches_golden(dut):
    v, p = load_vectors()
    dots, chans, expected = v["dot"], v["ch"], v["v"]
    dw, yw = p["dot_bits"], p["y_bits"]
    items = [(int(d) & ((1 << dw) - 1)) | (int(c) << dw) for d, c in zip(dots, chans)]
    await reset(dut)
    bench = StreamBench(dut, {"i": items}, {"o": len(expected)}, p["p_bubble"], p["p_stall"], p["seed"],
                        max_cycles=p.get("max_cycles", 200_000))
    out = await bench.run()
    got = [to_signed(int(w), yw) for w in out["o"]]
    bad = [k for k, (g, e) in enumerate(zip(got, expected)) if g != int(e)]
    assert not bad, (f"{len(bad)} mismatches, first at {bad[0]}: dot={int(dots[bad[0]])} ch={int(chans[bad[0]])} "
                     f"got {got[bad[0]]} expected {int(expected[bad[0]])}")
    write_result({"cycles": bench.busy_cycles, "items": len(expected)})
