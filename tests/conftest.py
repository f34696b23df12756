import os
from pathlib import Path

import numpy as np
import pytest
import torch

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
