"""cocotb testbench: TailConv unit vs sw.golden.tail (feature windows + skip words in, pixels out)."""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, pack, reset, unpack


@cocotb.test()
async def tail_matches_golden(dut):
    v, p = load_vectors()
    vals = v["vals"]                # [pixels * 9C] feature values, tap outer, channel inner
    skip = v["skip"]                # [pixels, colors] 2^-16 units
    expected = v["pix"]             # [pixels, colors] u8
    fw, colors, per_pixel = p["bits"], p["colors"], p["per_pixel"]
    mask = (1 << fw) - 1
    items = [(int(x) & mask) | (int((i % per_pixel) == per_pixel - 1) << fw) for i, x in enumerate(vals)]
    skips = [pack(row, 24) for row in skip]
    await reset(dut)
    bench = StreamBench(dut, {"i": items, "skip": skips}, {"o": len(expected)}, p["p_bubble"], p["p_stall"],
                        p["seed"], max_cycles=p.get("max_cycles", 200_000))
    out = await bench.run()
    got = [unpack(int(w), 8, colors) for w in out["o"]]
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if list(g) != [int(x) for x in e]]
    assert not bad, (f"{len(bad)} of {len(expected)} pixels differ, first at {bad[0]}: "
                     f"got {got[bad[0]]} expected {list(expected[bad[0]])}")
    write_result({"cycles": bench.busy_cycles, "pixels": len(expected)})
