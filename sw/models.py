"""Resolving model names (shipped under models/) and paths to checkpoints and programs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError
from .data import PROJECT_ROOT

MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL = "x2-tiny"
CHECKPOINT_NAME = "model.pt"
PROGRAM_NAME = "program.safetensors"


@dataclass
class ModelRef:
    name: str
    checkpoint: Path | None
    program: Path | None

    def load_program(self):
        from .program import Program

        if self.program is None:
            raise ConfigError(f"model {self.name!r} has no compiled program; run 'bbcu compile' first")
        return Program.load(self.program)

    def load_float(self):
        from .model import load_checkpoint

        if self.checkpoint is None:
            raise ConfigError(f"model {self.name!r} has no float checkpoint")
        return load_checkpoint(self.checkpoint)[0]


def shipped_models() -> list[str]:
    if not MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in MODELS_DIR.iterdir() if (p / CHECKPOINT_NAME).exists() or (p / PROGRAM_NAME).exists())


def resolve(spec: str | None) -> ModelRef:
    """A shipped model name, a model folder, a checkpoint (.pt) or a program (.safetensors)."""
    spec = spec or DEFAULT_MODEL
    p = Path(spec)
    if not p.exists() and (MODELS_DIR / spec).is_dir():
        p = MODELS_DIR / spec
    if p.is_dir():
        ck, pr = p / CHECKPOINT_NAME, p / PROGRAM_NAME
        if not ck.exists() and not pr.exists():
            raise ConfigError(f"{p}: no {CHECKPOINT_NAME} or {PROGRAM_NAME} in this folder")
        return ModelRef(p.name, ck if ck.exists() else None, pr if pr.exists() else None)
    if p.is_file():
        if p.suffix == ".pt":
            sib = p.with_name(PROGRAM_NAME)
            return ModelRef(p.stem, p, sib if sib.exists() else None)
        if p.suffix == ".safetensors":
            return ModelRef(p.stem, None, p)
        raise ConfigError(f"{p}: expected a .pt checkpoint or a .safetensors program")
    known = ", ".join(shipped_models()) or "none"
    raise ConfigError(f"unknown model {spec!r} (shipped models: {known})")
