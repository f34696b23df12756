"""cocotb testbench: HeadConv unit vs sw.golden.head (windows of u8 pixels in, features out)."""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, pack, reset, to_signed


@cocotb.test()
async def head_matches_golden(dut):
    v, p = load_vectors()
    win = v["win"]                 # [pixels, 9*colors] u8: byte t*colors + k = colour k of tap t
    mask = v["mask"]               # [pixels, 9] 0/1
    expected = [int(e) for e in v["feat"]]   # [pixels * C] channel-serial
    nbits = 8 * win.shape[1]
    items = [pack(row, 8) | (pack(mrow, 1) << nbits) for row, mrow in zip(win, mask)]
    await reset(dut)
    bench = StreamBench(dut, {"i": items}, {"o": len(expected)}, p["p_bubble"], p["p_stall"], p["seed"],
                        max_cycles=p.get("max_cycles", 200_000))
    out = await bench.run()
    got = [to_signed(int(w), p["bits"]) for w in out["o"]]
    bad = [i for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    assert not bad, (f"{len(bad)} of {len(expected)} features differ, first at {bad[0]} "
                     f"(pixel {bad[0] // p['channels']}, channel {bad[0] % p['channels']}): "
                     f"got {got[bad[0]]} expected {expected[bad[0]]}")
    write_result({"cycles": bench.busy_cycles, "pixels": len(items)})
