"""The framed host <-> board protocol, defined once (driver, virtual board, tests).
docs/protocol.md describes it byte by byte.

Frame (both directions), little-endian:
    0  2  magic 0xBB 0xC1
    2  1  type
    3  1  seq        (host: its own counter; board replies carry the seq of the frame they answer)
    4  2  length L   (payload bytes, <= max_payload)
    6  L  payload
  6+L  4  CRC-32 (IEEE 802.3, zlib.crc32) over bytes 2 .. 6+L-1 (type, seq, length, payload)
"""
from __future__ import annotations

import enum
import struct
import zlib
from dataclasses import dataclass

MAGIC = b"\xBB\xC1"
HEADER = struct.Struct("<2sBBH")        # magic, type, seq, length
CRC = struct.Struct("<I")
PROTOCOL_VERSION = 2
HEADER_BYTES = HEADER.size               # 6
OVERHEAD = HEADER_BYTES + CRC.size       # 10


class T(enum.IntEnum):
    # host -> board
    IDENTIFY = 0x01
    STATUS = 0x02
    RESET = 0x03
    STRIPE_BEGIN = 0x10
    STRIPE_ROWS = 0x11
    PARAMS = 0x12          # parameter words into the board's RAM (boards whose IDENT asks for them)
    # board -> host
    ACK = 0x80
    IDENT = 0x81
    STATUS_REPLY = 0x82
    NACK = 0x8F
    RESULT_ROW = 0x90


class Nack(enum.IntEnum):
    BAD_CRC = 1
    UNKNOWN_TYPE = 2
    BAD_LENGTH = 3
    BAD_STATE = 4          # rows without a stripe, more rows than announced, a stripe before the parameters
    BAD_GEOMETRY = 5       # stripe larger than the board's limits
    TIMEOUT = 6            # a frame stopped arriving mid-way


TASK_CODES = {"sr": 0, "denoise": 1, "jpeg": 2}


class ProtocolError(Exception):
    pass


def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def encode(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise ProtocolError(f"payload too long ({len(payload)} bytes)")
    head = HEADER.pack(MAGIC, int(ftype), seq & 0xFF, len(payload))
    return head + payload + CRC.pack(crc32(head[2:] + payload))


@dataclass
class Frame:
    type: int
    seq: int
    payload: bytes


class Parser:
    """Incremental frame parser: feed bytes, get frames. Garbage before a magic is skipped;
    a frame with a bad CRC or an oversize length is reported as an error and skipped (the
    parser resynchronises on the next magic)."""

    def __init__(self, max_payload: int = 0xFFFF):
        self.buf = bytearray()
        self.max_payload = max_payload
        self.errors: list[tuple[str, int, int]] = []   # (kind, type, seq)

    def feed(self, data: bytes) -> list[Frame]:
        self.buf += data
        out = []
        while True:
            i = self.buf.find(MAGIC)
            if i < 0:
                del self.buf[: max(0, len(self.buf) - 1)]   # keep a possible first magic byte
                return out
            del self.buf[:i]
            if len(self.buf) < HEADER_BYTES:
                return out
            _, ftype, seq, length = HEADER.unpack_from(self.buf)
            if length > self.max_payload:
                self.errors.append(("length", ftype, seq))
                del self.buf[:2]
                continue
            end = HEADER_BYTES + length + CRC.size
            if len(self.buf) < end:
                return out
            body = bytes(self.buf[2:HEADER_BYTES + length])
            (crc,) = CRC.unpack_from(self.buf, HEADER_BYTES + length)
            if crc != crc32(body):
                self.errors.append(("crc", ftype, seq))
                del self.buf[:2]
                continue
            out.append(Frame(ftype, seq, bytes(self.buf[HEADER_BYTES:HEADER_BYTES + length])))
            del self.buf[:end]


# --------------------------------------------------------------------------- payloads
IDENT = struct.Struct("<BBBBHHHIB B32sI")  # version, task, scale, colors, max_width, max_height,
#                                          max_payload, clock_hz, feature_bits, halo, program hash,
#                                          param_words (0: the parameters are built into the bitstream)
PARAMS = struct.Struct("<H")              # first RAM word address, then the words (u16 each)
STRIPE = struct.Struct("<HHHH")           # width, height, crop_left, crop_right (LR pixels)
STATUS = struct.Struct("<IIIIII")         # frames_ok, crc_errors, malformed, nacks, timeouts, results
ACK = struct.Struct("<BB")                # acknowledged type, seq
NACK = struct.Struct("<BBB")              # refused type, seq, reason
RESULT = struct.Struct("<H")              # output row index, then pixels



def params_payloads(image, max_payload: int):
    """The PARAMS frame payloads that load a parameter image (a sequence of u16 words) into a
    board's RAM from word 0: each one's first word address, then as many little-endian words as
    fit in max_payload bytes."""
    per = (max_payload - PARAMS.size) // 2
    if per < 1:
        raise ValueError(f"max_payload {max_payload} holds no parameter word")
    words = [int(w) for w in image]
    return [PARAMS.pack(a) + struct.pack(f"<{len(words[a:a + per])}H", *words[a:a + per])
            for a in range(0, len(words), per)]

@dataclass
class Identity:
    version: int
    task: str
    scale: int
    colors: int
    max_width: int
    max_height: int
    max_payload: int
    clock_hz: int
    feature_bits: int
    halo: int
    program_hash: str
    param_words: int = 0

    def pack(self) -> bytes:
        return IDENT.pack(self.version, TASK_CODES[self.task], self.scale, self.colors, self.max_width,
                          self.max_height, self.max_payload, self.clock_hz, self.feature_bits, self.halo,
                          bytes.fromhex(self.program_hash), self.param_words)

    @classmethod
    def unpack(cls, b: bytes) -> "Identity":
        if len(b) != IDENT.size:
            raise ProtocolError(f"IDENT payload of {len(b)} bytes, expected {IDENT.size}")
        v = IDENT.unpack(b)
        task = {c: t for t, c in TASK_CODES.items()}.get(v[1])
        if task is None:
            raise ProtocolError(f"unknown task code {v[1]}")
        return cls(v[0], task, *v[2:10], v[10].hex(), v[11])


@dataclass
class Status:
    frames_ok: int
    crc_errors: int
    malformed: int
    nacks: int
    timeouts: int
    results: int

    def pack(self) -> bytes:
        return STATUS.pack(self.frames_ok, self.crc_errors, self.malformed, self.nacks, self.timeouts, self.results)

    @classmethod
    def unpack(cls, b: bytes) -> "Status":
        if len(b) != STATUS.size:
            raise ProtocolError(f"STATUS payload of {len(b)} bytes, expected {STATUS.size}")
        return cls(*STATUS.unpack(b))
