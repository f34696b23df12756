"""CRC-32 (IEEE 802.3, reflected, as zlib.crc32) over a byte stream.

crc32_next: the combinational byte-wise next-state function; CRC32Unit: the CRC register of the
frame receiver / transmitter (hw/link.py), byte-wise (one byte per cycle) or bit-serial (one byte
per 9 cycles, a quarter of the logic). Not stream components. Golden twin: sw.protocol.crc32.
"""
from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.hdl import Const, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

POLY = 0xEDB88320
#: the register (before the final inversion) after a frame's bytes and then its CRC-32, low byte
#: first, went through it: a receiver checks a frame by this constant, not byte by byte
RESIDUE = 0xDEBB20E3


def crc32_next(crc: Value, byte: Value) -> Value:
    """Next CRC register value (pre-inversion form) after one byte, as an Amaranth expression.

    Each output bit is the XOR of a fixed set of input bits (the byte-wise LFSR matrix, computed
    here in Python), so the expression stays flat."""
    terms = []
    for out_bit in range(32):
        taps_c, taps_b = _matrix()[out_bit]
        x = Const(0, 1)
        for i in taps_c:
            x = x ^ crc[i]
        for i in taps_b:
            x = x ^ byte[i]
        terms.append(x)
    from amaranth import Cat
    return Cat(*terms)


_MATRIX = None


def _matrix():
    """For each output bit: which CRC bits and which byte bits it XORs."""
    global _MATRIX
    if _MATRIX is None:
        cols_c = [crc32_next_int(1 << i, 0) for i in range(32)]
        cols_b = [crc32_next_int(0, 1 << i) for i in range(8)]
        _MATRIX = [([i for i in range(32) if cols_c[i] >> o & 1], [i for i in range(8) if cols_b[i] >> o & 1])
                   for o in range(32)]
    return _MATRIX


def crc32_next_int(crc: int, byte: int) -> int:
    """Software model of crc32_next (for tests): zlib.crc32 == ~fold(crc32_next, 0xFFFFFFFF)."""
    c = crc ^ byte
    for _ in range(8):
        c = (c >> 1) ^ (POLY if c & 1 else 0)
    return c


class CRC32Unit(wiring.Component):
    """A CRC-32 register with its update, for the link's receiver and transmitter.

    Signature (all plain signals, no stream):
      init:  In(1)    value <- 0xFFFFFFFF (the frame start)
      go:    In(1)    take `byte` into the CRC (only while ~busy; init and go never together)
      byte:  In(8)
      busy:  Out(1)   an update is in progress (serial only); `value` is final when busy is low
      value: Out(32)  the CRC register (pre-inversion form, as crc32_next)

    serial=False: the byte-wise update (crc32_next) in the cycle of `go`, never busy; about four
    LUT4 per register bit. serial=True: one bit per cycle (value <- (value >> 1) ^ POLY*fb with
    fb = value[0] ^ byte bit), busy for the 8 cycles after `go`: one LUT4 per register bit, for
    links whose bytes come from a UART (tens of cycles apart).
    Cycle model: serial=False 1 byte per cycle; serial=True 1 byte per 9 cycles (go + 8 steps).
    Golden twin: crc32_next_int / sw.protocol.crc32."""

    def __init__(self, serial: bool = False):
        self.serial = serial
        super().__init__({"init": In(1), "go": In(1), "byte": In(8), "busy": Out(1), "value": Out(32)})

    @staticmethod
    def estimate(serial: bool) -> dict:
        """resource_estimate() without building the unit (for its users' own estimates)."""
        if serial:
            return {"lut": 32 + 8 + 6, "ff": 32 + 8 + 4, "bram_bits": 0, "dsp": 0}
        return {"lut": 4 * 32, "ff": 32, "bram_bits": 0, "dsp": 0}

    def resource_estimate(self) -> dict:
        return self.estimate(self.serial)

    def elaborate(self, platform):
        m = Module()
        value = self.value
        if not self.serial:
            with m.If(self.init):
                m.d.sync += value.eq(0xFFFFFFFF)
            with m.Elif(self.go):
                m.d.sync += value.eq(crc32_next(value, self.byte))
            return m
        sh = Signal(8)
        left = Signal(range(9))
        m.d.comb += self.busy.eq(left != 0)
        fb = value[0] ^ sh[0]
        with m.If(self.init):
            m.d.sync += [value.eq(0xFFFFFFFF), left.eq(0)]
        with m.Elif(self.go & (left == 0)):
            m.d.sync += [sh.eq(self.byte), left.eq(8)]
        with m.Elif(left != 0):
            m.d.sync += [value.eq((value >> 1) ^ Mux(fb, POLY, 0)), sh.eq(sh >> 1), left.eq(left - 1)]
        return m
