"""cocotb: drive a component's inputs from a table, one row per clock cycle, and record its outputs.

params: inputs [names], outputs [names], reset_cycles. vectors: stim (cycles x inputs).
Inputs change on the falling edge; outputs are sampled on the falling edge before that, i.e. after
the rising edge of the previous row. An output that is not fully known (X / Z) is recorded as -1,
so the caller decides whether unknown values are an error. Result: {"outputs": {name: [values]}}.
"""
import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from sim.runner import load_vectors, write_result


def _value(handle) -> int:
    v = handle.value
    return int(v) if v.is_resolvable else -1


@cocotb.test()
async def probe(dut):
    v, p = load_vectors()
    stim = v["stim"]
    for name in p["inputs"]:
        getattr(dut, name).value = 0
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for _ in range(p.get("reset_cycles", 2)):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    out = {name: [] for name in p["outputs"]}
    for row in stim:
        for name, x in zip(p["inputs"], row):
            getattr(dut, name).value = int(x)
        await RisingEdge(dut.clk)
        await FallingEdge(dut.clk)
        for name in p["outputs"]:
            out[name].append(_value(getattr(dut, name)))
    write_result({"outputs": out})
