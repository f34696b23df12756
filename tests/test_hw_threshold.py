"""Threshold unit in cocotb (Icarus) against the golden binariser, bubbles and back-pressure included."""
import numpy as np
import pytest
import torch

from hw.estimate import throwaway
from hw.threshold import Threshold
from sim.runner import run_cocotb
from sw import golden
from sw.formats import FeatureFormat


@pytest.mark.parametrize("channels,lanes,bits,p_bubble,p_stall", [
    (8, 1, 16, 0.0, 0.0), (8, 2, 16, 0.3, 0.3), (12, 4, 12, 0.5, 0.2), (5, 5, 8, 0.2, 0.5)])
def test_threshold_unit(channels, lanes, bits, p_bubble, p_stall):
    rng = np.random.default_rng(channels * 7 + lanes)
    fmt = FeatureFormat(bits, 4)
    t = rng.integers(fmt.lo, fmt.hi + 2, channels)
    t[0], t[-1] = fmt.lo, fmt.hi + 1                     # all-ones / all-zeros channels
    npx = 40
    x = rng.integers(fmt.lo, fmt.hi + 1, (npx, channels))
    x[:10] = t[None, :] .clip(fmt.lo, fmt.hi)              # ties: x == T gives +1
    x[10:20] = (t[None, :] - 1).clip(fmt.lo, fmt.hi)
    x[20, :], x[21, :] = fmt.lo, fmt.hi                     # saturation extremes
    b = golden.threshold(torch.from_numpy(x.T[None, :, None, :]), t)[0, :, 0, :].numpy()   # [C, px]
    words = (b.astype(np.int64) << np.arange(channels)[:, None]).sum(0)
    res = run_cocotb(Threshold(t, fmt, lanes), "threshold", "sim.tb_threshold", {"x": x, "bits": words},
                     {"lanes": lanes, "bits": bits, "p_bubble": p_bubble, "p_stall": p_stall, "seed": 3})
    if p_bubble == 0 and p_stall == 0:
        model = throwaway(Threshold(t, fmt, lanes)).cycles_per_pixel() * npx
        assert abs(res["cycles"] - model) <= 0.02 * model + 1, (res["cycles"], model)
