"""cocotb testbench: ResidualAdd unit vs sw.golden.residual_add."""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset, to_signed


@cocotb.test()
async def residual_matches_golden(dut):
    vec, p = load_vectors()
    v, x, expected = vec["v"], vec["x"], vec["out"]
    yw, fw = p["y_bits"], p["bits"]
    await reset(dut)
    bench = StreamBench(dut, {"v": [int(a) & ((1 << yw) - 1) for a in v], "x": [int(a) & ((1 << fw) - 1) for a in x]},
                        {"o": len(expected)}, p["p_bubble"], p["p_stall"], p["seed"])
    out = await bench.run()
    got = [to_signed(int(w), fw) for w in out["o"]]
    bad = [k for k, (g, e) in enumerate(zip(got, expected)) if g != int(e)]
    assert not bad, (f"{len(bad)} mismatches, first at {bad[0]}: v={int(v[bad[0]])} x={int(x[bad[0]])} "
                     f"got {got[bad[0]]} expected {int(expected[bad[0]])}")
    write_result({"cycles": bench.busy_cycles, "words": len(expected)})
