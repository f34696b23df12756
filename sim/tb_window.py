"""cocotb testbench for frame units with ports i, o, width, height (WindowGen, FeatureWindow).

The pytest side passes a list of jobs (params["jobs"]) and one concatenated input array
(vectors["pix"]); each job sets the frame geometry, optionally resets the unit, feeds
pix[start:start+count] through StreamBench with the job's bubbles/back-pressure and collects
n_out output transfers. The result lists, per job, the raw output payloads (Python ints, any
width), the busy cycles (first input to last output) and the cycle numbers of every input and
output transfer (for the latency checks). The golden comparison is done in pytest.
"""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench


async def _monitor(dut, log):
    cyc = 0
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        if log["on"]:
            if int(dut.i__valid.value) and int(dut.i__ready.value):
                log["in"].append(cyc)
            if int(dut.o__valid.value) and int(dut.o__ready.value):
                log["out"].append(cyc)
        cyc += 1


async def _reset(dut):
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    dut.rst.value = 1
    for _ in range(2):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def run_jobs(dut):
    v, p = load_vectors()
    pix = [int(w) for w in v["pix"]]
    Clock(dut.clk, 10, unit="ns").start()
    dut.width.value = p["jobs"][0]["width"]
    dut.height.value = p["jobs"][0]["height"]
    await _reset(dut)
    log = {"on": False, "in": [], "out": []}
    cocotb.start_soon(_monitor(dut, log))
    results = []
    for j in p["jobs"]:
        dut.width.value = j["width"]
        dut.height.value = j["height"]
        if j.get("reset", False):
            await _reset(dut)
        for _ in range(2):                   # the geometry is registered (stable 2 cycles ahead)
            await RisingEdge(dut.clk)
        items = pix[j["start"]:j["start"] + j["count"]]
        bench = StreamBench(dut, {"i": items}, {"o": j["n_out"]}, j["p_bubble"], j["p_stall"], j["seed"],
                            max_cycles=j.get("max_cycles", 60_000))
        log["in"], log["out"], log["on"] = [], [], True
        out = await bench.run()
        await RisingEdge(dut.clk)            # the transfers of the bench's last cycle happen here
        dut.i__valid.value = 0
        dut.o__ready.value = 0
        log["on"] = False
        results.append({"out": [int(w) for w in out["o"]], "cycles": bench.busy_cycles,
                        "in_cycles": list(log["in"]), "out_cycles": list(log["out"])})
    write_result({"jobs": results})


@cocotb.test()
async def frames_unit(dut):
    await run_jobs(dut)
