"""Link layer: the framed protocol of sw/protocol.py in gateware, between a byte stream (UART or
the virtual board's byte port) and the network's pixel streams.

Stream signature
  rx:    In(stream of bytes)            from the UART receiver (taken at once while hunting/receiving)
  tx:    Out(stream of bytes)           to the UART transmitter
  net_i: Out(stream of pixels)          stripe pixels (LR raster) into the network (byte_stream: their
                                        bytes one by one, colour 0 first: the row-serial network)
  net_o: In(stream of pixels)           restored pixels (HR raster, whole stripe width) from the network
                                        (byte_stream: their bytes one by one)
  width, height: Out                    stripe geometry for the network, stable during a stripe
  net_rst: Out(1)                       one-cycle registered pulse: clears the network before a stripe / on
                                        RESET, `reset_latency` cycles after the request (the link's own
                                        network-side state is cleared with it)
  net_clear: Out(1)                     the request, net_rst `reset_latency` cycles ahead (combinational):
                                        for a tree of registered copies of it (hw/reset_tree.py, the
                                        dataflow network: two levels, reset_latency 2)
  load:  Out(stream of param words)     (param_words > 0) PARAMS words with their RAM addresses
  net_i_param: Out(1)                   (param_words > 0 and byte_stream, instead of load) high while a
                                        PARAMS payload (u16 address, u16 words) goes out on net_i

Behaviour (docs/protocol.md): frames are hunted by their magic; a frame is buffered whole and its
CRC-32 checked before anything acts on it. Bad CRC, unknown type, bad length, a stripe beyond the
limits or out of sequence get a NACK; a frame that stops arriving mid-way is dropped after
`timeout_cycles` (counted, NACK TIMEOUT). Good frames are answered with ACK (after a STRIPE_ROWS
payload has been handed to net_i: the accelerator puts a one-frame FIFO there, hw/accelerator.py), IDENT or STATUS_REPLY. Each restored output row (the
halo columns cropped on board) goes out as one RESULT_ROW frame whose CRC is computed on the fly.

Result rows are buffered whole before they are sent. The network's output pixels (crop applied)
enter a row FIFO of max_width * scale pixels (one uncropped HR row, the longest RESULT_ROW), and
a RESULT_ROW frame starts only once the FIFO holds the whole cropped row; the transmitter then
never waits for the network inside a frame. Without it the link can deadlock: the host sends
one STRIPE_ROWS frame at a time and waits for its ACK (docs/protocol.md), frames may end
anywhere in a row, and the network emits an HR row's first pixels once the LR input reaches the
row's receptive field there, but its last pixels only with the input up to the end of that LR
row. A RESULT_ROW started on the first pixel then waits for pixels that need the next frame,
while the ACK that would let the host send it is queued behind that RESULT_ROW. (Seen on the
virtual board: x2-tiny, max_width 96, a 96 x 40 stripe stopped after 12 HR rows, with HR row 12
waiting at column 126 for LR pixel (17, 74), the first pixel of the next 1024-byte frame.) With
the FIFO, the transmitter finishes any frame it starts at the byte rate, so a pending ACK waits
for at most one row; the network is never blocked by the link unless the FIFO is full, and then
it holds a whole row that the transmitter is sending.
Cycle model: the link adds no throughput limit beyond the byte rate: one byte per cycle in and out
(serial_crc: one byte per 9 cycles in, per 10 out; far above a UART's byte rate).
Golden twin: sw.protocol (encode / Parser).
"""
from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.hdl import ResetInserter, unsigned
from amaranth.lib import memory, stream, wiring
from amaranth.lib.wiring import In, Out

from sw import protocol as P

from . import layouts
from .bram_fifo import BlockRamFIFO
from .counters import CounterBank
from .crc import RESIDUE, CRC32Unit
from .estimate import throwaway
from .head import const_mul, gt_const, last_flag, lt_const, period_regs, select
from .ram_read import NO_RW_CHECK, registered_read
from .mul import LUT_MUL_WIDTH, serial_mul
from .skid import SkidBuffer


