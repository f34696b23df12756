"""benchmarks/lc_breakdown.py: logic cells of a packed nextpnr netlist counted by unit and kind
(a hand-made netlist with one cell of each kind; the real one is a board build's top.json)."""
from benchmarks.lc_breakdown import breakdown, main


def _lc(lut, ff, carry):
    return {"type": "ICESTORM_LC", "parameters": {"LUT_INIT": format(lut, "016b"), "DFF_ENABLE": str(ff),
                                                 "CARRY_ENABLE": str(carry)}, "connections": {}}


def test_breakdown_counts_kinds_and_units():
    cells = {
        "accel.core.link.tidx[0]_SB_LUT4_O_LC": _lc(0x6996, 0, 0),
        "accel.core.link.tidx[1]_SB_DFFESR_Q_D_SB_LUT4_O_LC": _lc(0x6996, 1, 0),
        "accel.core.link.opix[3]_SB_DFFESR_Q_DFFLC": _lc(0xAAAA, 1, 0),
        "accel.core.net.core.bin.acc[2]_SB_LUT4_O_LC": _lc(0x6996, 1, 1),
        "$nextpnr_ICESTORM_LC_7": _lc(0, 0, 1),
        "accel.core.net.bits.0.0": {"type": "SB_RAM40_4K", "parameters": {}, "connections": {}},
    }
    res = breakdown({"modules": {"top": {"cells": cells}}}, depth=5, signals="accel.core.link")
    assert res["total"] == 5
    assert res["kinds"] == {"L": 1, "LF": 1, "F": 1, "LFC": 1, "C": 1}
    assert res["units"]["accel.core.link"] == {"L": 1, "LF": 1, "F": 1, "total": 3}
    assert res["units"]["accel.core.net.core.bin"]["total"] == 1
    assert res["units"]["(carry legalisation)"] == {"C": 1, "total": 1}
    assert res["signals"] == {"tidx": 2, "opix": 1}


def test_missing_build_dir_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "top.json not found" in capsys.readouterr().err
