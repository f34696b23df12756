"""The integer "hardware program": what the compiler emits and the golden model / gateware consume.

Stored as safetensors (no pickle, no code execution on load): every integer array is a tensor,
and a JSON header (format, version, model config, feature format, per-layer scalars,
calibration statistics) sits in the safetensors metadata together with a SHA-256 content hash
over header and tensors. A wrong format/version or a hash mismatch is refused with ProgramError.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from .config import ModelConfig
from .formats import FeatureFormat

PROGRAM_FORMAT = "bbcu-hw-program"
PROGRAM_VERSION = 1


class ProgramError(ValueError):
    """A program file is corrupt, of the wrong version, or inconsistent."""


@dataclass
class HeadLayer:
    """Full-precision 3x3 conv colors -> C on u8 pixels, requantised into the feature format."""
    weight: np.ndarray      # int8  [C, colors, 3, 3]
    mult: np.ndarray        # int64 [C]  M_o  (signed, MULT_BITS)
    bias: np.ndarray        # int64 [C]  B_o  (includes the rounding half 2**(shift-1))
    shift: int              # SH
    act: str                # "lrelu" (SR) | "relu" (denoise/jpeg)
    act_mult: int           # S of LeakyReLU(0.1) (unused for relu)
    act_shift: int          # SS of LeakyReLU
    type: str = "head"


@dataclass
class BinaryLayer:
    """BBCU-B (r == 1) or BBCU-U (r > 1): threshold, XNOR-popcount, scale+RPReLU, residual."""
    thresh: np.ndarray      # int64 [cin]  T_c: bit = (x >= T_c)
    wbits: np.ndarray       # uint8 [cout, ceil(9*cin/8)] packed sign bits (1 = +1), little-endian
    mult: np.ndarray        # int64 [cout] A_o
    bias: np.ndarray        # int64 [cout] B_o (includes the rounding half)
    shift: int              # SA
    slope: np.ndarray       # int64 [cout] S_o (PReLU negative slope)
    slope_shift: int        # SS
    zeta: np.ndarray        # int64 [cout] Z_o
    cin: int
    cout: int
    r: int = 1
    type: str = "binary"

    @property
    def kind(self) -> str:
        return "bbcu_b" if self.r == 1 else "bbcu_u"

    def weight_bits(self) -> np.ndarray:
        """Unpacked weight bits, uint8 [cout, 9*cin] in formats.weight_bit_index order."""
        n = 9 * self.cin
        return np.unpackbits(self.wbits, axis=1, count=n, bitorder="little")


@dataclass
class TailLayer:
    """Full-precision 3x3 conv C -> colors plus the global skip, to u8 pixels."""
    weight: np.ndarray      # int8  [colors, C, 3, 3]
    mult: np.ndarray        # int64 [colors] M_o (sign of the residual folded in for denoise)
    bias: np.ndarray        # int64 [colors] B_o (includes the rounding half)
    shift: int              # ST (>= formats.BILINEAR_FRAC)
    in_act: str             # "lrelu" (SR: LeakyReLU(0.1) before the tail) | "none"
    act_mult: int
    act_shift: int
    skip: str               # "bilinear" (SR) | "identity" (denoise/jpeg)
    r: int                  # scale of the skip
    type: str = "tail"


LAYER_TYPES = {"head": HeadLayer, "binary": BinaryLayer, "tail": TailLayer}


@dataclass
class Program:
    config: ModelConfig
    fmt: FeatureFormat
    layers: list = field(default_factory=list)
    calibration: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ accessors
    @property
    def head(self) -> HeadLayer:
        return self.layers[0]

    @property
    def tail(self) -> TailLayer:
        return self.layers[-1]

    @property
    def binary_layers(self) -> list[BinaryLayer]:
        return [l for l in self.layers if isinstance(l, BinaryLayer)]

    # ------------------------------------------------------------------ serialisation
    def _split(self):
        header_layers, tensors = [], {}
        for i, layer in enumerate(self.layers):
            entry = {}
            for f in fields(layer):
                v = getattr(layer, f.name)
                if isinstance(v, np.ndarray):
                    tensors[f"layers.{i}.{f.name}"] = np.ascontiguousarray(v)
                    entry[f.name] = {"tensor": f"layers.{i}.{f.name}"}
                else:
                    entry[f.name] = v
            header_layers.append(entry)
        header = {
            "format": PROGRAM_FORMAT,
            "version": PROGRAM_VERSION,
            "config": self.config.to_dict(),
            "feature_format": self.fmt.to_dict(),
            "saturation": {"feature": [self.fmt.lo, self.fmt.hi],
                           "y": [self.fmt.y_lo, self.fmt.y_hi]},
            "layers": header_layers,
            "calibration": self.calibration,
        }
        return header, tensors

    @staticmethod
    def _hash(header: dict, tensors: dict) -> str:
        h = hashlib.sha256()
        h.update(json.dumps(header, sort_keys=True).encode())
        for name in sorted(tensors):
            t = tensors[name]
            h.update(f"{name}|{t.dtype.str}|{t.shape}".encode())
            h.update(np.ascontiguousarray(t).tobytes())
        return h.hexdigest()

    def differences(self, other: "Program", calibration_rtol: float = 1e-5) -> list[str]:
        """What differs between two programs: every integer of the header and every tensor exactly;
        the float calibration statistics (recorded, not used by the hardware) within
        calibration_rtol, as float32 sums of the same images differ in their last bits between
        CPUs. [] when they are the same program."""
        (h1, t1), (h2, t2) = self._split(), other._split()
        c1, c2 = h1.pop("calibration"), h2.pop("calibration")
        out = [f"header field {k!r}" for k in sorted(set(h1) | set(h2)) if h1.get(k) != h2.get(k)]
        for k in sorted(set(t1) | set(t2)):
            a, b = t1.get(k), t2.get(k)
            if a is None or b is None or a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
                out.append(f"tensor {k}")
        s1, s2 = c1.get("max_abs", {}), c2.get("max_abs", {})
        if {k: v for k, v in c1.items() if k != "max_abs"} != {k: v for k, v in c2.items() if k != "max_abs"} \
                or set(s1) != set(s2):
            out.append("calibration settings")
        out += [f"calibration max_abs[{k!r}]" for k in sorted(set(s1) & set(s2))
                if abs(s1[k] - s2[k]) > calibration_rtol * max(abs(s1[k]), abs(s2[k]))]
        return out

    @property
    def content_hash(self) -> str:
        header, tensors = self._split()
        return self._hash(header, tensors)

    def save(self, path: str | Path) -> str:
        from safetensors.numpy import save_file

        header, tensors = self._split()
        digest = self._hash(header, tensors)
        save_file(tensors, str(path), metadata={"header": json.dumps(header), "content_hash": digest})
        return digest

    @classmethod
    def load(cls, path: str | Path) -> "Program":
        from safetensors import safe_open

        path = Path(path)
        if not path.is_file():
            raise ProgramError(f"{path}: no such program file")
        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # noqa: BLE001 - any parse failure means a corrupt file
            raise ProgramError(f"{path}: not a readable program file ({e})") from None
        if "header" not in meta or "content_hash" not in meta:
            raise ProgramError(f"{path}: missing program header")
        try:
            header = json.loads(meta["header"])
        except json.JSONDecodeError as e:
            raise ProgramError(f"{path}: corrupt program header ({e})") from None
        if header.get("format") != PROGRAM_FORMAT:
            raise ProgramError(f"{path}: not a BBCU hardware program (format={header.get('format')!r})")
        if header.get("version") != PROGRAM_VERSION:
            raise ProgramError(
                f"{path}: program version {header.get('version')} is not supported "
                f"(this tool reads version {PROGRAM_VERSION}); recompile the checkpoint")
        if cls._hash(header, tensors) != meta["content_hash"]:
            raise ProgramError(f"{path}: content hash mismatch: the file is corrupted")
        layers = []
        for entry in header["layers"]:
            kind = LAYER_TYPES.get(entry.get("type"))
            if kind is None:
                raise ProgramError(f"{path}: unknown layer type {entry.get('type')!r}")
            kw = {k: (tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v)
                  for k, v in entry.items()}
            layers.append(kind(**kw))
        prog = cls(ModelConfig.from_dict(header["config"]), FeatureFormat(**header["feature_format"]),
                   layers, header.get("calibration", {}))
        prog.validate()
        return prog

    def validate(self):
        """Structural checks: layer order and shapes agree with the config."""
        cfg = self.config
        if not self.layers or not isinstance(self.layers[0], HeadLayer) or not isinstance(self.layers[-1], TailLayer):
            raise ProgramError("program must start with a head layer and end with a tail layer")
        n_bin = cfg.units + len(cfg.up_factors) + (1 if cfg.task == "sr" else 0)
        if len(self.binary_layers) != n_bin:
            raise ProgramError(f"expected {n_bin} binary layers for {cfg}, found {len(self.binary_layers)}")
        c = cfg.channels
        if self.head.weight.shape != (c, cfg.colors, 3, 3):
            raise ProgramError(f"head weight shape {self.head.weight.shape} does not match config")
        for l in self.binary_layers:
            if l.cin != c or l.cout != c * l.r * l.r or l.wbits.shape[0] != l.cout:
                raise ProgramError(f"binary layer shape (cin={l.cin}, cout={l.cout}, r={l.r}) does not match config")
        if self.tail.weight.shape != (cfg.colors, c, 3, 3):
            raise ProgramError(f"tail weight shape {self.tail.weight.shape} does not match config")
