"""CRC-32 (IEEE 802.3, reflected, as zlib.crc32) over a byte stream, one byte per cycle.

Not a stream component: a helper that builds the combinational next-state function used by the
frame receiver and transmitter (hw/link.py). Golden twin: sw.protocol.crc32.
"""
from __future__ import annotations

from amaranth.hdl import Const, Value

POLY = 0xEDB88320


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
