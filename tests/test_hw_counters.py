"""hw/counters.CounterBank in cocotb (Icarus): random pulses on all counters (several in one
cycle, each counter's at the closest spacing the bank allows, 4 * n cycles), the reader's counter
changing at random; every valid read is a count the counter had in the last 4 * n + 3 cycles, the
final counts are exact (narrow counters wrap), and the reader sees valid values."""
import pytest

from hw.counters import CounterBank
from sim.runner import run_cocotb


@pytest.mark.parametrize("n,bits,rate", [(6, 16, 0.5), (3, 8, 1.0), (1, 4, 1.0)])
def test_counter_bank(n, bits, rate):
    params = {"seed": n * 7 + bits, "n": n, "bits": bits, "gap": 4 * n, "cycles": 1500, "rate": rate}
    res = run_cocotb(CounterBank(n, bits), f"counters_{n}_{bits}", "sim.tb_counters", {}, params)
    assert res["finals"] == res["totals"]
    assert res["valid_cycles"] > 100
    if n == 1:                          # a pulse every 4 cycles for 1,500 cycles: the 4-bit counter wrapped
        assert res["totals"] == [(1500 // 4) % 16]