class LinkCore(wiring.Component):
    """`counter_bits`: width of the six STATUS counters (they wrap at 2**counter_bits; the STATUS
    payload carries them zero-extended to u32). `row_buffer`: the result row FIFO described above.
    Without it (`row_buffer=False`) a RESULT_ROW starts as soon as its first kept pixel is at
    net_o and the transmitter takes the pixels from net_o through a one-entry holding register
    (which keeps the transmitter's state out of the network's ready): safe only for a network whose
    output row, once its first pixel is out, completes without any further input. The row-serial
    network is one (a period starts only when its input rows are in, and a tail row job reads
    only its rings: hw/rowserial/network.py); the dataflow network is not (the deadlock above).
    `serial_crc`: both CRC-32 registers bit-serial (hw/crc.CRC32Unit): the receiver then takes a
    byte at most every 9 cycles and the transmitter sends one every 10, plenty for a UART (the
    UP5K board: 240 cycles per byte at 2 Mbaud and 48 MHz), for a quarter of the CRC logic.
    `counters_ram` (with serial_crc): the STATUS counters in one block RAM with one incrementer
    (hw/counters.CounterBank) instead of six registers; a count shows a few cycles after its
    event, and a STATUS field's first byte waits until its counter has been read.
    `area_dsp` (with serial_crc): STRIPE_BEGIN's byte count (w * colours) x h as one registered
    DSP product instead of the serial multiplier (the UP5K row-serial board, whose network lends
    its tail's LeakyReLU to the binary engine's multiplier and so leaves a SB_MAC16 free)."""

    def __init__(self, identity: P.Identity, timeout_cycles: int = 1_000_000, *, counter_bits: int = 32,
                 row_buffer: bool = True, serial_crc: bool = False, counters_ram: bool = False,
                 byte_stream: bool = False, area_dsp: bool = False, reset_latency: int = 1):
        if reset_latency < 1:
            raise ValueError(f"reset_latency must be at least 1, not {reset_latency}")
        self.reset_latency = reset_latency
        if not 8 <= counter_bits <= 32:
            raise ValueError(f"counter_bits must be 8..32, not {counter_bits}")
        self.counter_bits = counter_bits
        self.row_buffer = row_buffer
        self.serial_crc = serial_crc
        if counters_ram and not serial_crc:
            # (a serial CRC takes a byte at most every 9 cycles, so a counter's events are >= 90
            # cycles apart, more than the 4 * 6 cycles CounterBank needs between pulses)
            raise ValueError("counters_ram needs serial_crc (frames at least 90 cycles apart)")
        self.counters_ram = counters_ram
        self.area_dsp = area_dsp
        if byte_stream and row_buffer:
            raise ValueError("byte_stream is for the row-serial network: it needs row_buffer=False")
        self.byte_stream = byte_stream
        self.identity = identity
        self.colors = identity.colors
        self.scale = identity.scale
        self.max_width = identity.max_width
        self.max_height = identity.max_height
        self.max_payload = identity.max_payload
        if timeout_cycles < 2:
            raise ValueError(f"timeout_cycles must be at least 2, not {timeout_cycles}")
        self.timeout_cycles = timeout_cycles
        # the longest result row: a whole HR row of an uncropped stripe (see the module docstring)
        self.row_fifo_depth = self.max_width * self.scale
        self.param_words = int(identity.param_words)
        members = {
            "rx": In(stream.Signature(unsigned(8))),
            "tx": Out(stream.Signature(unsigned(8))),
            "net_i": Out(stream.Signature(unsigned(8) if byte_stream else layouts.pixel(self.colors))),
            "net_o": In(stream.Signature(unsigned(8) if byte_stream else layouts.pixel(self.colors))),
            "width": Out(16),
            "height": Out(16),
            "net_rst": Out(1),
            "net_clear": Out(1),
            "stripe_active": Out(1),
            "error_event": Out(1),
            "net_o_pixel": Out(1),    # a whole pixel was taken from net_o (its last byte, byte_stream)
        }
        if self.param_words and byte_stream:
            # a PARAMS frame's payload (u16 address, then u16 words) goes out on net_i as it is,
            # with net_i_param high: the network's receiver writes the words
            members["net_i_param"] = Out(1)
        elif self.param_words:
            members["load"] = Out(stream.Signature(layouts.param_word()))
        super().__init__(members)

    def resource_estimate(self) -> dict:
        colors = self.colors
        tbits = self.timeout_cycles.bit_length()
        lbits = (self.max_width * self.max_height * colors).bit_length() + (self.max_height * self.scale).bit_length()
        # FFs: 6 STATUS counters and their snapshot (32 bits each), rx/tx CRC-32 and the received CRC,
        # geometry and crops, the first 8 payload bytes, ~8 16-bit lengths/indices, the pixel
        # (de)serialisers and the network input register, timers, stripe counters, FSMs and flags, the
        # transmitter CRC byte register (9)
        cb = self.counter_bits
        crc = CRC32Unit.estimate(self.serial_crc)
        ff = 12 * cb + 2 * crc["ff"] + 32 + 4 * 16 + 64 + 8 * 16 + 3 * 8 * colors + tbits + lbits + 78 + self.reset_latency
        # LUTs: counter incrementers, two CRC-32 byte updates (~4 LUT4 per state bit), the STATUS
        # byte select (1 per input bit) and the IDENT constant bytes, the field capture, ~24
        # 16-bit adders/comparators (limits, crops, lengths), (de)serialisers, FSMs
        lut = 6 * cb + 2 * crc["lut"] + 8 * P.STATUS.size + 8 * -(-P.IDENT.size // 16) + 2 * 64 + 24 * 16 \
            + 4 * 8 * colors + 150
        # w*h is the one true product (a DSP block); the products by colours and r are shift-and-add
        dsp = 0 if self.serial_crc and not self.area_dsp else 1   # (serial_crc: w*h by serial_mul, no DSP block)
        lut += 5 * 16
        ff += cb + 37                      # the delayed STATUS field, the sources' byte registers and flags, a valid
        row_bits = 0
        if self.counters_ram:              # the six counters in a CounterBank instead of registers
            bank = CounterBank.estimate(6, cb)
            ff += bank["ff"] - 6 * cb
            lut += bank["lut"] - 6 * cb
            row_bits += bank["bram_bits"]
        if self.row_buffer:
            # result row FIFO: one HR row of pixels (block RAM) plus its pointers and level
            row_bits += 8 * colors * self.row_fifo_depth
            abits = self.row_fifo_depth.bit_length()
            ff += 3 * abits + 8 * colors + 1
            lut += 6 * abits + 16 + 2 * abits  # pointer incrementers, level (+ the skid's), compare with the row width
            skid = throwaway(SkidBuffer(unsigned(8 * colors))).resource_estimate()   # (its output skid buffer)
            ff += skid["ff"]
            lut += skid["lut"]
        return {"lut": lut, "ff": ff, "bram_bits": 8 * self.max_payload + row_bits, "dsp": dsp}

    def elaborate(self, platform):
        m = Module()
        colors, r = self.colors, self.scale
        maxp = self.max_payload

        # (NO_RW_CHECK: written only in PAYLOAD, read for use only in PDRAIN and DRAIN, which
        # follow it after the four CRC bytes at the earliest)
        m.submodules.buf = buf = memory.Memory(shape=8, depth=max(maxp, 2), init=[], attrs=NO_RW_CHECK)
        wr = buf.write_port()
        rd, rd_q = registered_read(m, buf, 1, "buf_q")       # rd_q: buf[rd.addr of the last cycle]

        # ------------------------------------------------------------------ counters (STATUS)
        # in registers, or (counters_ram) in a block RAM with one incrementer (hw/counters.py): the
        # FSMs then raise a registered one-cycle pulse per count
        FRAMES_OK, CRC_ERRORS, MALFORMED, NACKS, TIMEOUTS, RESULTS = range(6)
        if self.counters_ram:
            m.submodules.counters = bank = CounterBank(6, self.counter_bits)
            inc = Signal(6)
            m.d.sync += inc.eq(0)
            m.d.comb += bank.inc.eq(inc)

            def bump(k):
                return [inc[k].eq(1)]
        else:
            counters = tuple(Signal(self.counter_bits, name=n) for n in (
                "frames_ok", "crc_errors", "malformed", "nacks", "timeouts", "results"))

            def bump(k):
                return [counters[k].eq(counters[k] + 1)]

        # ------------------------------------------------------------------ stripe state
        # geometry registers as wide as the limits need (the 16-bit payload fields are checked
        # against the limits before they are taken)
        hr_w = self.max_width * r                               # widest HR row
        width, height = Signal(range(self.max_width + 1)), Signal(range(self.max_height + 1))
        crop_l, crop_r = Signal(range(self.max_width + 1)), Signal(range(self.max_width + 1))
        stripe_active = Signal()
        stripe_seq = Signal(8)
        # the network reset is a registered pulse, one cycle after the frame that asks for it: as a
        # combinational output of the frame checks it fanned out to every network register's
        # reset (the ECP5 critical path once the handshakes were cut)
        rst_req = Signal()
        rst_q = rst_req
        for k in range(self.reset_latency):      # (net_rst: as many registers as the tree has levels)
            nxt = self.net_rst if k == self.reset_latency - 1 else Signal(name=f"net_rst_d{k}")
            m.d.sync += nxt.eq(rst_q)
            rst_q = nxt
        m.d.comb += self.net_clear.eq(rst_req)
        geo_wait = Signal(2)          # cycles until the derived row geometry registers are valid
        with m.If(geo_wait != 0):     # (before the receiver FSM: its STRIPE_BEGIN load takes priority)
            m.d.sync += geo_wait.eq(geo_wait - 1)
        bytes_left = Signal(range(self.max_width * self.max_height * colors + 1))
        m.d.comb += [self.width.eq(width), self.height.eq(height), self.stripe_active.eq(stripe_active)]

        # ------------------------------------------------------------------ reply request (RX -> TX)
        rep_pending = Signal()
        rep_kind = Signal(3)          # 0 ACK, 1 NACK, 2 IDENT, 3 STATUS
        # (the reply's type and sequence number are the frame's ftype / fseq themselves: every
        # reply is followed by REPLY_WAIT, which holds them until the transmitter has taken it)
        rep_reason = Signal(8)
        K_ACK, K_NACK, K_IDENT, K_STATUS = 0, 1, 2, 3

        # ------------------------------------------------------------------ receiver
        ftype, fseq = Signal(8), Signal(8)
        flen = Signal(range(maxp + 1))     # (a longer frame is refused in LEN1)
        # payload byte index (PAYLOAD), CRC byte index (CRC), buffer read address (DRAIN / PDRAIN:
        # the byte on rd_q once primed)
        count = Signal(range(maxp + 2))
        m.submodules.rx_crc = rxc = CRC32Unit(self.serial_crc)
        m.submodules.tx_crc = txc = CRC32Unit(self.serial_crc)
        # the first 8 payload bytes as they come, four u16 fields: field 0 whole (STRIPE_BEGIN's
        # width, PARAMS' address), the other three of a STRIPE_BEGIN straight into the stripe's
        # height and crop registers (only while no stripe is active: a refused frame leaves
        # garbage there, which nothing reads before the next accepted one), each field's checks
        # against the limits as flags (bit logic on the whole field as its high byte comes)
        f_lo = Signal(8)              # the low byte of the field being received
        f0 = Signal(16)
        w_bad, h_bad, cl_bad, cr_bad = Signal(), Signal(), Signal(), Signal()
        # idle cycles left before a timeout, counting down: the timeout is the cycle it reads -1
        # (the timeout_cycles-th idle cycle; a sign bit, no comparator)
        idle_timer = Signal(range(-1, self.timeout_cycles), init=self.timeout_cycles - 2)
        idle_rearm = idle_timer.eq(self.timeout_cycles - 2)
        byte = self.rx.payload
        got = self.rx.valid & self.rx.ready
        m.d.comb += rxc.byte.eq(byte)

        def crc_upd():
            m.d.comb += rxc.go.eq(1)

        err_pulse = Signal()
        m.d.sync += err_pulse.eq(0)
        m.d.comb += self.error_event.eq(err_pulse)

        def reply(kind, reason=0):
            stmts = [rep_pending.eq(1), rep_kind.eq(kind), rep_reason.eq(reason)]
            if kind == K_NACK:
                stmts += [*bump(NACKS), err_pulse.eq(1)]
            return stmts

        # parameter words (PARAMS frames, row-serial boards): stripes wait until the last word is in
        params_ok = Signal(init=int(self.param_words == 0))
        pstep = Signal(2)
        paddr = Signal(range(max(self.param_words, 1) + 1))   # (the frame check keeps it below param_words)
        plo = Signal(8)
        plast = Signal()                  # (byte_stream) this PARAMS frame ends at the last word

        pix_n = Signal(range(colors + 1))  # bytes of the pixel being assembled in net_i.payload
        primed = Signal()

        # width x height x colours of a STRIPE_BEGIN payload, in two registered steps (no chained
        # multipliers in one cycle: the ECP5 critical path of x2-tiny): the fields are in when the
        # payload ends, and the 4 CRC bytes take at least 4 cycles before CHECK reads area_bytes
        # (the product is used only for a geometry within the limits, so it is kept that wide; the
        # operands stay 16 bits: the board flow builds multipliers with an operand of <= 9 bits
        # from LUTs, this one belongs in a DSP block)
        area_bytes = Signal.like(bytes_left)
        if self.serial_crc and self.area_dsp:
            # (w * colours) x h on a DSP block, registered: both operands at least LUT_MUL_WIDTH + 1
            # bits wide (the board flow builds narrower products from LUTs); only a geometry within
            # the limits uses the product, so the fields' low bits suffice
            wa = Signal(max(LUT_MUL_WIDTH + 1, (self.max_width * colors).bit_length()))
            ha = Signal(max(LUT_MUL_WIDTH + 1, len(height)))
            m.d.comb += [wa.eq(const_mul(f0[0:len(width)], colors)), ha.eq(height)]
            m.d.sync += area_bytes.eq(wa * ha)
        elif self.serial_crc:
            # (w * colours) x h serially (hw/mul.serial_mul, no DSP block: the UP5K's go to the
            # network), started the cycle after the payload's last byte: done within ~10 cycles,
            # while CHECK comes after the four CRC bytes (>= 36 cycles with the serial CRC); the
            # product stays in the multiplier until the next frame's payload ends, so CHECK loads
            # bytes_left from it directly. Only a geometry within the limits uses the product, so
            # the fields' low bits suffice
            area_go = Signal()
            m.d.sync += area_go.eq(0)
            wa = Cat(const_mul(f0[0:len(width)], colors), Const(0, 1)).as_signed()
            ha = Cat(height, Const(0, 1)).as_signed()
            ap, _, _, _ = serial_mul(m, Const(1), area_go, wa, ha, "area")
            m.d.comb += area_bytes.eq(ap)
        else:
            area = Signal(range(self.max_width * self.max_height + 1))
            m.d.sync += [area.eq(f0 * height), area_bytes.eq(const_mul(area, colors))]
        # the STRIPE_BEGIN geometry check, registered the same way (it was the ECP5 critical path of
        # the small network once the multipliers were split)
        geo_bad = Signal()
        # (the crops compared on the width's bits only, as the check matters only for a width
        # within max_width, and crops above it are bad)
        nw = self.max_width.bit_length()
        m.d.sync += geo_bad.eq(w_bad | h_bad | cl_bad | cr_bad | (crop_l + crop_r >= f0[:nw]))

        # serial CRC: "the payload byte at `count` is the last", registered (flen -> subtract ->
        # compare -> receiver FSM was a long path). It is one cycle behind `count`, which moves only
        # with a byte taken, and the CRC unit then holds the next byte back for 8 cycles.
        pay_last = Signal()
        m.d.sync += pay_last.eq(count == flen - 1)
        # DRAIN's "the byte at `count` is the frame's last", a hw/head.last_flag of count (taken
        # bytes move it by one, from 0; DRAIN's first cycle takes none, primed is 0, so the flag has
        # followed count's reset by the first take): the compare of count with flen - 1 sat in the
        # receiver FSM's state enable, 7 logic levels (x4-base docs/boards.md row 135: 83 endpoints
        # over 8 ns, 9.7 ns)
        drain_take, drain_last = Signal(), Signal(name="drain_last")
        last_flag(m, drain_last, count, drain_take, period_regs(m, flen, "flen"))
        # CHECK's length tests, registered likewise (flen -> subtract -> add -> compare -> receiver
        # FSM): flen, f0 and bytes_left do not change in the CRC state before CHECK
        rows_over, params_bad, params_end = Signal(), Signal(), Signal()
        m.d.sync += rows_over.eq(flen > bytes_left)
        if self.param_words:
            nwords = (flen - P.PARAMS.size) >> 1
            m.d.sync += [params_bad.eq(lt_const(flen, P.PARAMS.size + 2) | flen[0] | (f0 + nwords > self.param_words)),
                         params_end.eq(f0 + nwords == self.param_words)]

        # CHECK's frame tests as flags registered every cycle (CRC residue compare, type decode ->
        # the state's priority chain -> receiver FSM was the longest link path): CHECK acts once
        # it has seen the CRC unit idle for a cycle (crc_idle, set below), so the residue flag is
        # the final register's; ftype and flen are settled since their header bytes
        crc_good, crc_idle = Signal(), Signal()
        m.d.sync += crc_good.eq(rxc.value == RESIDUE)
        types = [P.T.IDENTIFY, P.T.STATUS, P.T.RESET, P.T.STRIPE_BEGIN, P.T.STRIPE_ROWS] + (
            [P.T.PARAMS] if self.param_words else [])
        is_type = {t: Signal(name=f"is_{P.T(t).name.lower()}") for t in types}
        stripe_len_bad, len_zero = Signal(), Signal()
        m.d.sync += [is_type[t].eq(ftype == t) for t in types]
        m.d.sync += [stripe_len_bad.eq(flen != P.STRIPE.size), len_zero.eq(flen == 0)]

        # PAYLOAD's field enables: "count is 1 / 3 / 5 / 7" and "a STRIPE_BEGIN outside a stripe" as
        # registers with the serial CRC (count moves only with a byte taken, and the CRC unit then
        # holds the next byte back for 8 cycles, as for pay_last): the compares of count and ftype
        # sat in front of the geometry registers' enables (x4-base docs/boards.md row 132: the
        # height's clock enables, 9.6 ns)
        at = {k: Signal(name=f"count_is_{k}") for k in (1, 3, 5, 7)}
        sb_fields = Signal()
        if self.serial_crc:
            m.d.sync += [at[k].eq(count == k) for k in at] + [
                sb_fields.eq((ftype == P.T.STRIPE_BEGIN) & ~stripe_active)]
        else:
            m.d.comb += [at[k].eq(count == k) for k in at] + [
                sb_fields.eq((ftype == P.T.STRIPE_BEGIN) & ~stripe_active)]

        with m.FSM(name="rx_fsm") as rx_fsm:
            def receiving(state):
                # every receiving state: take bytes at once; inside a frame, time out if it stalls
                m.d.comb += self.rx.ready.eq(~rxc.busy)
                if state == "HUNT":
                    m.d.sync += idle_rearm
                    return
                with m.If(got):
                    m.d.sync += idle_rearm
                with m.Else():
                    m.d.sync += idle_timer.eq(idle_timer - 1)
                    with m.If(idle_timer[-1]):
                        m.d.sync += [*bump(TIMEOUTS), idle_rearm]
                        m.d.sync += reply(K_NACK, P.Nack.TIMEOUT)
                        m.next = "REPLY_WAIT"

            with m.State("HUNT"):
                receiving("HUNT")
                with m.If(got & (byte == P.MAGIC[0])):
                    m.next = "MAGIC1"
            with m.State("MAGIC1"):
                receiving("MAGIC1")
                with m.If(got):
                    m.d.comb += rxc.init.eq(1)
                    with m.If(byte == P.MAGIC[1]):
                        m.next = "TYPE"
                    with m.Elif(byte != P.MAGIC[0]):
                        m.next = "HUNT"
            with m.State("TYPE"):
                receiving("TYPE")
                with m.If(got):
                    m.d.sync += ftype.eq(byte)
                    crc_upd()
                    m.next = "SEQ"
            with m.State("SEQ"):
                receiving("SEQ")
                with m.If(got):
                    m.d.sync += fseq.eq(byte)
                    crc_upd()
                    m.next = "LEN0"
            with m.State("LEN0"):
                receiving("LEN0")
                with m.If(got):
                    m.d.sync += flen[:8].eq(byte)
                    crc_upd()
                    m.next = "LEN1"
            with m.State("LEN1"):
                receiving("LEN1")
                with m.If(got):
                    n = Cat(flen[:8], byte)
                    m.d.sync += [flen[8:].eq(byte), count.eq(0)]
                    crc_upd()
                    with m.If(gt_const(n, maxp)):
                        m.d.sync += bump(MALFORMED) + reply(K_NACK, P.Nack.BAD_LENGTH)
                        m.next = "REPLY_WAIT"
                    with m.Elif(n == 0):
                        m.next = "CRC"
                    with m.Else():
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                receiving("PAYLOAD")
                m.d.comb += [wr.addr.eq(count), wr.data.eq(byte), wr.en.eq(got)]
                with m.If(got):
                    m.d.sync += count.eq(count + 1)
                    crc_upd()
                    field = Cat(f_lo, byte)
                    m.d.sync += f_lo.eq(byte)
                    with m.If(at[1]):
                        m.d.sync += [f0.eq(field), w_bad.eq((field == 0) | gt_const(field, self.max_width))]
                    with m.If(sb_fields):
                        with m.If(at[3]):
                            m.d.sync += [height.eq(field), h_bad.eq((field == 0) | gt_const(field, self.max_height))]
                        with m.If(at[5]):
                            m.d.sync += [crop_l.eq(field), cl_bad.eq(gt_const(field, self.max_width))]
                        with m.If(at[7]):
                            m.d.sync += [crop_r.eq(field), cr_bad.eq(gt_const(field, self.max_width))]
                    with m.If(pay_last if self.serial_crc else (count == flen - 1)):
                        m.d.sync += count.eq(0)
                        if self.serial_crc and not self.area_dsp:
                            m.d.sync += area_go.eq(1)
                        m.next = "CRC"
            with m.State("CRC"):
                receiving("CRC")
                with m.If(got):
                    # the CRC bytes go through the CRC too: the frame is good when the register
                    # ends at RESIDUE (CHECK, once a serial unit is done)
                    crc_upd()
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == 3):
                        m.next = "CHECK"
            with m.State("CHECK"):
                with m.If(~crc_idle):
                    pass
                with m.Elif(~crc_good):
                    m.d.sync += bump(CRC_ERRORS) + reply(K_NACK, P.Nack.BAD_CRC)
                    m.next = "REPLY_WAIT"
                with m.Elif(is_type[P.T.IDENTIFY]):
                    m.d.sync += bump(FRAMES_OK) + reply(K_IDENT)
                    m.next = "REPLY_WAIT"
                with m.Elif(is_type[P.T.STATUS]):
                    m.d.sync += bump(FRAMES_OK) + reply(K_STATUS)
                    m.next = "REPLY_WAIT"
                with m.Elif(is_type[P.T.RESET]):
                    m.d.comb += rst_req.eq(1)
                    m.d.sync += [*bump(FRAMES_OK), stripe_active.eq(0), bytes_left.eq(0)] + reply(K_ACK)
                    m.next = "REPLY_WAIT"
                with m.Elif(is_type[P.T.STRIPE_BEGIN]):
                    with m.If(stripe_len_bad):
                        m.d.sync += bump(MALFORMED) + reply(K_NACK, P.Nack.BAD_LENGTH)
                    with m.Elif(stripe_active | ~params_ok):
                        m.d.sync += reply(K_NACK, P.Nack.BAD_STATE)
                    with m.Elif(geo_bad):
                        m.d.sync += reply(K_NACK, P.Nack.BAD_GEOMETRY)
                    with m.Else():
                        m.d.comb += rst_req.eq(1)
                        m.d.sync += [*bump(FRAMES_OK), width.eq(f0), stripe_active.eq(1),
                                     stripe_seq.eq(fseq), bytes_left.eq(area_bytes), geo_wait.eq(3)] + reply(K_ACK)
                    m.next = "REPLY_WAIT"
                with m.Elif(is_type[P.T.STRIPE_ROWS]):
                    with m.If(~stripe_active | rows_over):
                        m.d.sync += reply(K_NACK, P.Nack.BAD_STATE)
                        m.next = "REPLY_WAIT"
                    with m.Elif(len_zero):
                        m.d.sync += bump(FRAMES_OK) + reply(K_ACK)
                        m.next = "REPLY_WAIT"
                    with m.Else():
                        m.d.sync += [*bump(FRAMES_OK), primed.eq(0), count.eq(0)]
                        m.next = "DRAIN"
                if self.param_words:
                    with m.Elif(is_type[P.T.PARAMS]):
                        with m.If(params_bad):
                            m.d.sync += bump(MALFORMED) + reply(K_NACK, P.Nack.BAD_LENGTH)
                            m.next = "REPLY_WAIT"
                        with m.Else():
                            m.d.sync += bump(FRAMES_OK)
                            if self.byte_stream:
                                # the payload to the network as it is (DRAIN); the parameters are
                                # complete once a frame has written the last word
                                m.d.sync += [count.eq(0), primed.eq(0), self.net_i_param.eq(1),
                                             plast.eq(params_end)]
                                m.next = "DRAIN"
                            else:
                                m.d.sync += [count.eq(P.PARAMS.size), pstep.eq(0), paddr.eq(f0)]
                                m.next = "PDRAIN"
                with m.Else():
                    m.d.sync += bump(MALFORMED) + reply(K_NACK, P.Nack.UNKNOWN_TYPE)
                    m.next = "REPLY_WAIT"
            if self.param_words and not self.byte_stream:
                with m.State("PDRAIN"):
                    # buffer -> 16-bit words (little-endian) -> load stream, one word at a time
                    m.d.comb += rd.addr.eq(count)
                    with m.Switch(pstep):
                        with m.Case(0):
                            m.d.sync += [count.eq(count + 1), pstep.eq(1)]
                        with m.Case(1):
                            m.d.sync += [plo.eq(rd_q), count.eq(count + 1), pstep.eq(2)]
                        with m.Case(2):
                            m.d.sync += [self.load.payload.addr.eq(paddr), self.load.payload.data.eq(Cat(plo, rd_q)),
                                         self.load.valid.eq(1), pstep.eq(3)]
                        with m.Case(3):
                            with m.If(self.load.ready):
                                m.d.sync += [self.load.valid.eq(0), paddr.eq(paddr + 1), pstep.eq(0)]
                                with m.If(count == flen):
                                    with m.If(paddr + 1 == self.param_words):
                                        m.d.sync += params_ok.eq(1)
                                    m.d.sync += reply(K_ACK)
                                    m.next = "REPLY_WAIT"
            with m.State("DRAIN"):
                # buffer -> bytes -> pixels -> network. rd_q holds buf[count] once primed.
                stall = self.net_i.valid & ~self.net_i.ready
                take = primed & ~stall
                m.d.comb += [rd.addr.eq(Mux(take, count + 1, count)), drain_take.eq(take)]
                with m.If(self.net_i.valid & self.net_i.ready):
                    m.d.sync += self.net_i.valid.eq(0)
                m.d.sync += primed.eq(1)
                with m.If(take):
                    # the bytes shift into net_i.payload (colour 0 first): a byte is only taken
                    # while no pixel is offered or the offered one goes this cycle
                    if self.byte_stream:
                        m.d.sync += [count.eq(count + 1), self.net_i.payload.eq(rd_q), self.net_i.valid.eq(1)]
                    else:
                        m.d.sync += [count.eq(count + 1),
                                     self.net_i.payload.eq(Cat(Value.cast(self.net_i.payload)[8:], rd_q))]
                        with m.If(pix_n == colors - 1):
                            m.d.sync += [self.net_i.valid.eq(1), pix_n.eq(0)]
                        with m.Else():
                            m.d.sync += pix_n.eq(pix_n + 1)
                    with m.If(drain_last):
                        if self.param_words and self.byte_stream:
                            with m.If(~self.net_i_param):
                                m.d.sync += bytes_left.eq(bytes_left - flen)
                        else:
                            m.d.sync += bytes_left.eq(bytes_left - flen)
                        m.next = "DRAIN_FLUSH"
            with m.State("DRAIN_FLUSH"):
                with m.If(self.net_i.valid & self.net_i.ready):
                    m.d.sync += self.net_i.valid.eq(0)
                with m.If(~self.net_i.valid | self.net_i.ready):
                    m.d.sync += reply(K_ACK)
                    if self.param_words and self.byte_stream:
                        m.d.sync += self.net_i_param.eq(0)
                        with m.If(self.net_i_param & plast):
                            m.d.sync += params_ok.eq(1)
                    m.next = "REPLY_WAIT"
            with m.State("REPLY_WAIT"):
                m.d.sync += idle_rearm
                with m.If(~rep_pending):
                    m.next = "HUNT"
        m.d.sync += crc_idle.eq(rx_fsm.ongoing("CHECK") & ~rxc.busy)

        # ------------------------------------------------------------------ transmitter
        # cropped output row width in pixels and the RESULT_ROW payload length, registered in two
        # steps from the stripe geometry (a subtract-multiply-add chain in one cycle was the ECP5
        # critical path); `geo_wait` holds result rows off until both registers have settled
        out_w = Signal(range(hr_w + 1))
        core_w = Signal(range(self.max_width + 1))
        res_len = Signal(range(hr_w * colors + P.RESULT.size + 1))
        keep_lo, keep_hi = Signal(range(hr_w + 1)), Signal(range(hr_w + 1))   # the HR columns kept by the crop filter, [lo, hi)
        # products by constants as shift-and-add (yosys maps `x * const` to a DSP block, whose
        # delay plus the adder behind it was the ECP5 critical path)
        m.d.sync += [core_w.eq(width - crop_l - crop_r), out_w.eq(const_mul(core_w, r)),
                     res_len.eq(const_mul(core_w, r * colors) + P.RESULT.size),
                     keep_lo.eq(const_mul(crop_l, r)), keep_hi.eq(const_mul(width - crop_r, r))]

        in_x = Signal(range(hr_w + 1))     # pixel index within the network's output row (uncropped)
        in_x_last = Signal.like(in_x)      # width * r - 1
        m.d.sync += in_x_last.eq(const_mul(width, r) - 1)
        row_idx = Signal(range(self.max_height * r + 1))
        # the stripe's result rows: row_idx counts them from the network's reset, so the rows
        # left are rows_total - row_idx (no down-counter beside it)
        rows_total = Signal.like(row_idx)
        # (registered, as is the last column index below: the stripe geometry is set long before
        # the network's first output, and the multiply-subtract-compare in front of in_x reached
        # the network's output ready; over 8 ns on the ECP5 by the depth map)
        m.d.sync += rows_total.eq(const_mul(height, r))
        tcrc = txc.value
        tlen = Signal(range(max(hr_w * colors + P.RESULT.size, P.IDENT.size, P.STATUS.size, P.NACK.size) + 1))
        tidx = Signal.like(tlen)
        ttype = Signal(8)
        tseq = Signal(8)
        tkind = Signal(3)
        K_RESULT = 4
        # the frame's type and payload length follow from its kind (no registers)
        with m.Switch(tkind):
            for kind, (typ, size) in {K_ACK: (P.T.ACK, P.ACK.size), K_NACK: (P.T.NACK, P.NACK.size),
                                      K_IDENT: (P.T.IDENT, P.IDENT.size),
                                      K_STATUS: (P.T.STATUS_REPLY, P.STATUS.size)}.items():
                with m.Case(kind):
                    m.d.comb += [ttype.eq(typ), tlen.eq(size)]
            with m.Default():
                m.d.comb += [ttype.eq(P.T.RESULT_ROW), tlen.eq(res_len)]
        # STATUS: each u32 field is read as its first byte goes out and its other bytes come from
        # that copy, so every counter is sent whole (the fields are not one snapshot: a counter may
        # have moved between fields if frames arrive during the reply)
        field_snap = Signal(self.counter_bits)
        field_live = Signal(self.counter_bits)
        field_ok = Signal()                 # field_live is the value of field tidx[2:5]
        if self.counters_ram:
            m.d.comb += [bank.sel.eq(tidx[2:5]), field_live.eq(bank.value), field_ok.eq(bank.valid)]
        else:
            m.d.comb += [field_live.eq(select(tidx[2:5], counters)), field_ok.eq(1)]
        field_live_d = Signal.like(field_live, name="field_live_d")     # (serial_crc: the transmitter)
        m.d.sync += field_live_d.eq(field_live)
        reason_snap, acktype_snap = Signal(8), Signal(8)
        ident_bytes = Array(Const(b, 8) for b in self.identity.pack())
        opix_n = Signal(range(colors + 1))     # the next byte of the pixel being sent

        # (registered bounds: the network's first output comes many cycles after geo_wait ends)
        keep = (in_x >= keep_lo) & (in_x < keep_hi)
        in_c = Signal(range(max(colors, 2)))     # (byte_stream) colour of the next net_o byte
        m.d.comb += self.net_o_pixel.eq(self.net_o.valid & self.net_o.ready &
                                        ((in_c == colors - 1) if self.byte_stream else 1))
        with m.If(self.net_o.valid & self.net_o.ready):
            if self.byte_stream:
                m.d.sync += in_c.eq(Mux(in_c == colors - 1, 0, in_c + 1))
                with m.If(in_c == colors - 1):
                    m.d.sync += in_x.eq(Mux(in_x == in_x_last, 0, in_x + 1))
            else:
                m.d.sync += in_x.eq(Mux(in_x == in_x_last, 0, in_x + 1))
        with m.If(self.net_rst):
            m.d.sync += [in_x.eq(0), row_idx.eq(0), in_c.eq(0)]
        # the transmitter's pixel source: pix_avail (a kept pixel can be taken), pix_data, pix_take
        pix_take = Signal()
        row_ready = Signal()
        if self.row_buffer:
            # network output -> crop filter -> result row FIFO (cleared with the network); the
            # transmitter starts a RESULT_ROW only once the whole cropped row is in the FIFO
            rowq = BlockRamFIFO(width=8 * colors, depth=self.row_fifo_depth)
            m.submodules.rowq = ResetInserter(self.net_rst)(rowq)
            m.d.comb += [self.net_o.ready.eq(stripe_active & (~keep | rowq.w_rdy)),
                         rowq.w_data.eq(self.net_o.payload), rowq.w_en.eq(stripe_active & self.net_o.valid & keep)]
            # the transmitter reads the pixels from a SkidBuffer behind the FIFO: the block RAM's
            # data (a slow clock-to-out) go into a register, not through the byte select into the
            # UART's skid buffer, and the FIFO's read enable (the RAM's clock enable) is the skid's
            # registered ready, not the transmitter's FSM (both over 9.7 ns by the ECP5 depth map)
            rowo = SkidBuffer(unsigned(8 * colors), out_select=True)    # (its data registers only)
            m.submodules.rowo = ResetInserter(self.net_rst)(rowo)
            m.d.comb += [rowo.i.payload.eq(rowq.r_data), rowo.i.valid.eq(rowq.r_rdy), rowq.r_en.eq(rowo.i.ready),
                         rowo.o.ready.eq(pix_take)]
            pix_avail, pix_data = rowo.o.valid, rowo.o.payload
            # "a whole cropped row is in the FIFO and its skid buffer" (main and skid register:
            # o.valid and ~i.ready), registered (FIFO level -> compare -> transmitter FSM was the
            # ECP5 critical path). Only the transmitter pops them, and at least the four CRC bytes
            # of a RESULT_ROW pass between its last pop and the next check, so the value it reads
            # is never stale after a pop; while it waits the count only grows.
            held = rowq.level + rowo.o.valid + ~rowo.i.ready
            m.d.sync += row_ready.eq((held >= out_w) & (geo_wait == 0))
        else:
            # no buffer: cropped pixels are dropped as they come, kept ones go into a one-entry
            # holding register that the transmitter sends from. The network's ready is a function
            # of flip-flops only (the transmitter's state -> ready -> the tail engine's stall logic
            # was the UP5K's longest path): the crop flag is registered (keep_r, one cycle behind
            # in_x, so ready waits a cycle after each transfer and after a network reset), the
            # register's fill flag is one.
            nbits = len(Value.cast(self.net_o.payload))
            hold, hold_full = Signal(nbits), Signal()
            keep_r, keep_ok = Signal(), Signal()
            moved = self.net_o.valid & self.net_o.ready
            m.d.sync += [keep_r.eq(keep), keep_ok.eq(~moved & ~self.net_rst)]
            m.d.comb += self.net_o.ready.eq(stripe_active & keep_ok & (~keep_r | ~hold_full))
            with m.If(pix_take):
                m.d.sync += hold_full.eq(0)
            with m.If(moved & keep_r):
                m.d.sync += [hold.eq(self.net_o.payload), hold_full.eq(1)]
            with m.If(self.net_rst):
                m.d.sync += hold_full.eq(0)
            pix_avail, pix_data = hold_full, hold
            m.d.comb += row_ready.eq(pix_avail & (geo_wait == 0))

        # the transmitter FSM names the byte to send (tx_byte) and whether it may go (tx_valid).
        # serial_crc: both through registers (the byte index -> byte select -> CRC / UART path and
        # the valid's sources -> every `sent` user were the UP5K link's longest paths): a byte
        # goes once it was valid in the previous cycle with nothing sent since, so the registered
        # byte is the current one (tidx and the FSM state move only with a sent byte or in cycles
        # without a valid one); without the serial CRC (a byte per cycle) they are direct.
        # With the serial CRC the byte is selected over two registers: each source's byte (header,
        # result row, reply, CRC) registered with its "this state" flag, then the flagged one (the
        # whole select into one register was x4-base's link path over 8 ns, docs/boards.md row 138:
        # 10.96 ns), so a byte goes once it was valid in the two previous cycles with nothing sent
        # since (one cycle more per byte, beside the UART's 10 bit times)
        tx_byte, tx_valid = Signal(8), Signal()
        sent = self.tx.valid & self.tx.ready
        if self.serial_crc:
            tx_q, tx_v1, tx_vq = Signal(8, name="tx_q"), Signal(), Signal()
            m.d.sync += [tx_v1.eq(tx_valid & ~sent & ~self.net_rst),
                         tx_vq.eq(tx_v1 & tx_valid & ~sent & ~self.net_rst)]
            m.d.comb += [self.tx.payload.eq(tx_q), self.tx.valid.eq(tx_vq)]
        else:
            m.d.comb += [self.tx.payload.eq(tx_byte), self.tx.valid.eq(tx_valid)]
        # The CRC-32 takes a sent byte one cycle later, from a register (byte select -> CRC update
        # -> tcrc in one cycle was the ECP5 critical path). Updates stay in order even for
        # back-to-back bytes, and the CRC state reads tcrc at least one cycle after the last
        # update is due (BODY spends a cycle on its tidx == tlen check), so it is never stale.
        # The CRC's start (init, after the second magic byte went) is a register too: the first
        # update follows the third byte, at least a cycle after it.
        crc_byte, crc_go, crc_init = Signal(8), Signal(), Signal()
        m.d.sync += [crc_go.eq(0), crc_init.eq(0)]
        m.d.comb += [txc.go.eq(crc_go), txc.byte.eq(crc_byte), txc.init.eq(crc_init)]
        # a serial CRC takes 9 cycles per byte: no byte leaves until the last one is in
        tx_ok = Signal()
        m.d.comb += tx_ok.eq(~(txc.busy | crc_go) if self.serial_crc else 1)

        def crc_take():
            return [crc_byte.eq(self.tx.payload), crc_go.eq(1)]

        # the transmitter's compares as registered flags (tidx / tlen -> compare -> transmitter FSM
        # -> row counter -> stripe state was the longest path after row 61). row_idx moves only at
        # a RESULT_ROW's end, so row_last is settled long before its next use; rows_left may lag a
        # cycle behind, and IDLE also needs stripe_active, which the last row clears. body_end
        # (serial CRC only) lags tidx by a cycle: it is read only when crc_go is low, i.e. not in
        # the cycle after a byte went out, and no byte goes out before the CRC unit is done.
        row_last, rows_left, body_end = Signal(), Signal(), Signal()
        m.d.sync += [row_last.eq(row_idx + 1 == rows_total), rows_left.eq(row_idx != rows_total),
                     body_end.eq(tidx == tlen)]
        at_body_end = (body_end & ~crc_go) if self.serial_crc else (tidx == tlen)

        # each source's byte at tidx (the FSM's state picks one)
        b_hdr, b_res, b_small, b_crc = (Signal(8, name=f"tx_b_{k}") for k in ("hdr", "res", "small", "crc"))
        hdr = Array([Const(P.MAGIC[0], 8), Const(P.MAGIC[1], 8), ttype, tseq, tlen[:8], tlen[8:]])
        # (RESULT_ROW: 2 bytes row index, then the cropped pixels' bytes from the pixel source)
        pix_byte = pix_data if self.byte_stream else Value.cast(pix_data).word_select(opix_n, 8)
        m.d.comb += [b_hdr.eq(hdr[tidx[:3]]), b_crc.eq((~tcrc).word_select(tidx[:2], 8)),
                     b_res.eq(Mux(lt_const(tidx, 2), Mux(tidx[0], row_idx[8:], row_idx[:8]), pix_byte))]
        with m.Switch(tkind):
            with m.Case(K_ACK):
                m.d.comb += b_small.eq(Mux(tidx[0], tseq, acktype_snap))
            with m.Case(K_NACK):
                m.d.comb += b_small.eq(Array([acktype_snap, tseq, reason_snap])[tidx[:2]])
            with m.Case(K_IDENT):
                m.d.comb += b_small.eq(ident_bytes[tidx[:6]])
            with m.Case(K_STATUS):
                field = Cat(field_snap, Const(0, 32 - self.counter_bits))
                m.d.comb += b_small.eq(Mux(tidx[:2] == 0, field_live[:8], field.word_select(tidx[:2], 8)))

        with m.FSM(name="tx_fsm") as tx_fsm:
            with m.State("IDLE"):
                with m.If(rep_pending):
                    m.d.sync += [tkind.eq(rep_kind), tseq.eq(fseq), tidx.eq(0), rep_pending.eq(0),
                                 reason_snap.eq(rep_reason), acktype_snap.eq(ftype)]
                    m.next = "HEAD"
                with m.Elif(stripe_active & rows_left & row_ready):
                    # a whole cropped row is buffered: the frame will not wait for the network
                    m.d.sync += [tkind.eq(K_RESULT), tseq.eq(stripe_seq), tidx.eq(0)]
                    m.next = "HEAD"
            with m.State("HEAD"):
                m.d.comb += [tx_byte.eq(b_hdr), tx_valid.eq(tx_ok)]
                with m.If(sent):
                    m.d.sync += tidx.eq(tidx + 1)
                    with m.If(tidx == 1):
                        m.d.sync += crc_init.eq(1)
                    with m.Elif(~lt_const(tidx, 2)):
                        m.d.sync += crc_take()
                    with m.If(tidx == 5):
                        m.d.sync += tidx.eq(0)
                        m.next = "BODY"
            with m.State("BODY"):
                with m.If(at_body_end):
                    m.d.sync += tidx.eq(0)
                    m.next = "CRC"
                with m.Elif(tkind == K_RESULT):
                    # 2 bytes row index, then cropped pixels of one row (from the row FIFO), byte by byte
                    m.d.comb += tx_byte.eq(b_res)
                    with m.If(lt_const(tidx, 2)):
                        m.d.comb += tx_valid.eq(tx_ok)
                    with m.Else():
                        # the pixel's bytes straight from the source (a stream holds its payload
                        # until taken): it is taken with its last byte
                        with m.If(pix_avail):
                            if self.byte_stream:        # (a byte of the pixel per transfer)
                                m.d.comb += [tx_valid.eq(tx_ok), pix_take.eq(sent)]
                            else:
                                m.d.comb += tx_valid.eq(tx_ok)
                                with m.If(sent):
                                    m.d.sync += opix_n.eq(Mux(opix_n == colors - 1, 0, opix_n + 1))
                                    with m.If(opix_n == colors - 1):
                                        m.d.comb += pix_take.eq(1)
                    with m.If(sent):
                        m.d.sync += [tidx.eq(tidx + 1), *crc_take()]
                with m.Else():
                    with m.If(tkind == K_STATUS):
                        # the field's copy is the value its first byte goes out with: taken with
                        # the registered byte (serial_crc: a cycle behind, as the byte goes through
                        # two registers), or as the byte goes
                        if self.serial_crc:
                            with m.If(~sent & (tidx[:2] == 0)):
                                m.d.sync += field_snap.eq(field_live_d)
                        else:
                            with m.If(sent & (tidx[:2] == 0)):
                                m.d.sync += field_snap.eq(field_live)
                    # (a STATUS field's first byte waits until the counter value is read)
                    m.d.comb += [tx_byte.eq(b_small),
                                 tx_valid.eq(tx_ok & (field_ok | (tkind != K_STATUS) | (tidx[:2] != 0)))]
                    with m.If(sent):
                        m.d.sync += [tidx.eq(tidx + 1), *crc_take()]
            with m.State("CRC"):
                m.d.comb += [tx_byte.eq(b_crc), tx_valid.eq(tx_ok)]
                with m.If(sent):
                    m.d.sync += tidx.eq(tidx + 1)
                    with m.If(tidx == 3):
                        m.next = "IDLE"
                        with m.If(tkind == K_RESULT):
                            m.d.sync += [*bump(RESULTS), row_idx.eq(row_idx + 1)]
                            with m.If(row_last):
                                m.d.sync += stripe_active.eq(0)
        if self.serial_crc:
            # the byte registers: each source's byte with its flag, then the OR of the flagged one
            body, result = tx_fsm.ongoing("BODY"), tkind == K_RESULT
            srcs = [(tx_fsm.ongoing("HEAD"), b_hdr), (body & result, b_res), (body & ~result, b_small),
                    (tx_fsm.ongoing("CRC"), b_crc)]
            qs = []
            for k, (flag, byte) in enumerate(srcs):
                f_q, b_q = Signal(name=f"tx_s{k}"), Signal(8, name=f"tx_q{k}")
                m.d.sync += [f_q.eq(flag), b_q.eq(byte)]
                qs.append(Mux(f_q, b_q, 0))
            m.d.sync += tx_q.eq(qs[0] | qs[1] | qs[2] | qs[3])
        with m.If(self.net_rst):
            m.d.sync += [opix_n.eq(0), pix_n.eq(0)]
        return m
