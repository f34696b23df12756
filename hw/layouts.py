"""Stream payload layouts and number formats of the gateware, derived from sw/formats.py.

Every unit, the testbenches and the golden model use these (one definition). Lane 0 of an
ArrayLayout is in the least significant bits; channel c of a packed bit word is bit c; tap t of
a window holds bits [t*C, (t+1)*C) (formats.weight_bit_index).
"""
from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from sw import formats
from sw.formats import FeatureFormat


def feature(fmt: FeatureFormat):
    """One feature word (signed FW bits)."""
    return signed(fmt.bits)


def feature_lanes(fmt: FeatureFormat, lanes: int):
    """`lanes` feature words per transfer (channel-serial groups)."""
    return data.ArrayLayout(signed(fmt.bits), lanes)


def y_value(fmt: FeatureFormat):
    """Pre-activation / RPReLU output (signed FW + 2 bits)."""
    return signed(fmt.y_bits)


def threshold_value(fmt: FeatureFormat):
    """Threshold constant T (signed FW + 1 bits: T may be 2**(FW-1))."""
    return signed(fmt.bits + 1)


def dot(cin: int):
    """Binary dot product over a 3x3xcin window."""
    return signed(formats.dot_bits(cin))


def bit_word(c: int):
    """One pixel of binary activations, channel c at bit c."""
    return unsigned(c)


def window(c: int):
    """A 3x3 window of C-bit pixels (tap t at bits [t*C, (t+1)*C), zero where masked) + mask."""
    return data.StructLayout({"bits": unsigned(formats.TAPS * c), "mask": unsigned(formats.TAPS)})


def pixel(colors: int):
    """One image pixel: `colors` unsigned bytes (R at lane 0)."""
    return data.ArrayLayout(unsigned(formats.PIXEL_BITS), colors)


def mult_const():
    return signed(formats.MULT_BITS)


def param_word():
    """One parameter word on its way into a row-serial board's RAM (PARAMS frames)."""
    return data.StructLayout({"addr": unsigned(16), "data": unsigned(16)})
