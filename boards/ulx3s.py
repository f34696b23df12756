"""ULX3S-85F (ECP5 LFE5U-85F, CABGA381) top: 25 MHz oscillator -> EHXPLLL -> `sync`, FT231X UART.

LEDs: 0 heartbeat, 1 rx activity, 2 tx activity, 3 busy, 4 error (stretched), 7 PLL locked and out of
reset. Reset: power-on counter after PLL lock, and the FIRE1 button (R1, active high).
"""
from __future__ import annotations

from amaranth import Instance, Module, Signal
from amaranth.lib import io

from .common import BoardTop, PLLConfig, ecp5_pll

BOARD = "ulx3s"
# x2-tiny (the shipped model) closes at 14.1 MHz here (docs/boards.md). From 25 MHz the PLL reaches no
# multiple of 3 MHz between 10 and 15 MHz, so the default is 10 MHz at 2 Mbaud (divisor 5, exact; the
# FT231X supports 2 Mbaud). The host must open the port at the same rate (--baud 2000000).
DEFAULT_MHZ = 10.0
DEFAULT_BAUD = 2_000_000


def platform():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform

    return ULX3S_85F_Platform()


class ULX3STop(BoardTop):
    FAMILY = "ecp5"
    CLK_HZ = 25e6
    BUTTON = ("button_fire", 0)

    @classmethod
    def pll_config(cls, fout_hz: float) -> PLLConfig:
        return ecp5_pll(cls.CLK_HZ, fout_hz)

    def clock(self, m: Module, platform):
        m.submodules.clk25_buf = clk25 = io.Buffer("i", platform.request("clk25", 0, dir="-"))
        clk, lock = Signal(), Signal()
        p = self.pll.params
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{self.pll.fin_hz / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{self.pll.fout_hz / 1e6:.4f}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=p["CLKI_DIV"], p_CLKFB_DIV=p["CLKFB_DIV"],
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["CLKOP_DIV"],
            p_CLKOP_CPHASE=p["CLKOP_CPHASE"], p_CLKOP_FPHASE=p["CLKOP_FPHASE"],
            p_FEEDBK_PATH="CLKOP",
            i_RST=0, i_STDBY=0, i_CLKI=clk25.i, i_CLKFB=clk,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_CLKOP=clk, o_LOCK=lock,
        )
        return clk, lock

    def leds(self, m: Module, platform, s: dict):
        for n, key in ((0, "heartbeat"), (1, "rx"), (2, "tx"), (3, "busy"), (4, "error")):
            self.drive_led(m, platform, "led", n, s[key])
        self.drive_led(m, platform, "led", 7, s["ready"])
