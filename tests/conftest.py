import os
from pathlib import Path

import numpy as np
import pytest
import torch
from amaranth import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")


def shared_datasets() -> Path:
    from sw.data import datasets_dir
    return datasets_dir()


def need_dataset(name: str) -> Path:
    p = shared_datasets() / name
    if not p.is_dir():
        pytest.skip(f"dataset {name} not available at {p} (put the shared datasets in ../shared/datasets)")
    return p


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_network(cfg, seed=0, spread=2.0):
    """A random float BBCUNet with non-trivial thresholds, RPReLU shifts and slopes."""
    from sw.model import BBCUNet

    torch.manual_seed(seed)
    m = BBCUNet(cfg).eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "move" in n or "gamma" in n or "zeta" in n:
                p.normal_(0, spread)
            if "slope" in n:
                p.uniform_(-0.5, 1.5)
    return m


class BoardReset(wiring.Component):
    """The Accelerator as boards/common.py instantiates it: in a reset-less sync domain (clock `clk`),
    its power-on reset `por` (hw/accelerator.py) driven by the testbench's `rst`. (For Verilog
    testbenches: the clock is assigned from a port, which Amaranth's simulator would race.)"""

    def __init__(self, prog, build, fold):
        from hw.accelerator import Accelerator

        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1), "error": Out(1),
                          "activity": Out(1), "clk": In(1), "rst": In(1)})
        self.accel = Accelerator(prog, build, fold, por=self.rst)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync", reset_less=True)
        m.d.comb += cd.clk.eq(self.clk)
        m.submodules.accel = a = self.accel
        m.d.comb += [a.rx.eq(self.rx), self.tx.eq(a.tx), self.busy.eq(a.busy), self.error.eq(a.error),
                     self.activity.eq(a.activity)]
        return m
