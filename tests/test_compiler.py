"""Compile -> golden tracks the float model; the program file is refused when damaged."""
import json

import numpy as np
import pytest
import torch

from sw import golden
from sw.compiler import compile_model
from sw.config import ConfigError, ModelConfig
from sw.data import sample_image
from sw.model import BBCUNet, load_checkpoint, save_checkpoint
from sw.program import Program, ProgramError

from conftest import random_network

CONFIGS = [ModelConfig("sr", 2, 16, 3), ModelConfig("sr", 4, 8, 2), ModelConfig("sr", 3, 8, 1),
           ModelConfig("denoise", 1, 16, 3), ModelConfig("jpeg", 1, 8, 2, colors=1)]


def _float_u8(model, img):
    from sw.backends import FloatBackend
    return FloatBackend(model).restore(img)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.task}x{c.scale}c{c.channels}n{c.units}")
def test_golden_tracks_float_on_random_networks(cfg):
    m = random_network(cfg, seed=cfg.channels + cfg.units)
    img = sample_image("astronaut", cfg.colors)[120:168, 180:236]
    x = golden.to_nchw(img).float() / 255
    prog = compile_model(m, [x])
    c = golden.SatCounter()
    out = golden.run(prog, img, c)
    ref = _float_u8(m, img)
    diff = np.abs(out.astype(int) - ref.astype(int))
    assert out.shape == ref.shape
    # rounding of features may flip a sign near a threshold: allow rare 1-2 LSB differences only
    assert diff.max() <= 2 and diff.mean() < 0.05, (diff.max(), diff.mean())
    feature_sats = {k: v for k, v in c.items() if not k.startswith("tail")}
    assert sum(feature_sats.values()) == 0


def test_program_roundtrip_and_hash(tmp_path):
    m = random_network(ModelConfig("sr", 2, 8, 2))
    prog = compile_model(m, [torch.rand(1, 3, 16, 16)])
    path = tmp_path / "p.safetensors"
    digest = prog.save(path)
    back = Program.load(path)
    assert back.content_hash == digest == prog.content_hash
    img = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    assert np.array_equal(golden.run(prog, img), golden.run(back, img))


def test_program_differences():
    """Program.differences: the integers and tensors exactly, the float calibration statistics
    within a relative tolerance (they differ in their last bits between CPUs)."""
    import copy
    m = random_network(ModelConfig("sr", 2, 8, 1))
    prog = compile_model(m, [torch.rand(1, 3, 16, 16)])
    same = copy.deepcopy(prog)
    assert prog.differences(same) == []
    key = next(iter(same.calibration["max_abs"]))
    same.calibration["max_abs"][key] *= 1 + 1e-7            # float32 noise: still the same program
    assert prog.differences(same) == [] and same.content_hash != prog.content_hash
    same.calibration["max_abs"][key] *= 1.01
    assert prog.differences(same) == [f"calibration max_abs[{key!r}]"]
    other = copy.deepcopy(prog)
    other.layers[1].thresh = other.layers[1].thresh.copy()
    other.layers[1].thresh[0] += 1
    assert prog.differences(other) == ["tensor layers.1.thresh"]
    other = copy.deepcopy(prog)
    other.layers[1].shift += 1
    assert prog.differences(other) == ["header field 'layers'"]


def _saved(tmp_path):
    m = random_network(ModelConfig("sr", 2, 8, 1))
    prog = compile_model(m, [torch.rand(1, 3, 16, 16)])
    path = tmp_path / "p.safetensors"
    prog.save(path)
    return prog, path


def test_corrupted_program_refused(tmp_path):
    _, path = _saved(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 0xFF                       # flip bits in tensor data
    path.write_bytes(bytes(raw))
    with pytest.raises(ProgramError, match="hash mismatch"):
        Program.load(path)
    path.write_bytes(bytes(raw[: len(raw) // 2]))
    with pytest.raises(ProgramError, match="not a readable"):
        Program.load(path)


def test_wrong_version_and_format_refused(tmp_path):
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open

    _, path = _saved(tmp_path)
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    for key, value, msg in [("version", 99, "version 99 is not supported"), ("format", "other", "not a BBCU")]:
        header = json.loads(meta["header"])
        header[key] = value
        bad = tmp_path / f"bad_{key}.safetensors"
        save_file(tensors, str(bad), metadata={"header": json.dumps(header), "content_hash": meta["content_hash"]})
        with pytest.raises(ProgramError, match=msg):
            Program.load(bad)


def test_checkpoint_config_mismatch_refused(tmp_path):
    m = BBCUNet(ModelConfig("sr", 2, 8, 2))
    p = tmp_path / "m.pt"
    save_checkpoint(p, m)
    model, _ = load_checkpoint(p)
    assert model.cfg == m.cfg
    with pytest.raises(ConfigError, match="does not match"):
        load_checkpoint(p, ModelConfig("sr", 2, 16, 2))
    # a state dict that does not fit its declared config
    obj = torch.load(p, weights_only=True)
    obj["config"]["units"] = 3
    torch.save(obj, p)
    with pytest.raises(ConfigError, match="weights do not match"):
        load_checkpoint(p)
    p.write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="not a loadable"):
        load_checkpoint(p)
