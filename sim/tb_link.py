"""cocotb testbench: the link layer (hw/link.py) against sw.protocol, at the byte boundary."""
import random

import cocotb

from sim.bytelink import ByteLink
from sim.runner import load_vectors, write_result
from sim.streams import reset
from sw import protocol as P


def expect(frame, ftype, seq=None):
    assert frame.type == ftype, f"expected {P.T(ftype).name}, got {P.T(frame.type).name if frame.type in P.T._value2member_map_ else frame.type} {frame.payload.hex()}"
    if seq is not None:
        assert frame.seq == seq, f"seq {frame.seq} != {seq}"


async def send_rows(link, chunks, seq0, rows, wait=lambda c: 200_000):
    """Send STRIPE_ROWS frames one at a time (stop-and-wait, as the host does), collecting the
    RESULT_ROW frames that arrive before each ACK into `rows` (row index -> payload)."""
    for i, c in enumerate(chunks):
        link.send(P.encode(P.T.STRIPE_ROWS, seq0 + i, c))
        while True:
            f = await link.frame(wait(c))
            if f.type == P.T.RESULT_ROW:
                rows[int.from_bytes(f.payload[:2], "little")] = f.payload[2:]
                continue
            expect(f, P.T.ACK, seq0 + i)
            break


@cocotb.test()
async def link_protocol(dut):
    v, p = load_vectors()
    ident = P.Identity(**p["identity"])
    timeout = p["timeout"]
    await reset(dut)
    link = ByteLink(dut, p_stall=0.2, seed=1)

    # identify
    link.send(P.encode(P.T.IDENTIFY, 1))
    f = await link.frame()
    expect(f, P.T.IDENT, 1)
    assert P.Identity.unpack(f.payload) == ident

    # garbage (with stray magic bytes), silence past the timeout, then a good frame
    rng = random.Random(5)
    link.send(bytes(rng.randrange(256) for _ in range(40)) + P.MAGIC + b"\x01")
    await link.wait_idle(timeout + 600)
    link.frames.clear()
    link.send(P.encode(P.T.IDENTIFY, 2))
    while True:
        f = await link.frame()
        if f.type == P.T.IDENT:
            break
        expect(f, P.T.NACK)
    assert f.seq == 2

    # unknown type and oversize length -> NACK, the board keeps working
    link.send(P.encode(0x55, 3))
    f = await link.frame()
    expect(f, P.T.NACK, 3)
    assert f.payload[2] == P.Nack.UNKNOWN_TYPE
    link.send(P.HEADER.pack(P.MAGIC, P.T.STRIPE_ROWS, 4, ident.max_payload + 1))
    f = await link.frame()
    expect(f, P.T.NACK, 4)
    assert f.payload[2] == P.Nack.BAD_LENGTH

    # rows before a stripe -> BAD_STATE; bad geometry -> BAD_GEOMETRY
    link.send(P.encode(P.T.STRIPE_ROWS, 5, b"\x00" * 3))
    f = await link.frame()
    assert f.type == P.T.NACK and f.payload[2] == P.Nack.BAD_STATE
    # (the link keeps its geometry as wide as the limits: fields whose low bits alone would be
    # valid must still be refused)
    mw, mh = ident.max_width, ident.max_height
    for geo in [(mw + 1, 2, 0, 0), (0, 2, 0, 0), (0x8000 | 4, 2, 0, 0), (0xFFFF, 2, 0, 0), (4, mh + 1, 0, 0),
                (4, 0, 0, 0), (4, 0x8000 | 2, 0, 0), (4, 2, 2, 2), (4, 2, 0x8000, 0), (4, 2, 0, 0xFFFF),
                (4, 2, 0xFFFF, 1)]:
        link.send(P.encode(P.T.STRIPE_BEGIN, 6, P.STRIPE.pack(*geo)))
        f = await link.frame()
        assert f.type == P.T.NACK and f.payload[2] == P.Nack.BAD_GEOMETRY, (geo, f)

    # a stripe: w x h, cropped; the test network is the identity, so results are the input crop
    w, h, cl, cr = p["stripe"]
    img = bytes(int(b) for b in v["image"])
    link.send(P.encode(P.T.STRIPE_BEGIN, 7, P.STRIPE.pack(w, h, cl, cr)))
    expect(await link.frame(), P.T.ACK, 7)
    half = (len(img) // 2 // ident.colors) * ident.colors + 1      # frames need not align to pixels
    chunks = [img[:half], img[half:]]
    # corrupt the first chunk once: NACK BAD_CRC, then resend
    bad = bytearray(P.encode(P.T.STRIPE_ROWS, 8, chunks[0]))
    bad[8] ^= 0x10
    link.send(bytes(bad))
    f = await link.frame()
    assert f.type == P.T.NACK and f.payload[2] == P.Nack.BAD_CRC and f.seq == 8
    # truncated frame: header and part of the payload, then silence -> NACK TIMEOUT
    link.send(P.encode(P.T.STRIPE_ROWS, 9, chunks[0])[:9])
    f = await link.frame(timeout * 3)
    assert f.type == P.T.NACK and f.payload[2] == P.Nack.TIMEOUT
    rows = {}
    await send_rows(link, chunks, 10, rows)
    while len(rows) < h * ident.scale:
        f = await link.frame()
        expect(f, P.T.RESULT_ROW)
        rows[int.from_bytes(f.payload[:2], "little")] = f.payload[2:]
    cols = ident.colors
    for y in range(h):
        row = img[y * w * cols:(y + 1) * w * cols]
        assert rows[y] == row[cl * cols:(w - cr) * cols], f"row {y}: {rows[y].hex()}"

    # status counters
    link.send(P.encode(P.T.STATUS, 20))
    f = await link.frame()
    expect(f, P.T.STATUS_REPLY, 20)
    st = P.Status.unpack(f.payload)
    assert st.crc_errors >= 1 and st.timeouts >= 1 and st.results == h and st.nacks >= 6, st
    # past 255 good frames: every byte of a counter field (each field is read whole as it starts)
    for k in range(300):
        link.send(P.encode(P.T.RESET, (21 + k) & 0xFF))
        expect(await link.frame(), P.T.ACK, (21 + k) & 0xFF)
    link.send(P.encode(P.T.STATUS, 65))
    f = await link.frame()
    expect(f, P.T.STATUS_REPLY, 65)
    st2 = P.Status.unpack(f.payload)
    assert st2.frames_ok == st.frames_ok + 301, (st, st2)
    assert (st2.crc_errors, st2.malformed, st2.nacks, st2.timeouts, st2.results) == \
        (st.crc_errors, st.malformed, st.nacks, st.timeouts, st.results), (st, st2)
    write_result({"status": st2.__dict__})


@cocotb.test()
async def link_rows_split_mid_row(dut):
    """Stop-and-wait host (like sw.driver): STRIPE_BEGIN, then STRIPE_ROWS frames of max_payload
    bytes (ending mid-row), each sent only after the previous one's ACK, RESULT_ROWs collected
    whenever they come; every row must arrive and equal the cropped input (identity network)."""
    v, p = load_vectors()
    ident = P.Identity(**p["identity"])
    await reset(dut)
    link = ByteLink(dut, p_stall=0.1, seed=2)
    w, h, cl, cr = p["stripe"]
    img = bytes(int(b) for b in v["image"])
    cols = ident.colors
    link.send(P.encode(P.T.STRIPE_BEGIN, 1, P.STRIPE.pack(w, h, cl, cr)))
    expect(await link.frame(), P.T.ACK, 1)
    rows = {}
    chunks = [img[o:o + ident.max_payload] for o in range(0, len(img), ident.max_payload)]
    assert any(len(c) % (w * cols) for c in chunks[:-1]), "the split must end frames mid-row"
    await send_rows(link, chunks, 2, rows, wait=lambda c: 20 * len(c) * 8 + 4000)
    while len(rows) < h * ident.scale:
        f = await link.frame(20 * w * 8 + 4000)
        expect(f, P.T.RESULT_ROW)
        rows[int.from_bytes(f.payload[:2], "little")] = f.payload[2:]
    for y in range(h):
        row = img[y * w * cols:(y + 1) * w * cols]
        assert rows[y] == row[cl * cols:(w - cr) * cols], f"row {y}: {rows[y].hex()}"
    write_result({"rows": len(rows)})
