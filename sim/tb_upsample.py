"""cocotb testbench: NearestUpsample unit vs sw.golden.nearest_up.

Runs a sequence of streams on one DUT; stream k has geometry sizes[k] = (width, height, frames)
(frames > 1: that many frames back to back in one stream), its input words x[in_off[k]:...] and
expected output words out[out_off[k]:...].
"""
import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset, to_signed


def idle_handshake(dut):
    """The handshake inputs defined from the start, as a network drives them: an undriven valid or
    ready is X, which the word-available flag's final select (hw/upsample.py) passes on and keeps."""
    dut.i__valid.value = 0
    dut.o__ready.value = 0


@cocotb.test()
async def upsample_matches_golden(dut):
    v, p = load_vectors()
    fw = p["bits"]
    sizes, x, exp = v["sizes"], v["x"], v["out"]
    in_off, out_off = v["in_off"], v["out_off"]
    dut.width.value = int(sizes[0][0])
    dut.height.value = int(sizes[0][1])
    idle_handshake(dut)
    await reset(dut)
    cycles = []
    for k, (w, h, _) in enumerate(sizes):
        dut.width.value = int(w)
        dut.height.value = int(h)
        await RisingEdge(dut.clk)                 # the geometry leads the frame by 2 cycles
        await RisingEdge(dut.clk)
        xs = [int(a) & ((1 << fw) - 1) for a in x[in_off[k]:in_off[k + 1]]]
        want = [int(a) for a in exp[out_off[k]:out_off[k + 1]]]
        bench = StreamBench(dut, {"i": xs}, {"o": len(want)}, p["p_bubble"], p["p_stall"], p["seed"] + k)
        out = await bench.run()
        got = [to_signed(int(a), fw) for a in out["o"]]
        bad = [n for n, (g, e) in enumerate(zip(got, want)) if g != e]
        assert not bad, f"stream {k} ({w}x{h}): {len(bad)} mismatches, first at {bad[0]}: got {got[bad[0]]} expected {want[bad[0]]}"
        cycles.append(bench.busy_cycles)
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
    write_result({"cycles": cycles})


@cocotb.test()
async def upsample_double_buffers(dut):
    """With the output stalled, the unit takes exactly two LR rows (the replayed row and the next),
    then refuses input; released, it emits the golden order for all rows."""
    v, p = load_vectors()
    fw = p["bits"]
    w, h, _ = (int(a) for a in v["sizes"][0])
    x, exp = v["x"], v["out"]
    dut.width.value = w
    dut.height.value = h
    idle_handshake(dut)
    await reset(dut)
    accepted = 0
    for _ in range(len(x) + 20):
        await RisingEdge(dut.clk)
        if accepted < len(x):
            dut.i__valid.value = 1
            dut.i__payload.value = int(x[accepted]) & ((1 << fw) - 1)
        else:
            dut.i__valid.value = 0
        await ReadOnly()
        if accepted < len(x) and int(dut.i__ready.value):
            accepted += 1
    row = len(x) // h
    assert accepted == 2 * row, f"took {accepted} words with the output stalled, expected two rows ({2 * row})"
    await RisingEdge(dut.clk)
    dut.i__valid.value = 0
    bench = StreamBench(dut, {"i": [int(a) & ((1 << fw) - 1) for a in x[accepted:]]}, {"o": len(exp)}, 0.0, 0.2, 3)
    out = await bench.run()
    got = [to_signed(int(a), fw) for a in out["o"]]
    assert got == [int(a) for a in exp]
    write_result({"accepted": accepted})
