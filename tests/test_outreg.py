"""boards/outreg.py on hand-made yosys JSON netlists: which flip-flops move into a DP16KD's output
register and which stay (the equivalence itself is simulated in tests/test_postsynth.py,
test_block_ram_output_registers_match_rtl)."""
import copy

from boards.outreg import absorb_dsp_output_registers, absorb_output_registers

CLK, EN, EN2, RST = 2, 3, 4, 5


def ram(pdp=False, do_a=(), do_b=()):
    conn = {"CLKA": [CLK], "CLKB": [CLK], "CEA": ["1"], "CEB": ["1"], "OCEA": ["1"], "OCEB": ["1"],
            "RSTA": ["0"], "RSTB": ["0"]}
    for side, bits in (("A", do_a), ("B", do_b)):
        for i in range(18):
            conn[f"DO{side}{i}"] = [bits[i]] if i < len(bits) else ["x"]
    width = "00000000000000000000000000100100" if pdp else "00000000000000000000000000010010"
    return {"type": "DP16KD", "parameters": {"DATA_WIDTH_A": width, "DATA_WIDTH_B": width, "REGMODE_A": "NOREG",
                                             "REGMODE_B": "NOREG", "GSR": "DISABLED"},
            "port_directions": {**{p: "input" for p in conn if not p.startswith("DO")},
                                **{p: "output" for p in conn if p.startswith("DO")}},
            "connections": conn}


def ff(d, q, ce=EN, lsr="0", cemux="CE"):
    return {"type": "TRELLIS_FF",
            "parameters": {"CEMUX": cemux, "CLKMUX": "CLK", "GSR": "DISABLED", "LSRMUX": "LSR", "REGSET": "RESET",
                           "SRMODE": "LSR_OVER_CE"},
            "port_directions": {"CLK": "input", "CE": "input", "LSR": "input", "DI": "input", "Q": "output"},
            "connections": {"CLK": [CLK], "CE": [ce], "LSR": [lsr], "DI": [d], "Q": [q]}}


def netlist(cells):
    return {"modules": {"top": {"attributes": {"top": "00000000000000000000000000000001"}, "ports": {},
                                "cells": cells, "netnames": {"d": {"bits": [100, 101, 102, 103]}}}}}


def test_flip_flops_with_one_enable_and_no_reset_move_into_the_output_register():
    n = netlist({"ram": ram(do_b=[100, 101]), "f0": ff(100, 200), "f1": ff(101, 201)})
    st = absorb_output_registers(n)
    cells = n["modules"]["top"]["cells"]
    assert st["ports"] == 1 and st["flip_flops"] == 2 and set(cells) == {"ram"}
    r = cells["ram"]
    assert r["parameters"]["REGMODE_B"] == "OUTREG" and r["parameters"]["REGMODE_A"] == "NOREG"
    assert r["connections"]["OCEB"] == [EN] and r["connections"]["DOB0"] == [200] and r["connections"]["DOB1"] == [201]
    assert r["connections"]["RSTB"] == ["0"]
    assert n["modules"]["top"]["netnames"]["d"]["bits"] == ["x", "x", 102, 103]


def test_what_stays():
    base = {"ram": ram(do_b=[100, 101]), "f0": ff(100, 200), "f1": ff(101, 201)}
    cases = {
        "reset": {"f1": ff(101, 201, lsr=RST)},
        "several enables": {"f1": ff(101, 201, ce=EN2)},
        "not one flip-flop": {"f2": ff(101, 202)},
    }
    for reason, change in cases.items():
        n = netlist({**copy.deepcopy(base), **change})
        st = absorb_output_registers(n)
        assert st["flip_flops"] == 0 and st["skipped"].get(reason) == 1, (reason, st)
        assert n["modules"]["top"]["cells"]["ram"]["parameters"]["REGMODE_B"] == "NOREG"
    # a data bit that also feeds logic
    n = netlist({**copy.deepcopy(base), "lut": {"type": "LUT4", "parameters": {}, "port_directions": {"A": "input", "Z": "output"},
                                                "connections": {"A": [100], "Z": [300]}}})
    assert absorb_output_registers(n)["skipped"] == {"not one flip-flop": 1, "unused": 1}
    # no enable: OCE tied high
    n = netlist({"ram": ram(do_a=[100]), "f0": ff(100, 200, ce="1", cemux="1")})
    assert absorb_output_registers(n)["flip_flops"] == 1
    assert n["modules"]["top"]["cells"]["ram"]["connections"]["OCEA"] == ["1"]


