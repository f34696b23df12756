"""cocotb testbench: FeatureWindow (channel-serial feature windows). Same job protocol as
sim/tb_window.py (geometry per job, bubbles/back-pressure, raw payloads back to pytest, which
compares them with sw.golden.window3x3 applied to the feature tensor)."""
import cocotb

from sim.tb_window import run_jobs


@cocotb.test()
async def feature_window_unit(dut):
    await run_jobs(dut)
