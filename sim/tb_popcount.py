"""cocotb testbench: PopcountEngine vs sw.golden.xnor_popcount (windows from sw.golden.window3x3).

Vectors: `win` (hex strings: window payload ints, bits | mask << 9*cin, in stream order),
`value` / `ch` (expected dots and channel tags in output order). Params: dot_bits, width,
p_bubble, p_stall, seed.
"""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset, to_signed


@cocotb.test()
async def popcount_matches_golden(dut):
    v, p = load_vectors()
    items = [int(str(s), 16) for s in v["win"]]
    exp_val = [int(x) for x in v["value"]]
    exp_ch = [int(x) for x in v["ch"]]
    db = p["dot_bits"]
    dut.width.value = p["width"]
    await reset(dut)
    bench = StreamBench(dut, {"i": items}, {"o": len(exp_val)}, p["p_bubble"], p["p_stall"], p["seed"],
                        max_cycles=p.get("max_cycles", 60_000))
    out = await bench.run()
    got_val = [to_signed(w & ((1 << db) - 1), db) for w in out["o"]]
    got_ch = [w >> db for w in out["o"]]
    bad = [k for k in range(len(exp_val)) if (got_val[k], got_ch[k]) != (exp_val[k], exp_ch[k])]
    assert not bad, (f"{len(bad)}/{len(exp_val)} mismatching dots, first at {bad[0]}: got "
                     f"(value {got_val[bad[0]]}, ch {got_ch[bad[0]]}) expected "
                     f"(value {exp_val[bad[0]]}, ch {exp_ch[bad[0]]})")
    write_result({"cycles": bench.busy_cycles, "outputs": len(exp_val)})
