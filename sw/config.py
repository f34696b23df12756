"""Model configurations: task, scale, channels C, units n, amplification factor k."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml

TASKS = ("sr", "denoise", "jpeg")


class ConfigError(ValueError):
    """A configuration is invalid or does not match a checkpoint/program."""


@dataclass(frozen=True)
class ModelConfig:
    task: str = "sr"          # "sr" | "denoise" | "jpeg"
    scale: int = 2            # SR upscale factor (2, 3, 4); 1 for denoise/jpeg
    channels: int = 32        # feature channels C
    units: int = 8            # number of BBCU-B units n in the body
    k: float = 130.0          # amplification factor
    colors: int = 3           # 3 (RGB) or 1 (grayscale, JPEG models)

    def __post_init__(self):
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.task == "sr" and self.scale not in (2, 3, 4):
            raise ConfigError(f"SR scale must be 2, 3 or 4, got {self.scale}")
        if self.task != "sr" and self.scale != 1:
            raise ConfigError(f"{self.task} models have scale 1, got {self.scale}")
        if self.channels < 1 or self.units < 0:
            raise ConfigError("channels must be >= 1 and units >= 0")
        if self.colors not in (1, 3):
            raise ConfigError(f"colors must be 1 or 3, got {self.colors}")
        if not self.k > 0:
            raise ConfigError(f"k must be positive, got {self.k}")

    @property
    def up_factors(self) -> list[int]:
        """Factors of the BBCU-U units in order: [2] for x2, [3] for x3, [2, 2] for x4."""
        if self.task != "sr":
            return []
        return [2, 2] if self.scale == 4 else [self.scale]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "ModelConfig":
        d = yaml.safe_load(Path(path).read_text())
        if not isinstance(d, dict):
            raise ConfigError(f"{path}: expected a mapping")
        return cls.from_dict(d.get("model", d))


#: Named presets (the recipes in recipes/ train them). tiny is sized for the iCEBreaker (UP5K), base for
#: the ULX3S-85F (the shapes boards/fit.py predicts to fit it at max_width 64; docs/boards.md).
PRESETS: dict[str, ModelConfig] = {
    "x2-tiny": ModelConfig("sr", 2, 32, 8),
    "x4-tiny": ModelConfig("sr", 4, 32, 8),
    "x2-base": ModelConfig("sr", 2, 48, 12),
    "x4-base": ModelConfig("sr", 4, 48, 8),
    "dn-base": ModelConfig("denoise", 1, 64, 16),
    "jpeg-base": ModelConfig("jpeg", 1, 64, 16, colors=1),
}
