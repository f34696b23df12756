"""Shared board-layer code: PLL parameter search, reset, LED helpers and the common top.

A board top (boards/icebreaker.py, boards/ulx3s.py) is a `BoardTop` subclass that supplies
`clock(m, platform)` (the on-board oscillator through the PLL: the `sync` clock signal and the
PLL lock) and `leds(m, platform, status)`. Everything else is common:

  reset    a power-on reset counter in a reset-less domain on the PLL output: the design is held in
           reset until the PLL has locked and RESET_US microseconds have passed (this also covers
           the iCE40 block RAM read-as-zero window after configuration), and while the reset
           button is pressed (synchronised; the counter restarts on release). `sync` itself is
           reset-less: the accelerator takes the reset as its `por` (hw/accelerator.py: the
           dataflow network then through its reset tree only), the status logic by a registered
           copy of its own (hw/accelerator.with_por)
  UART     the USB-serial chip's rx/tx pins (resource "uart") to hw.accelerator.Accelerator
  status   heartbeat (~1 Hz toggle while out of reset), rx / tx activity, busy, and error; the
           activity and error pulses are stretched (ACT_MS, ERROR_MS) to be visible

PLL searches (`ice40_pll`, `ecp5_pll`) follow icepll / ecppll (Project IceStorm / Trellis) and
return the achieved output frequency, which the top gives to BuildConfig(clock_hz=...) so the
UART divisor and the link time-out use the real clock.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from amaranth import ClockDomain, Elaboratable, Module, Mux, Signal
from amaranth.lib import io
from amaranth.lib.cdc import FFSynchronizer

RESET_US = 100        # power-on reset after PLL lock (iCE40 BRAMs need > 3 us after configuration)
ACT_MS = 30           # stretch of a UART activity pulse
ERROR_MS = 250        # stretch of a link error pulse


class PLLError(ValueError):
    """No PLL setting reaches the requested frequency within the device's limits."""


@dataclass
class PLLConfig:
    family: str              # "ice40" | "ecp5"
    fin_hz: float
    requested_hz: float
    fout_hz: float           # achieved
    fvco_hz: float
    fpfd_hz: float
    params: dict = field(default_factory=dict)   # primitive parameters (DIVR/DIVF/... or CLKI_DIV/...)

    @property
    def fout_mhz(self) -> float:
        return self.fout_hz / 1e6

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- PLL searches
def ice40_filter_range(fpfd_mhz: float) -> int:
    """SB_PLL40 FILTER_RANGE for a phase-detector frequency (the table of icepll)."""
    for limit, value in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if fpfd_mhz < limit:
            return value
    return 6


