"""cocotb testbench: RowSerialNetwork loads its parameter image (parameter bytes on `i`), then restores frames (pixel bytes in,
bytes out through sim.streams.StreamBench with bubbles and back-pressure)."""
import cocotb
from cocotb.triggers import RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset


@cocotb.test()
async def network_frames(dut):
    vec, p = load_vectors()
    await reset(dut)
    dut.i__valid.value = 0
    dut.i_param.value = 0
    dut.width.value = p["width"]
    dut.height.value = p["height"]
    # the parameter image as two PARAMS payloads (u16 address, then u16 words, little-endian) on
    # `i` with i_param high, i_param low for a few cycles between them (as the link sends them)
    words = [int(w) for w in vec["params"]]
    half = len(words) // 2
    for start, chunk in ((0, words[:half]), (half, words[half:])):
        data = [start & 0xFF, start >> 8] + [b for w in chunk for b in (w & 0xFF, w >> 8)]
        dut.i_param.value = 1
        for byte in data:
            dut.i__payload.value = byte
            dut.i__valid.value = 1
            await RisingEdge(dut.clk)
            while not int(dut.i__ready.value):
                await RisingEdge(dut.clk)
        dut.i__valid.value = 0
        for _ in range(3):
            await RisingEdge(dut.clk)
        dut.i_param.value = 0
        for _ in range(3):
            await RisingEdge(dut.clk)
    outs, cycles = [], []
    for f in range(p["frames"]):
        pix = [int(v) for v in vec[f"in{f}"]]
        bench = StreamBench(dut, {"i": pix}, {"o": p["out_pixels"]}, p["p_bubble"], p["p_stall"], p["seed"] + f,
                            max_cycles=p["max_cycles"])
        out = await bench.run()
        outs.append(out["o"])
        cycles.append(bench.cycles)
        for _ in range(4):
            await RisingEdge(dut.clk)
    write_result({"out": outs, "cycles": cycles})