def test_pseudo_dual_port_converts_both_halves_together():
    cells = {"ram": ram(pdp=True, do_a=[100], do_b=[101]), "f0": ff(100, 200), "f1": ff(101, 201)}
    n = netlist(copy.deepcopy(cells))
    assert absorb_output_registers(n)["flip_flops"] == 2
    r = n["modules"]["top"]["cells"]["ram"]
    assert (r["parameters"]["REGMODE_A"], r["parameters"]["REGMODE_B"]) == ("OUTREG", "OUTREG")
    assert r["connections"]["OCEA"] == r["connections"]["OCEB"] == [EN]
    # one half's flip-flop with another enable: neither half moves
    n = netlist({**copy.deepcopy(cells), "f1": ff(101, 201, ce=EN2)})
    st = absorb_output_registers(n)
    assert st["flip_flops"] == 0 and len(n["modules"]["top"]["cells"]) == 3
    # only one half used: both REGMODEs still alike
    n = netlist({"ram": ram(pdp=True, do_b=[101]), "f1": ff(101, 201)})
    assert absorb_output_registers(n)["flip_flops"] == 1
    r = n["modules"]["top"]["cells"]["ram"]
    assert (r["parameters"]["REGMODE_A"], r["parameters"]["REGMODE_B"]) == ("OUTREG", "OUTREG")


def test_an_inverted_enable_gets_an_inverter():
    n = netlist({"ram": ram(do_b=[100, 101]), "f0": ff(100, 200, cemux="INV"), "f1": ff(101, 201, cemux="INV")})
    assert absorb_output_registers(n)["flip_flops"] == 2
    cells = n["modules"]["top"]["cells"]
    inv = [c for c in cells.values() if c["type"] == "LUT4"]
    assert len(inv) == 1 and inv[0]["connections"]["A"] == [EN] and int(inv[0]["parameters"]["INIT"], 2) == 0x5555
    assert cells["ram"]["connections"]["OCEB"] == inv[0]["connections"]["Z"]
    assert inv[0]["connections"]["Z"][0] not in (CLK, EN, EN2, RST, 100, 101, 200, 201)


def mult(p_bits=()):
    conn = {"A0": [50], "B0": [51], "SIGNEDA": ["1"], "SIGNEDB": ["1"]}
    for i in range(36):
        conn[f"P{i}"] = [p_bits[i]] if i < len(p_bits) else [300 + i]     # unused P bits: nets of nothing
    return {"type": "MULT18X18D", "parameters": {"REG_OUTPUT_CLK": "NONE", "REG_INPUTA_CLK": "NONE"},
            "port_directions": {**{p: "input" for p in conn if not p.startswith("P")},
                                **{p: "output" for p in conn if p.startswith("P")}},
            "connections": conn}


def test_dsp_product_flip_flops_move_into_the_output_register():
    """(the equivalence is simulated in tests/test_postsynth.py with the MULT18X18D model's output
    register, sim/cells/ecp5_bram_dsp.v)"""
    n = netlist({"dsp": mult([100, 101]), "f0": ff(100, 200), "f1": ff(101, 201)})
    st = absorb_dsp_output_registers(n)
    cells = n["modules"]["top"]["cells"]
    assert st == {"blocks": 1, "flip_flops": 2, "skipped": {}} and set(cells) == {"dsp"}, st
    d = cells["dsp"]
    assert d["parameters"]["REG_OUTPUT_CLK"] == "CLK0" and d["parameters"]["REG_OUTPUT_CE"] == "CE0"
    assert d["parameters"]["GSR"] == "DISABLED" and d["parameters"]["REG_INPUTA_CLK"] == "NONE"
    assert d["connections"]["CLK0"] == [CLK] and d["connections"]["CE0"] == [EN] and d["connections"]["RST0"] == ["0"]
    assert d["connections"]["P0"] == [200] and d["connections"]["P1"] == [201] and d["connections"]["P2"] == [302]
    assert n["modules"]["top"]["netnames"]["d"]["bits"] == ["x", "x", 102, 103]
    # an inverted enable goes through one LUT4 inverter
    n = netlist({"dsp": mult([100, 101]), "f0": ff(100, 200, cemux="INV"), "f1": ff(101, 201, cemux="INV")})
    assert absorb_dsp_output_registers(n)["flip_flops"] == 2
    cells = n["modules"]["top"]["cells"]
    inv = [c for c in cells.values() if c["type"] == "LUT4"]
    assert len(inv) == 1 and inv[0]["connections"]["A"] == [EN] and cells["dsp"]["connections"]["CE0"] == inv[0]["connections"]["Z"]


def test_dsp_what_stays():
    base = {"dsp": mult([100, 101]), "f0": ff(100, 200), "f1": ff(101, 201)}
    registered = mult([100, 101])
    registered["parameters"]["REG_INPUTA_CLK"] = "CLK0"
    cases = {
        "reset": {"f1": ff(101, 201, lsr=RST)},
        "several enables": {"f1": ff(101, 201, ce=EN2)},
        "not one flip-flop": {"f2": ff(101, 202)},
        "registered": {"dsp": registered},
    }
    for reason, change in cases.items():
        n = netlist({**copy.deepcopy(base), **change})
        st = absorb_dsp_output_registers(n)
        assert st["flip_flops"] == 0 and st["skipped"].get(reason) == 1, (reason, st)
        assert "CLK0" not in n["modules"]["top"]["cells"]["dsp"]["connections"]
    n = netlist({"dsp": mult()})
    assert absorb_dsp_output_registers(n)["skipped"] == {"unused": 1}