def ice40_pll(fin_hz: float, fout_hz: float) -> PLLConfig:
    """SB_PLL40 in SIMPLE feedback mode: fout = fin * (DIVF+1) / ((DIVR+1) * 2^DIVQ).

    Limits (iCE40 sysCLOCK PLL, as icepll): F_PFD 10..133 MHz, F_VCO 533..1066 MHz,
    F_OUT 16..275 MHz, DIVR 0..15, DIVF 0..127, DIVQ 1..6. Ties go to the lowest VCO (less power),
    as icepll.
    """
    fin, req = fin_hz / 1e6, fout_hz / 1e6
    if not 16 <= req <= 275:
        raise PLLError(f"iCE40 PLL output must be 16..275 MHz, requested {req:g} MHz")
    best = None
    for divr in range(16):
        fpfd = fin / (divr + 1)
        if not 10 <= fpfd <= 133:
            continue
        for divf in range(128):
            fvco = fpfd * (divf + 1)
            if not 533 <= fvco <= 1066:
                continue
            for divq in range(1, 7):
                fout = fvco / (1 << divq)
                if not 16 <= fout <= 275:
                    continue
                err = abs(fout - req)
                if best is None or err < best[0] - 1e-9:
                    best = (err, divr, divf, divq, fpfd, fvco, fout)
    if best is None:
        raise PLLError(f"no iCE40 PLL setting for {fin:g} MHz -> {req:g} MHz")
    _, divr, divf, divq, fpfd, fvco, fout = best
    params = {"DIVR": divr, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": ice40_filter_range(fpfd)}
    return PLLConfig("ice40", fin_hz, fout_hz, fout * 1e6, fvco * 1e6, fpfd * 1e6, params)


def ecp5_pll(fin_hz: float, fout_hz: float) -> PLLConfig:
    """EHXPLLL, CLKOP fed back: fout = fin * CLKFB_DIV / CLKI_DIV, F_VCO = fout * CLKOP_DIV.

    Limits (as ecppll): CLKI_DIV 1..128, CLKFB_DIV 1..80, CLKOP_DIV 1..128, F_PFD 3.125..400 MHz,
    F_VCO 400..800 MHz, F_OUT 3.125..400 MHz. Ties go to the VCO closest to 600 MHz.
    """
    fin, req = fin_hz / 1e6, fout_hz / 1e6
    if not 3.125 <= req <= 400:
        raise PLLError(f"ECP5 PLL output must be 3.125..400 MHz, requested {req:g} MHz")
    best = None
    for idiv in range(1, 129):
        fpfd = fin / idiv
        if not 3.125 <= fpfd <= 400:
            continue
        for fbdiv in range(1, 81):
            fout = fpfd * fbdiv
            for odiv in range(1, 129):
                fvco = fout * odiv
                if not 400 <= fvco <= 800:
                    continue
                key = (round(abs(fout - req), 9), abs(fvco - 600))
                if best is None or key < best[0]:
                    best = (key, idiv, fbdiv, odiv, fpfd, fvco, fout)
    if best is None:
        raise PLLError(f"no ECP5 PLL setting for {fin:g} MHz -> {req:g} MHz")
    _, idiv, fbdiv, odiv, fpfd, fvco, fout = best
    params = {"CLKI_DIV": idiv, "CLKFB_DIV": fbdiv, "CLKOP_DIV": odiv, "CLKOP_CPHASE": odiv // 2,
              "CLKOP_FPHASE": 0}
    return PLLConfig("ecp5", fin_hz, fout_hz, fout * 1e6, fvco * 1e6, fpfd * 1e6, params)


def baud_error(clock_hz: float, baud: int) -> float:
    """Relative baud-rate error of the UART divisor round(clock / baud) (hw.accelerator)."""
    div = round(clock_hz / baud)
    return (clock_hz / div - baud) / baud


# --------------------------------------------------------------------------- small gateware helpers
class PulseStretcher(Elaboratable):
    """`o` is high from any cycle with `i` high until `ticks` pulses of `tick` have passed
    (`tick`: a shared one-cycle strobe, e.g. every millisecond, so the counter stays small)."""

    def __init__(self, ticks: int, tick):
        self.ticks = max(1, int(ticks))
        self.tick = tick
        self.i = Signal()
        self.o = Signal()

    def elaborate(self, platform):
        m = Module()
        cnt = Signal(range(self.ticks + 2))
        with m.If(self.i):
            m.d.sync += cnt.eq(self.ticks + 1)
        with m.Elif(self.tick & (cnt != 0)):
            m.d.sync += cnt.eq(cnt - 1)
        m.d.comb += self.o.eq(cnt != 0)
        return m


class BoardTop(Elaboratable):
    """The common part of a board top. Subclasses set FAMILY / CLK_HZ (oscillator) / BUTTON and
    implement `pll_config()`, `clock()` and `leds()`. `clock_hz` is the PLL's achieved frequency,
    which hw.accelerator.BuildConfig gets (UART divisor, link time-out, IDENT)."""

    FAMILY = ""
    CLK_HZ = 0.0
    BUTTON: tuple | None = None        # (resource name, number) of the reset button, or None

    def __init__(self, prog, freq_mhz: float, baud: int = 3_000_000, fold=None, max_width: int = 32,
                 max_height: int = 2048, max_payload: int = 1024, reset_button: bool = True,
                 arch: str = "dataflow"):
        from hw.accelerator import Accelerator, BuildConfig

        self.pll = self.pll_config(freq_mhz * 1e6)
        self.clock_hz = int(round(self.pll.fout_hz))
        self.baud = baud
        self.build_config = BuildConfig(max_width=max_width, max_height=max_height, max_payload=max_payload,
                                        clock_hz=self.clock_hz, baud=baud, arch=arch)
        self.power_on_reset = Signal()
        self.accel = Accelerator(prog, self.build_config, fold, por=self.power_on_reset)
        self.fold = self.accel.core.fold
        self.reset_button = reset_button and self.BUTTON is not None

    # -- per board
    @classmethod
    def pll_config(cls, fout_hz: float) -> PLLConfig:
        raise NotImplementedError

    def clock(self, m: Module, platform):
        """Return (clk, lock): the PLL output clock signal and its (asynchronous) lock."""
        raise NotImplementedError

    def leds(self, m: Module, platform, status: dict):
        raise NotImplementedError

    # -- common
    def elaborate(self, platform):
        from hw.accelerator import with_por

        m = Module()
        clk, lock = self.clock(m, platform)

        # power-on reset: reset-less "por" domain on the PLL clock
        m.domains.por = cd_por = ClockDomain("por", reset_less=True, local=True)
        m.domains.sync = cd_sync = ClockDomain("sync", reset_less=True)     # (module docstring)
        m.d.comb += [cd_por.clk.eq(clk), cd_sync.clk.eq(clk)]
        platform.add_clock_constraint(cd_sync.clk, self.clock_hz)

        lock_s = Signal()
        m.submodules.lock_sync = FFSynchronizer(lock, lock_s, o_domain="por")
        hold = Signal()
        if self.reset_button:
            m.submodules.btn_buf = btn = io.Buffer("i", platform.request(*self.BUTTON, dir="-"))  # active high
            btn_s = Signal()
            m.submodules.btn_sync = FFSynchronizer(btn.i, btn_s, o_domain="por")
            m.d.comb += hold.eq(~lock_s | btn_s)
        else:
            m.d.comb += hold.eq(~lock_s)
        delay = max(16, int(RESET_US * 1e-6 * self.clock_hz))
        timer = Signal(range(delay + 1))
        ready = Signal()
        with m.If(hold):
            m.d.por += [timer.eq(0), ready.eq(0)]
        with m.Elif(timer == delay):
            m.d.por += ready.eq(1)
        with m.Else():
            m.d.por += timer.eq(timer + 1)
        por = self.power_on_reset
        m.d.comb += por.eq(~ready)

        # UART pins
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.submodules.accel = accel = self.accel
        m.d.comb += [accel.rx.eq(rx.i), tx.o.eq(accel.tx)]

        # status (its own module, reset by its own copy of the power-on reset, hw/accelerator.with_por)
        st = Module()
        m.submodules.status = with_por(m, por, "status", st)
        rx_act, tx_act = Signal(), Signal()
        st.submodules.rx_act_sync = FFSynchronizer(~rx.i, rx_act)
        st.d.sync += tx_act.eq(~accel.tx)
        # one shared millisecond strobe for the heartbeat and the stretchers
        per_ms = max(2, int(round(self.clock_hz / 1000)))
        pre = Signal(range(per_ms))
        ms_tick = Signal()
        st.d.comb += ms_tick.eq(pre == per_ms - 1)
        st.d.sync += pre.eq(Mux(ms_tick, 0, pre + 1))
        hb = Signal(10)                                  # bit 9 toggles every 512 ms (~1 Hz blink)
        with st.If(ms_tick):
            st.d.sync += hb.eq(hb + 1)
        self._ms_tick = ms_tick
        stretch = lambda name, src, ms: self._stretch(st, name, src, ms)  # noqa: E731
        status = {
            "heartbeat": hb[-1],
            "blink_fast": hb[6],                         # ~8 Hz
            "rx": stretch("rx_led", rx_act, ACT_MS),
            "tx": stretch("tx_led", tx_act, ACT_MS),
            "activity": stretch("act_led", accel.activity, ACT_MS),
            "busy": accel.busy,
            "error": stretch("err_led", accel.error, ERROR_MS),
            "lock": lock_s,
            "ready": ready,
        }
        self.leds(m, platform, status)
        return m

    def _stretch(self, m, name, src, ms):
        s = PulseStretcher(ms, self._ms_tick)
        m.submodules[name] = s
        m.d.comb += s.i.eq(src)
        return s.o

    @staticmethod
    def drive_led(m, platform, name, number, value):
        """Drive one LED resource (its inversion, if any, is applied by the platform)."""
        buf = io.Buffer("o", platform.request(name, number, dir="-"))
        m.submodules[f"led_{name}_{number}"] = buf
        m.d.comb += buf.o.eq(value)

    def describe(self) -> dict:
        return {"pll": self.pll.to_dict(), "clock_hz": self.clock_hz, "baud": self.baud,
                "baud_error": baud_error(self.clock_hz, self.baud),
                "max_width": self.build_config.max_width, "max_height": self.build_config.max_height,
                "max_payload": self.build_config.max_payload}
