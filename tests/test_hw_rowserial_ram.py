"""SinglePortRAM (hw/rowserial/ram.py) in cocotb (Icarus) against a Python model: the lib.memory
implementation, and the iCE40 one (SB_SPRAM256KA instances, four banks) simulated with yosys' cell
model of the SPRAM (whose output is undefined after a write: the wrapper must hold the read data)."""
import pytest
from amaranth.back import verilog

from hw.rowserial.ram import SinglePortRAM
from sim.postsynth import cell_models
from sim.runner import BUILD, icarus_time0_fixup, run_cocotb


class _ICE40:
    family = "iCE40"


@pytest.mark.parametrize("target", ["generic", "ice40"])
def test_single_port_ram(target):
    depth = 54464 if target == "ice40" else 3000
    dut = SinglePortRAM(depth, 16)
    extra = []
    if target == "ice40":
        text = icarus_time0_fixup(verilog.convert(dut, name="ram_ice40", platform=_ICE40(), emit_src=False))
        assert text.count("SB_SPRAM256KA") >= 4
        extra, _ = cell_models("ice40", BUILD / "cells_ram")
        res = run_cocotb(None, "ram_ice40", "sim.tb_ram", {}, {"seed": 5, "depth": depth, "ops": 3000},
                         verilog_text=text, extra_sources=extra)
    else:
        res = run_cocotb(dut, "ram_generic", "sim.tb_ram", {}, {"seed": 4, "depth": depth, "ops": 3000})
    assert res["checked"] > 1000
