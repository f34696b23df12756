"""The float model's building blocks follow the BBCU definitions."""
import pytest
import torch
import torch.nn.functional as F

from sw.config import ConfigError, ModelConfig
from sw.model import BBCUB, BBCUNet, BBCUU, BinaryConv2d, RPReLU, _ApproxSign, binary_sign


def test_sign_of_zero_is_plus_one():
    assert binary_sign(torch.tensor([-0.5, 0.0, 2.0])).tolist() == [-1, 1, 1]


def test_approxsign_gradient():
    x = torch.tensor([-1.5, -0.75, -0.25, 0.0, 0.25, 0.75, 1.5], requires_grad=True)
    _ApproxSign.apply(x).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([0.0, 0.5, 1.5, 2.0, 1.5, 0.5, 0.0]))


def test_binary_weight_forward_and_clamped_gradient():
    conv = BinaryConv2d(2, 3)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(3, 2, 3, 3) * 0.7)
        conv.weight[0, 0, 0, 0] = 1.5      # outside [-1, 1]: no gradient
        conv.weight[0, 0, 0, 1] = 0.0      # sign(0) = +1
    bw = conv.binary_weight()
    alpha = conv.weight.abs().mean(dim=(1, 2, 3))
    assert torch.allclose(bw, binary_sign(conv.weight) * alpha.view(-1, 1, 1, 1))
    assert bw[0, 0, 0, 1] > 0
    bw.sum().backward()
    g = conv.weight.grad
    assert g[0, 0, 0, 0] == 0 and torch.all(g[conv.weight.abs() <= 1] == 1)


def test_binary_conv_zero_padding():
    conv = BinaryConv2d(1, 1)
    with torch.no_grad():
        conv.weight.fill_(0.5)
    out = conv(torch.ones(1, 1, 3, 3))
    assert torch.allclose(out[0, 0], 0.5 * torch.tensor([[4., 6, 4], [6, 9, 6], [4, 6, 4]]))


def test_rprelu():
    act = RPReLU(1)
    with torch.no_grad():
        act.gamma.fill_(1.0)
        act.zeta.fill_(-2.0)
    z = torch.tensor([-5.0, 0.0, 3.0]).view(1, 1, 1, 3)
    assert act(z).flatten().tolist() == [0.25 * -4 - 2, 1 - 2, 4 - 2]


def test_bbcub_and_bbcuu_shapes_and_residual():
    x = torch.randn(2, 4, 5, 6)
    assert BBCUB(4)(x).shape == x.shape
    u = BBCUU(4, 2)
    with torch.no_grad():
        u.conv.weight.zero_()                       # alpha = 0: only the residual remains
    y = u(x)
    assert y.shape == (2, 4, 10, 12)
    assert torch.allclose(y, F.interpolate(x, scale_factor=2, mode="nearest") + F.pixel_shuffle(u.act(torch.zeros(2, 16, 5, 6)), 2))


@pytest.mark.parametrize("cfg,shape", [
    (ModelConfig("sr", 2, 8, 2), (1, 3, 14, 18)), (ModelConfig("sr", 3, 8, 1), (1, 3, 21, 27)),
    (ModelConfig("sr", 4, 8, 1), (1, 3, 28, 36)), (ModelConfig("denoise", 1, 8, 2), (1, 3, 7, 9)),
    (ModelConfig("jpeg", 1, 8, 2, colors=1), (1, 1, 7, 9))])
def test_network_shapes(cfg, shape):
    m = BBCUNet(cfg)
    x = torch.rand(1, cfg.colors, 7, 9)
    assert m(x).shape == shape
    assert len(m.up) == (2 if cfg.scale == 4 else 1 if cfg.task == "sr" else 0)


def test_identity_at_init_for_sr():
    """With zero binary scales and zero tail the SR output is the bilinear-upsampled input."""
    m = BBCUNet(ModelConfig("sr", 2, 4, 1))
    with torch.no_grad():
        m.tail.weight.zero_()
    x = torch.rand(1, 3, 5, 5)
    assert torch.allclose(m(x), F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False), atol=1e-5)


def test_bad_configs():
    with pytest.raises(ConfigError):
        ModelConfig("sr", 5)
    with pytest.raises(ConfigError):
        ModelConfig("denoise", 2)
    with pytest.raises(ConfigError):
        ModelConfig.from_dict({"task": "sr", "bogus": 1})
