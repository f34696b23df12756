"""hw/crc.CRC32Unit in cocotb (Icarus), byte-wise and bit-serial: frames of random bytes (the empty
frame, one byte, all-zero and all-ones bytes, a 300-byte frame) with random gaps between bytes;
every intermediate register value equals the software model and every frame's CRC equals
zlib.crc32; the serial unit is busy exactly 8 cycles per byte, the byte-wise one never."""
import zlib

import numpy as np
import pytest

from hw.crc import RESIDUE, CRC32Unit, crc32_next_int
from sim.runner import run_cocotb


@pytest.mark.parametrize("serial", [False, True])
def test_crc_unit_matches_zlib(serial):
    rng = np.random.default_rng(5)
    frames = [b"", b"\x00", b"\xff", bytes(16), b"\xff" * 16, bytes(rng.integers(0, 256, 300, dtype=np.uint8)),
              b"123456789"]
    frames += [bytes(rng.integers(0, 256, int(n), dtype=np.uint8)) for n in rng.integers(1, 40, 8)]
    vec = {"lens": np.array([len(f) for f in frames], dtype=np.int64),
           "bytes": np.frombuffer(b"".join(frames), dtype=np.uint8).astype(np.int64)}
    res = run_cocotb(CRC32Unit(serial), f"crc_{'serial' if serial else 'bytewise'}", "sim.tb_crc", vec, {"seed": 7})
    assert res["finals"] == [zlib.crc32(f) for f in frames]
    assert res["busy"] == ([8] if serial else [0])


def test_residue_after_data_and_crc():
    """hw.crc.RESIDUE (the link's check of a received frame): the register after any data and then
    its CRC-32, low byte first."""
    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 300):
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        c = 0xFFFFFFFF
        for b in data + zlib.crc32(data).to_bytes(4, "little"):
            c = crc32_next_int(c, b)
        assert c == RESIDUE
        bad = bytearray(data + zlib.crc32(data).to_bytes(4, "little"))
        bad[-1] ^= 0x10
        c = 0xFFFFFFFF
        for b in bad:
            c = crc32_next_int(c, b)
        assert c != RESIDUE
