"""iCEBreaker (iCE40UP5K-SG48) top: 12 MHz oscillator -> SB_PLL40_PAD -> `sync`, FT2232H channel B UART.

LEDs (main board): green = heartbeat while idle, fast blink while the link is active; red = error
(stretched). The break-off PMOD (on PMOD2 while attached), when `pmod_leds`: red LED = error,
green LED 1..4 = heartbeat, rx activity, tx activity, busy. Reset: power-on counter after PLL lock,
and the user button (pin 10).
"""
from __future__ import annotations

from amaranth import Instance, Module, Mux, Signal

from .common import BoardTop, PLLConfig, ice40_pll

BOARD = "icebreaker"
# The row-serial x2-tiny closes at ~29 MHz against a 48 MHz constraint (docs/boards.md row 64) and
# meets 24 MHz when built for it (row 65): 24 MHz (exact from 12 MHz) is the default. 2 Mbaud
# (divisor 12, exact) is the default rate; the host must open the port at the same rate (--baud 2000000).
DEFAULT_MHZ = 24.0
DEFAULT_BAUD = 2_000_000


def platform():
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    return ICEBreakerPlatform()


class ICEBreakerTop(BoardTop):
    FAMILY = "ice40"
    CLK_HZ = 12e6
    BUTTON = ("button", 0)

    def __init__(self, *args, pmod_leds: bool = True, **kw):
        super().__init__(*args, **kw)
        self.pmod_leds = pmod_leds

    @classmethod
    def pll_config(cls, fout_hz: float) -> PLLConfig:
        return ice40_pll(cls.CLK_HZ, fout_hz)

    def clock(self, m: Module, platform):
        # The 12 MHz oscillator is on pin 35, the PLL input pad of the UP5K: SB_PLL40_PAD takes the
        # package pin directly (no SB_IO / global buffer in front of it).
        pin = platform.request("clk12", 0, dir="-")
        clk, lock = Signal(), Signal()
        p = self.pll.params
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            p_PLLOUT_SELECT="GENCLK",
            p_DIVR=p["DIVR"], p_DIVF=p["DIVF"], p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"],
            i_PACKAGEPIN=pin.io,
            i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=clk,
            o_LOCK=lock,
        )
        return clk, lock

    def elaborate(self, platform):
        if self.pmod_leds:
            platform.add_resources(platform.break_off_pmod)
        return super().elaborate(platform)

    def leds(self, m: Module, platform, s: dict):
        # green: heartbeat, fast blink while bytes move; off while in reset
        self.drive_led(m, platform, "led_g", 0, Mux(s["activity"], s["blink_fast"], s["heartbeat"]) & s["ready"])
        # red: a link error (stretched), or steadily on while the PLL is not locked
        self.drive_led(m, platform, "led_r", 0, s["error"] | ~s["lock"])
        if self.pmod_leds:
            self.drive_led(m, platform, "led_r", 1, s["error"])
            for n, key in zip((1, 2, 3, 4), ("heartbeat", "rx", "tx", "busy")):
                self.drive_led(m, platform, "led_g", n, s[key])
