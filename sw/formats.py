"""Number formats and bit layouts, defined once.

Everything that crosses the software/hardware boundary is described here and imported by the
golden model (sw/golden.py), the compiler (sw/compiler.py), the gateware (hw/) and the tests.
docs/arithmetic.md is the prose version of this module; keep them in step.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Pixels travel as unsigned 8-bit words.
PIXEL_BITS = 8
PIXEL_MAX = (1 << PIXEL_BITS) - 1

#: Every per-channel multiplier constant (weight scale A, PReLU slope S, head/tail requantiser M)
#: is a signed integer of this many bits, so one 18x18 DSP multiply (ECP5 MULT18X18D) holds it.
MULT_BITS = 18
MULT_MAX = (1 << (MULT_BITS - 1)) - 1

#: Full-precision head/tail weights are symmetric signed int8 (-127..127) with a per-channel scale.
WEIGHT_BITS = 8
WEIGHT_QMAX = (1 << (WEIGHT_BITS - 1)) - 1

#: Fraction bits of the bilinear skip weights of the SR output (one dimension). Exact for r=2, 4.
BILINEAR_FRAC_1D = 8
BILINEAR_FRAC = 2 * BILINEAR_FRAC_1D

#: Binary activations and weights: bit 1 encodes +1, bit 0 encodes -1.
BIT_PLUS = 1

#: Largest shift the compiler may choose for any requantiser.
MAX_SHIFT = 40

#: Convolution kernel size (every conv in BBCU is 3x3, stride 1, zero padding 1).
KERNEL = 3
TAPS = KERNEL * KERNEL


def sat_bounds(bits: int) -> tuple[int, int]:
    """Inclusive range of a signed two's complement word of `bits` bits."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@dataclass(frozen=True)
class FeatureFormat:
    """Signed fixed-point feature word: value = q / 2**frac, q in a `bits`-bit signed range."""

    bits: int = 16
    frac: int = 6

    @property
    def lo(self) -> int:
        return sat_bounds(self.bits)[0]

    @property
    def hi(self) -> int:
        return sat_bounds(self.bits)[1]

    @property
    def y_bits(self) -> int:
        """Width of the pre-activation value y of scale/requant units (saturated there)."""
        return self.bits + 2

    @property
    def y_lo(self) -> int:
        return sat_bounds(self.y_bits)[0]

    @property
    def y_hi(self) -> int:
        return sat_bounds(self.y_bits)[1]

    def to_dict(self) -> dict:
        return {"bits": self.bits, "frac": self.frac}


def popcount_bits(n: int) -> int:
    """Bits needed to hold a count 0..n."""
    return max(1, int(n).bit_length())


def dot_bits(cin: int) -> int:
    """Signed width of a binary dot product over a 3x3xcin window (range -9cin..9cin)."""
    return popcount_bits(TAPS * cin) + 1


def weight_bit_index(tap: int, cin_index: int, cin: int) -> int:
    """Position of weight (tap = ky*3+kx, input channel c) in an output channel's bit vector.

    The window generator emits bits in the same order, so XNOR lines up lane for lane.
    """
    return tap * cin + cin_index
