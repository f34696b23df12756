"""cocotb testbench: RowSerialNetwork loads its parameter image, then restores frames (pixel bytes in,
bytes out through sim.streams.StreamBench with bubbles and back-pressure)."""
import cocotb
from cocotb.triggers import RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, reset


@cocotb.test()
async def network_frames(dut):
    vec, p = load_vectors()
    await reset(dut)
    dut.load__valid.value = 0
    dut.i__valid.value = 0
    dut.width.value = p["width"]
    dut.height.value = p["height"]
    for a, w in enumerate(vec["params"]):
        dut.load__payload.value = a | (int(w) << 16)
        dut.load__valid.value = 1
        await RisingEdge(dut.clk)
        while not int(dut.load__ready.value):
            await RisingEdge(dut.clk)
    dut.load__valid.value = 0
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
