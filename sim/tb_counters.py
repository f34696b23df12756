"""cocotb testbench: hw/counters.CounterBank. Random pulses on `inc` (several counters at once,
each counter's pulses at least `gap` cycles apart, none in the clear walk after reset) while the
reader moves `sel` at random; every cycle with `valid` high, `value` must be a count counter `sel`
had in the last 4 * n + 3 cycles (a model of the counts per cycle), and after the pulses stop
every counter must read its exact total (wrapping at 2**bits). Records the largest lag seen."""
import random

import cocotb
from cocotb.triggers import ReadOnly, RisingEdge

from sim.runner import load_vectors, write_result
from sim.streams import reset


@cocotb.test()
async def counters_count(dut):
    _, p = load_vectors()
    rnd = random.Random(p["seed"])
    n, bits, gap, cycles = p["n"], p["bits"], p["gap"], p["cycles"]
    mask = (1 << bits) - 1
    dut.sel.value = 0
    dut.inc.value = 0
    await reset(dut)
    history = [[0] for _ in range(n)]          # count of counter k after each cycle
    last = [n + 2 - gap] * n                     # (no pulse during the clear walk)
    valid_seen, max_lag = 0, 0
    for t in range(cycles + 8 * n + 8):
        pulses = 0
        if t < cycles:
            for k in range(n):
                if t - last[k] >= gap and rnd.random() < p["rate"]:
                    pulses |= 1 << k
                    last[k] = t
            if rnd.random() < 0.3:
                dut.sel.value = rnd.randrange(n)
        dut.inc.value = pulses
        await ReadOnly()
        if int(dut.valid.value):
            k, got = int(dut.sel.value), int(dut.value.value)
            past = [c & mask for c in history[k][-(4 * n + 4):]]
            assert got in past, f"cycle {t}: counter {k} reads {got}, recent counts {past}"
            max_lag = max(max_lag, len(past) - 1 - max(i for i, c in enumerate(past) if c == got))
            valid_seen += 1
        await RisingEdge(dut.clk)
        for k in range(n):
            history[k].append(history[k][-1] + ((pulses >> k) & 1))
    dut.inc.value = 0
    finals = []
    for k in range(n):
        dut.sel.value = k
        for _ in range(4):
            await RisingEdge(dut.clk)
        await ReadOnly()
        assert int(dut.valid.value), f"counter {k}: no valid read while idle"
        finals.append(int(dut.value.value))
        await RisingEdge(dut.clk)
    write_result({"finals": finals, "totals": [h[-1] & mask for h in history], "valid_cycles": valid_seen,
                  "max_lag": max_lag})
