"""cocotb testbench: BilinearSkip vs sw.golden.bilinear_skip, several frame sizes in one simulation.

Frames are grouped by geometry; each group's frames follow each other back to back (one
StreamBench run per group, geometry ports changed between groups while the unit is idle)."""
import cocotb
from cocotb.triggers import RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, pack, reset, unpack


@cocotb.test()
async def bilinear_matches_golden(dut):
    v, p = load_vectors()
    pix, expected = v["pix"], v["skip"]          # [LR pixels, colors] u8, [HR pixels, colors]
    colors, outs_per_in = p["colors"], p["r"] * p["r"]
    await reset(dut)
    cycles, i0, o0 = [], 0, 0
    for gi, (w, h, nframes) in enumerate(p["groups"]):
        await RisingEdge(dut.clk)              # leave the read-only phase of the previous run
        dut.width.value, dut.height.value = w, h
        for _ in range(3):                     # the geometry is stable 3 cycles before the first input
            await RisingEdge(dut.clk)
        n_in = w * h * nframes
        n_out = n_in * outs_per_in
        items = [pack(row, 8) for row in pix[i0:i0 + n_in]]
        bench = StreamBench(dut, {"i": items}, {"o": n_out}, p["p_bubble"], p["p_stall"], p["seed"] + gi,
                            max_cycles=p.get("max_cycles", 100_000))
        out = await bench.run()
        got = [unpack(int(x), 24, colors) for x in out["o"]]
        exp = expected[o0:o0 + n_out]
        bad = [k for k, (g, e) in enumerate(zip(got, exp)) if list(g) != [int(x) for x in e]]
        assert not bad, (f"group {gi} ({w}x{h} x{nframes}): {len(bad)} of {n_out} outputs differ, first at "
                         f"{bad[0]}: got {got[bad[0]]} expected {list(exp[bad[0]])}")
        cycles.append(bench.busy_cycles)
        i0, o0 = i0 + n_in, o0 + n_out
    write_result({"cycles": cycles})
