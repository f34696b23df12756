"""The float, trainable BBCU networks (faithful to the ICLR 2023 reference, BBCUM / binary DnCNN).

Building blocks:
  * BinaryActivation: sign(x) with sign(0) = +1, ApproxSign backward.
  * BinaryConv2d: 3x3 conv of +-1 activations with sign(W) * mean|W| (per output channel, scale
    detached), weight gradient through clamp(W, -1, 1). Zero padding (padded taps contribute 0).
  * RPReLU(z) = PReLU_c(z + gamma_c) + zeta_c.
  * BBCUB: RPReLU(bconv(sign(x + b))) + x.
  * BBCUU: pixel_shuffle_r(RPReLU(bconv_{C->C r r}(sign(x + b)))) + nearest_upsample_r(x).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ConfigError, ModelConfig


def binary_sign(x: torch.Tensor) -> torch.Tensor:
    """Strict sign: +1 where x >= 0, -1 elsewhere (sign(0) = +1)."""
    return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))


class _ApproxSign(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return binary_sign(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        d = torch.zeros_like(x)
        neg = (x >= -1) & (x < 0)
        pos = (x >= 0) & (x < 1)
        d = torch.where(neg, 2 + 2 * x, d)
        d = torch.where(pos, 2 - 2 * x, d)
        return g * d


class LearnableBias(nn.Module):
    """Per-channel learnable shift b of the activation binariser (init 0)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x):
        return x + self.bias


class BinaryConv2d(nn.Module):
    """3x3 binary convolution: +-1 inputs, sign(W) * mean|W| weights, zero padding 1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, 3, 3))
        nn.init.kaiming_normal_(self.weight)
        with torch.no_grad():
            self.weight.mul_(0.1)

    def scale(self) -> torch.Tensor:
        """Per-output-channel weight scale alpha = mean|W| (detached), shape [cout]."""
        return self.weight.detach().abs().mean(dim=(1, 2, 3))

    def binary_weight(self) -> torch.Tensor:
        w = self.weight
        bw = binary_sign(w) * self.scale().view(-1, 1, 1, 1)
        clipped = torch.clamp(w, -1.0, 1.0)
        return bw.detach() - clipped.detach() + clipped

    def forward(self, a):
        return F.conv2d(a, self.binary_weight(), padding=1)


class RPReLU(nn.Module):
    """RPReLU(z) = PReLU_c(z + gamma_c) + zeta_c (slopes init 0.25, shifts init 0)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.slope = nn.Parameter(torch.full((channels,), 0.25))
        self.zeta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, z):
        return F.prelu(z + self.gamma, self.slope) + self.zeta


class BBCUB(nn.Module):
    """Basic binary convolution unit: RPReLU(bconv(sign(x + b))) + x."""

    def __init__(self, channels: int):
        super().__init__()
        self.move = LearnableBias(channels)
        self.conv = BinaryConv2d(channels, channels)
        self.act = RPReLU(channels)

    def forward(self, x):
        a = _ApproxSign.apply(self.move(x))
        return self.act(self.conv(a)) + x


class BBCUU(nn.Module):
    """Binary up-sampling unit: pixel_shuffle(RPReLU(bconv_{C->C r r}(sign(x+b)))) + nearest(x)."""

    def __init__(self, channels: int, r: int):
        super().__init__()
        self.r = r
        self.move = LearnableBias(channels)
        self.conv = BinaryConv2d(channels, channels * r * r)
        self.act = RPReLU(channels * r * r)

    def forward(self, x):
        a = _ApproxSign.apply(self.move(x))
        y = F.pixel_shuffle(self.act(self.conv(a)), self.r)
        return y + F.interpolate(x, scale_factor=self.r, mode="nearest")


def _init_fp_conv(conv: nn.Conv2d, scale: float = 0.1):
    nn.init.kaiming_normal_(conv.weight)
    with torch.no_grad():
        conv.weight.mul_(scale)
        conv.bias.zero_()


class BBCUNet(nn.Module):
    """SR (BBCUM) or denoising/JPEG (binary DnCNN) network built from a ModelConfig."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.head = nn.Conv2d(cfg.colors, c, 3, 1, 1)
        self.body = nn.ModuleList(BBCUB(c) for _ in range(cfg.units))
        self.up = nn.ModuleList(BBCUU(c, r) for r in cfg.up_factors)
        self.hr = BBCUB(c) if cfg.task == "sr" else None
        self.tail = nn.Conv2d(c, cfg.colors, 3, 1, 1)
        _init_fp_conv(self.head)
        _init_fp_conv(self.tail)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Forward pass returning every feature map the hardware stores (for calibration)."""
        cfg = self.cfg
        xk = x * cfg.k
        h = self.head(xk)
        h = F.leaky_relu(h, 0.1) if cfg.task == "sr" else F.relu(h)
        feats = {"head": h}
        for i, unit in enumerate(self.body):
            h = unit(h)
            feats[f"body.{i}"] = h
        for i, unit in enumerate(self.up):
            h = unit(h)
            feats[f"up.{i}"] = h
        if self.hr is not None:
            h = self.hr(h)
            feats["hr"] = h
            t = self.tail(F.leaky_relu(h, 0.1))
            base = F.interpolate(xk, scale_factor=cfg.scale, mode="bilinear", align_corners=False)
            out = (t + base) / cfg.k
        else:
            t = self.tail(h)
            out = (xk - t) / cfg.k
        feats["out"] = out
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [N, colors, H, W] in 0..1; returns the restored image in (about) 0..1."""
        return self.features(x)["out"]


def build_model(cfg: ModelConfig) -> BBCUNet:
    return BBCUNet(cfg)


def save_checkpoint(path, model: BBCUNet, extra: dict | None = None):
    """Save weights + config (+ optional training state); loadable with weights_only=True."""
    obj = {"format": "bbcu-float-checkpoint", "version": 1, "config": model.cfg.to_dict(),
           "state_dict": model.state_dict()}
    if extra:
        obj.update(extra)
    torch.save(obj, path)


def load_checkpoint(path, cfg: ModelConfig | None = None) -> tuple[BBCUNet, dict]:
    """Load a float checkpoint without executing code (torch.load(weights_only=True)).

    If cfg is given, it must match the checkpoint's own config; a state dict that does not fit
    the config is refused with a ConfigError naming the mismatching tensors.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - re-raised with a clear message
        raise ConfigError(f"{path}: not a loadable BBCU checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict) or obj.get("format") != "bbcu-float-checkpoint":
        raise ConfigError(f"{path}: not a BBCU float checkpoint")
    ck_cfg = ModelConfig.from_dict(obj["config"])
    if cfg is not None and cfg != ck_cfg:
        raise ConfigError(f"{path}: checkpoint config {ck_cfg} does not match requested {cfg}")
    model = BBCUNet(ck_cfg)
    sd = obj["state_dict"]
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    bad_shape = sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if missing or unexpected or bad_shape:
        raise ConfigError(
            f"{path}: weights do not match config {ck_cfg}: missing={missing[:4]} "
            f"unexpected={unexpected[:4]} wrong_shape={bad_shape[:4]}")
    model.load_state_dict(sd)
    model.eval()
    return model, obj
