"""Helpers for the analytical `resource_estimate()`s of composite units.

Composite units estimate their resources by building their sub-units and asking each one; those
instances are never elaborated, so `throwaway` marks them as used (no UnusedElaboratable warning).
"""
from __future__ import annotations

KEYS = ("lut", "ff", "bram_bits", "dsp")


def throwaway(*units):
    """Mark components built only for their resource_estimate() as used; returns the first."""
    for u in units:
        u._MustUse__used = True
    return units[0] if units else None


def total(parts) -> dict:
    """Sum of resource estimates (missing keys count 0)."""
    return {k: sum(p.get(k, 0) for p in parts) for k in KEYS}
