"""RowSerialNetwork: the whole network on the row-serial engines, behind pixel streams.

Signature
  i_param: In(1)                              the bytes on i are parameter bytes (a PARAMS payload:
                                              u16 address, u16 words): the parameter image
                                              (NetworkMap.param_image at word 0) must be loaded
                                              before the first frame
  i:     In(stream of bytes)                  LR pixels' bytes, raster order, colour 0 first, one
                                              frame of width x height x colors (LinkCore byte_stream)
  o:     Out(stream of bytes)                 output pixels' bytes, raster order (x r for SR), colour
                                              0 first (LinkCore byte_stream)
  width, height: In(16)                       the frame's LR geometry, stable during the frame
Both streams carry bytes, as the link has them: the receiver writes each byte as it comes and the
tail sends each colour as it is done (no pixel assembled and taken apart again).

Structure
  RAM (hw/rowserial/ram.SinglePortRAM, 16-bit words, one port: NetworkMap.ram; SPRAM on the UP5K)
  and the bits memory (hw/bits_ram.BitsRAM, C-bit words, one read port and a write port of one
  bit: NetworkMap.bits).
  receiver  writes incoming pixel bytes (one word each, into the "pix" ring) and parameter words
            into RAM, a byte a cycle after it is taken (at most one every two cycles); it has the
            RAM port first, and while it holds it the core is frozen for the cycle
            (EnableInserter; the RAM read port keeps its data).
  core  the sequencer and the three engines (hw/rowserial/*_engine.py). The sequencer walks the
        static schedule (hw/rowserial/schedule.period_jobs): per period t a fixed template of
        jobs, each issued when its row exists; ring slots come from per-depth counters (t mod d,
        r*t mod d); an address unit computes the job's slot addresses (base + slot * stride) one
        field a cycle through a pipeline into registers, so the engines read a registered payload
        (the job is issued SETTLE cycles after the sequencer moves to it). A period starts when the
        pixel rows up to t + 1 are in; the receiver takes row p only while p <= t + 1 + RX_AHEAD
        (both tracked by a slack counter, not by comparing row numbers). The active engine's RAM
        requests go through a register in the core (memmap.READ_LATENCY = 2 core cycles from
        request to data, frozen cycles not counted), so no engine logic reaches the SPRAM pins.
Cycle model: cycles_per_frame sums the engines' own job models over the schedule, plus the
sequencer's cycles per job (JOB_GAP, SETTLE) and per period (PERIOD_GAP) and the cycles the
receiver holds the RAM port (colors per pixel); input always available, output never stalled.
Golden twin: sw.golden.run (hw.rowserial.schedule.run is the same schedule on the rings).
"""
from __future__ import annotations

from amaranth import Array, Cat, Const, EnableInserter, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from sw import formats
from sw.golden import bilinear_weights_1d
from sw.program import Program

from ..estimate import throwaway, total
from ..head import signed_bits
from . import memmap
from .bin_engine import BinRowEngine
from ..bits_ram import BitsRAM
from .head_engine import HeadRowEngine
from .ram import SinglePortRAM
from .schedule import RX_AHEAD, _shape, periods
from .tail_engine import TailRowEngine

RAM_AW = 16


def template(prog: Program) -> list[dict]:
    """The jobs of a period as constants: kind, layer, and the output row as t - c (LR) or
    r*t - c (HR rows); tails of SR carry their vertical phase and the skip's LR row offset."""
    n, r = _shape(prog)
    jobs = [{"kind": "head", "c": 0}] + [{"kind": "bin", "layer": l - 1, "c": l} for l in range(1, n + 1)]
    if r == 1:
        jobs.append({"kind": "tail", "c": n + 1})
    else:
        jobs.append({"kind": "up", "layer": n, "c": n + 1})
        # h = r*u - 1 + i = r*t - (r*(n+1) + 1 - i)
        jobs += [{"kind": "hr", "layer": n + 1, "c": r * (n + 1) + 1 - i} for i in range(r)]
        # h = r*u - 2 + i: LR row y = u + (i-2)//r, phase (i-2) mod r
        for i in range(r):
            ph = (i - 2) % r
            dy = (i - 2) // r
            off = bilinear_weights_1d(r)[ph][0]
            jobs.append({"kind": "tail", "c": r * (n + 1) + 2 - i, "phase": ph,
                         "skip_c": (n + 1) - dy - off})       # skip row y + off = t - skip_c
    return jobs


def lrelu_sharing(prog: Program) -> tuple[bool, bool]:
    """Whether the head's and the tail's LeakyReLU products run on the binary engine's multiplier
    (idle while they run): where there is one and the constant fits its b operand. The tail's then
    needs no DSP block of its own (hw/accelerator.py gives that one to the link)."""
    blay = prog.binary_layers
    if not blay:
        return False, False
    bw = max(memmap.param_layout(prog).width("S"), formats.dot_bits(prog.config.channels))
    return (prog.head.act == "lrelu" and signed_bits(int(prog.head.act_mult)) <= bw,
            prog.tail.in_act == "lrelu" and signed_bits(int(prog.tail.act_mult)) <= bw)


class RowSerialCore(wiring.Component):
    def __init__(self, prog: Program, max_width: int, nmap: memmap.NetworkMap, max_height: int = 2048):
        self.prog, self.nmap = prog, nmap
        self.n, self.r = _shape(prog)
        self.C, self.colors = prog.config.channels, prog.config.colors
        self.max_width, self.max_height = max_width, max_height
        self.bits_aw = memmap.addr_bits(nmap.bits_words)
        share_h, share_t = lrelu_sharing(prog)
        blay = prog.binary_layers
        self.head = HeadRowEngine(prog, max_width, RAM_AW, self.bits_aw, ext_lrelu=share_h)
        self.bin = BinRowEngine(prog, max_width, RAM_AW, self.bits_aw, ext=share_h or share_t) if blay else None
        self.tail = TailRowEngine(prog, max_width, RAM_AW, ext_act=share_t)
        self.jobs = template(prog)
        # counters as wide as the limits need: the periods of a frame, its rows
        self.t_max = max_height + self.n + 2
        super().__init__({
            "ram": Out(memmap.RamPort(RAM_AW)),
            "src": Out(memmap.BitsRead(self.bits_aw, self.C)),
            "dst": Out(memmap.BitsWrite(self.bits_aw, self.C)),
            "o": Out(stream.Signature(unsigned(8))),
            "width": In(range(max_width + 1)), "height": In(range(max_height + 1)),
            "rows_ok": In(1),           # the pixel rows the period being run needs (up to t + 1) are in
            "period_step": Out(1),      # (registered) the period advances to t + 1 (not at frame end)
            "frame_done": Out(1),       # one-cycle pulse after the frame's last period
        })

    #: pipeline stages of the address unit
    ADDR_STAGES = 4

    @property
    def SETTLE(self) -> int:
        """cycles from a new job index (or period) to its payload in registers: the address unit
        takes one field a cycle (4 + 2r fields) through its ADDR_STAGES stages, the last of them the
        payload register"""
        return 4 + 2 * self.r + self.ADDR_STAGES - 1

    def _entry_plan(self, jd: dict) -> dict:
        """Constants of one template job: the engine, its row (t - c, or r*t - c for HR rows), and
        the slot addresses it reads and writes as (ring, c, hr, clamp): row t - c (r*t - c) of the
        ring; clamp: an LR skip row that is moved into the image (tail)."""
        nm, r, layers = self.nmap, self.r, self.prog.binary_layers
        kind, c = jd["kind"], jd["c"]
        NA = 4 + 2 * r
        addr = [None] * NA
        if kind == "head":
            pr = nm.ram["pix"]
            addr[:4] = [(pr, c + 1, False, False), (pr, c, False, False), (pr, c - 1, False, False),
                        (nm.ram["fp"], c, False, False)]
            if layers:
                addr[4] = (nm.bits["bits.0"], c, False, False)
            return {"active": 0, "c": c, "hr": 0, "wide": 0, "addr": addr, "dst_en": int(bool(layers))}
        if kind == "tail":
            hr = r > 1
            fr = nm.ram["hrfp"] if hr else nm.ram["fp"]
            pr = nm.ram["pix"]
            addr[:3] = [(fr, c + 1, hr, False), (fr, c, hr, False), (fr, c - 1, hr, False)]
            if hr:
                sc = jd["skip_c"]
                addr[3], addr[4] = (pr, sc, False, True), (pr, sc - 1, False, True)
                return {"active": 2, "c": c, "hr": 1, "wide": 1, "addr": addr, "phase": jd["phase"]}
            addr[3] = (pr, c, False, False)
            return {"active": 2, "c": c, "hr": 0, "wide": 1, "addr": addr}
        l = jd["layer"]
        layer = layers[l]
        hr = kind == "hr"
        src = nm.bits[f"bits.{l}"]
        fr = nm.ram["hrfp"] if hr else nm.ram["fp"]
        nxt = nm.bits.get(f"bits.{l + 1}")
        addr[:4] = [(src, c + 1, hr, False), (src, c, hr, False), (src, c - 1, hr, False), (fr, c, hr, False)]
        if kind == "up":
            for i in range(r):      # HR rows r*y + i = r*t - (r*c - i)
                addr[4 + i] = (nm.ram["hrfp"], r * c - i, True, False)
                addr[4 + r + i] = (nxt, r * c - i, True, False)
        else:
            addr[4] = (fr, c, hr, False)
            if nxt is not None:
                addr[4 + r] = (nxt, c, hr, False)
        return {"active": 1, "c": c, "hr": int(hr), "wide": int(hr), "addr": addr,
                "param": nm.param_base[l], "sa": int(layer.shift), "ss": int(layer.slope_shift),
                "up": int(kind == "up"), "dst_en": int(nxt is not None)}

    def elaborate(self, platform):
        m = Module()
        n, r, C = self.n, self.r, self.C
        nm, W, H = self.nmap, self.width, self.height
        m.submodules.head = head = self.head
        m.submodules.tail = tail = self.tail
        eng = {"head": head, "tail": tail}
        if self.bin is not None:
            m.submodules.bin = eng["bin"] = self.bin
        t = Signal(range(self.t_max + 1), name="period")       # the period being run
        rem = Signal(range(-(n + 2), self.max_height + 1))     # H - t (the frame's last period: rem == -(n+1))
        m.d.sync += [self.frame_done.eq(0), self.period_step.eq(0)]

        # per ring depth: t mod d and (r*t) mod d
        depths = sorted({ring.depth for ring in list(nm.ram.values()) + list(nm.bits.values())})
        tm = {d: Signal(range(d), name=f"t_mod{d}") for d in depths}
        rtm = {d: Signal(range(d), name=f"rt_mod{d}") for d in depths}
        counters = [tm[d] for d in depths] + [rtm[d] for d in depths]

        # ---------------- the sequencer: a table of constants per template job (entry q) and
        # shared arithmetic for the job in hand: its row, and NA slot addresses
        plan = [self._entry_plan(jd) for jd in self.jobs]
        NA = 4 + 2 * r
        q = Signal(range(len(self.jobs) + 1))
        IDLE, WAITROWS, ISSUE, LAUNCH, RUN = 0, 1, 2, 3, 4
        state = Signal(range(5))
        # the engine of job q: 0 head, 1 bin, 2 tail (active_c from the table; active registered,
        # one cycle behind q: a job is issued SETTLE cycles after q moves, and the engines' ports
        # and the lent multiplier follow it only while the job runs)
        active_c, active = Signal(range(3)), Signal(range(3))
        m.d.sync += active.eq(active_c)
        # each engine's job.valid is a flip-flop: set in ISSUE, taken in LAUNCH
        issue_valid = {name: Signal(name=f"{name}_valid") for name in ("head", "bin", "tail")}
        c_row = Signal(range(4 * (n + 4) * r + 8))
        c_m1 = Signal(range(-1, 4 * (n + 4) * r + 8))     # c_row - 1
        hr_row, wide = Signal(), Signal()
        k_param, k_sa, k_ss, k_up, k_dst_en, k_phase = (Signal(16), Signal(6), Signal(6), Signal(), Signal(),
                                                          Signal(range(max(r, 2))))
        # (the payload's constants are registered, a cycle behind q, like active: they are read
        # only once the job is issued)
        with m.Switch(q):
            for k, pl in enumerate(plan):
                with m.Case(k):
                    m.d.comb += [active_c.eq(pl["active"]), c_row.eq(pl["c"]), c_m1.eq(pl["c"] - 1),
                                 hr_row.eq(pl["hr"])]
                    m.d.sync += [wide.eq(pl["wide"]),
                                 k_param.eq(pl.get("param", 0)), k_sa.eq(pl.get("sa", 0)), k_ss.eq(pl.get("ss", 0)),
                                 k_up.eq(pl.get("up", 0)), k_dst_en.eq(pl.get("dst_en", 0)),
                                 k_phase.eq(pl.get("phase", 0))]
        # the row of the job in hand (registered: valid two cycles after q)
        c_max = max([pl["c"] for pl in plan] + [spec[1] for pl in plan for spec in pl["addr"] if spec is not None])
        y = Signal(range(-c_max, self.t_max * r + 1))
        # e = lim - 1 - y (lim: H, or H*r for HR rows): the row exists when y >= 0 and e >= 0, has a row
        # above when y > 0 and one below when e > 0 (signs and zero tests, no comparator)
        e = Signal(range(-c_max - 1, self.max_height * r + c_max + 1))
        exists, top, bot = Signal(), Signal(), Signal()
        m.d.sync += [y.eq(Mux(hr_row, t * r, t) - c_row), e.eq(Mux(hr_row, rem * r, rem) + c_m1),
                     exists.eq((y >= 0) & (e >= 0)), top.eq((y >= 0) & (y != 0)), bot.eq((e >= 0) & (e != 0))]

        # ---------------- the address unit: the job's NA slot addresses base + slot * stride, slot =
        # (counter - c) mod depth (+-1 where a clamped skip row lies above or below the image), one
        # field a cycle through a pipeline of ADDR_STAGES registers into the payload registers
        specs = [(a, k, pl["addr"][a]) for a in range(NA) for k, pl in enumerate(plan) if pl["addr"][a] is not None]
        strides = sorted({sp[0].stride for _, _, sp in specs})
        pow2 = all(st & (st - 1) == 0 for st in strides)
        dmax = max(depths)
        step = Signal(range(self.SETTLE + 1))   # the field entering the pipeline (>= NA: none); the
                                                # payload is complete when it reaches SETTLE
        def lookup(idx, fn, shape):
            """a table on (q, idx) of fn(spec) (0 where job q has no field idx), combinational"""
            sig = Signal(shape)
            with m.Switch(q):
                for k, pl in enumerate(plan):
                    with m.Case(k):
                        with m.Switch(idx):
                            for a, spec in enumerate(pl["addr"]):
                                if spec is not None:
                                    with m.Case(a):
                                        m.d.comb += sig.eq(fn(spec))
            return sig

        # stage 1: the field's counter and row offset
        s1v, s1a = Signal(), Signal(range(NA))
        s1ctr, s1cm = Signal(range(len(counters))), Signal(range(dmax))
        s1clamp, s1crow = Signal(), Signal(range(c_max + 1))
        m.d.sync += [s1v.eq(lookup(step, lambda sp: 1, 1)), s1a.eq(step),
                     s1ctr.eq(lookup(step, lambda sp: depths.index(sp[0].depth) + (len(depths) if sp[2] else 0),
                                     range(len(counters)))),
                     s1cm.eq(lookup(step, lambda sp: sp[1] % sp[0].depth, range(dmax))),
                     s1clamp.eq(lookup(step, lambda sp: int(sp[3]), 1)),
                     s1crow.eq(lookup(step, lambda sp: sp[1] if sp[3] else 0, range(c_max + 1)))]
        # stage 2: counter - c; where a clamped row lies
        s2v, s2a = Signal(), Signal(range(NA))
        dv = Signal(range(-dmax, dmax))
        lo, hi = Signal(), Signal()
        ctr_arr = Array(counters)
        rowv = Signal(range(-c_max, self.t_max + 1))
        m.d.comb += rowv.eq(t - s1crow)
        # (the tables on (q, field) are read a stage before their values are used: q is stable while
        # the fields go through, so a table's select ends at a flip-flop)
        depth = Signal(range(dmax + 1))
        m.d.sync += [s2v.eq(s1v), s2a.eq(s1a), dv.eq(ctr_arr[s1ctr] - s1cm),
                     lo.eq(s1clamp & (rowv < 0)), hi.eq(s1clamp & (rowv >= H)),
                     depth.eq(lookup(s1a, lambda sp: sp[0].depth, range(dmax + 1)))]
        # stage 3: the slot, mod depth after +-1 for a clamped row
        s3v, s3a = Signal(), Signal(range(NA))
        w = Signal(range(-dmax - 1, dmax + 1))
        slot = Signal(range(dmax))
        base = Signal(RAM_AW)
        sh = Signal(range(len(strides)))
        m.d.comb += w.eq(dv + Mux(lo, 1, Mux(hi, -1, 0)))
        m.d.sync += [s3v.eq(s2v), s3a.eq(s2a), slot.eq(Mux(w < 0, w + depth, Mux(w >= depth, w - depth, w))),
                     base.eq(lookup(s2a, lambda sp: sp[0].base, RAM_AW)),
                     sh.eq(lookup(s2a, lambda sp: strides.index(sp[0].stride), range(len(strides))))]
        # stage 4: base + slot * stride into the field's payload register. A bit that no address of
        # the field ever changes is a constant, not a flip-flop.
        if pow2:
            terms = [Mux(sh == k, slot << (st.bit_length() - 1), 0) for k, st in enumerate(strides)]
            off = terms[0]
            for t_ in terms[1:]:
                off = off | t_
        else:
            stride = Array(Const(st, RAM_AW) for st in strides)[sh]
            terms = [Mux(slot[i], stride << i, 0) for i in range(len(slot))]
            off = sum(terms[1:], terms[0])
        addr = Signal(RAM_AW)
        m.d.comb += addr.eq(base + off)
        addrs = []
        for a in range(NA):
            vals = {sp[0].base + s * sp[0].stride for a_, _, sp in specs if a_ == a for s in range(sp[0].depth)}
            ref = min(vals, default=0)
            var = 0                         # the bits in which some address of the field differs
            for v_ in vals:
                var |= v_ ^ ref
            bits_ = []
            for b in range(RAM_AW):
                if var >> b & 1:
                    rb = Signal(name=f"a{a}_addr{b}")
                    with m.If(s3v & (s3a == a)):
                        m.d.sync += rb.eq(addr[b])
                    bits_.append(rb)
                else:
                    bits_.append(Const(ref >> b & 1, 1))
            addrs.append(Cat(*bits_))
        held = Signal()                     # the payload registers hold job q's payload
        m.d.comb += held.eq(step == self.SETTLE)
        with m.If(~held):
            m.d.sync += step.eq(step + 1)

        hj, tj = head.job.payload, tail.job.payload
        m.d.comb += [hj.width.eq(W), hj.top.eq(top), hj.bot.eq(bot), hj.pix[0].eq(addrs[0]), hj.pix[1].eq(addrs[1]),
                     hj.pix[2].eq(addrs[2]), hj.out.eq(addrs[3]), hj.dst.eq(addrs[4]), hj.dst_en.eq(k_dst_en)]
        if self.head.ext_lrelu:
            with m.If(active == 0):
                m.d.comb += [self.bin.ext_en.eq(1), self.bin.ext_a.eq(head.lrelu_y),
                             self.bin.ext_b.eq(int(self.prog.head.act_mult))]
            m.d.comb += head.lrelu_p.eq(self.bin.prod_o)
        if self.tail.ext_act:
            with m.If(active == 2):
                m.d.comb += [self.bin.ext_en.eq(1), self.bin.ext_a.eq(tail.lrelu_x),
                             self.bin.ext_b.eq(int(self.prog.tail.act_mult))]
            m.d.comb += tail.lrelu_p.eq(self.bin.prod_o)
        if "bin" in eng:
            bj = eng["bin"].job.payload
            m.d.comb += [bj.width.eq(Mux(wide, W * r, W)), bj.top.eq(top), bj.bot.eq(bot),
                         bj.src[0].eq(addrs[0]), bj.src[1].eq(addrs[1]), bj.src[2].eq(addrs[2]), bj.res.eq(addrs[3]),
                         bj.param.eq(k_param), bj.sa.eq(k_sa), bj.ss.eq(k_ss), bj.up.eq(k_up), bj.dst_en.eq(k_dst_en)]
            for i in range(r):
                m.d.comb += [bj.out[i].eq(addrs[4 + i]), bj.dst[i].eq(addrs[4 + r + i])]
        m.d.comb += [tj.width.eq(W * r), tj.lr_width.eq(W), tj.top.eq(top), tj.bot.eq(bot),
                     tj.feat[0].eq(addrs[0]), tj.feat[1].eq(addrs[1]), tj.feat[2].eq(addrs[2]),
                     tj.pix[0].eq(addrs[3]), tj.pix[1].eq(addrs[4]), tj.phase.eq(k_phase)]

        for name, e in eng.items():
            m.d.comb += e.job.valid.eq(issue_valid[name])
        done = Signal()
        m.d.comb += done.eq(head.done | tail.done | (eng["bin"].done if "bin" in eng else 0))

        with m.Switch(state):
            with m.Case(IDLE):
                m.d.sync += [t.eq(0), rem.eq(H), q.eq(0)] + [s.eq(0) for s in tm.values()] + [s.eq(0) for s in rtm.values()]
                with m.If(H != 0):
                    m.d.sync += state.eq(WAITROWS)
            with m.Case(WAITROWS):
                with m.If(self.rows_ok):
                    m.d.sync += [state.eq(ISSUE), q.eq(0), step.eq(0)]
            with m.Case(ISSUE):
                with m.If(~held):
                    pass                        # the address unit is still filling the payload
                with m.Elif(q == len(self.jobs)):
                    # next period
                    m.d.sync += [t.eq(t + 1), rem.eq(rem - 1), state.eq(WAITROWS),
                                 self.period_step.eq(rem != -(n + 1))]
                    for d, s in tm.items():
                        m.d.sync += s.eq(Mux(s == d - 1, 0, s + 1))
                    for d, s in rtm.items():
                        m.d.sync += s.eq(Mux(s + (r % d) >= d, s + (r % d) - d, s + (r % d)))
                    with m.If(rem == -(n + 1)):
                        m.d.sync += [state.eq(IDLE), self.frame_done.eq(1)]
                with m.Elif(exists):
                    # (every engine is idle here: the previous job is done)
                    m.d.sync += [issue_valid[name].eq(active == k) for k, name in enumerate(("head", "bin", "tail"))]
                    m.d.sync += state.eq(LAUNCH)
                with m.Else():
                    m.d.sync += [q.eq(q + 1), step.eq(0)]
            with m.Case(LAUNCH):
                # the engine takes the job now
                m.d.sync += [v.eq(0) for v in issue_valid.values()] + [state.eq(RUN)]
            with m.Case(RUN):
                with m.If(done):
                    m.d.sync += [state.eq(ISSUE), q.eq(q + 1), step.eq(0)]

        # ---------------- memory ports: the active engine's, the RAM's through a request register
        # (memmap.READ_LATENCY: the engines' address logic ends at a flip-flop, not at the SPRAM;
        # inside the core's enable domain, so a frozen cycle delays request and data alike)
        ram = self.ram
        m.d.sync += ram.we.eq(0)
        with m.Switch(active):
            for k, name in enumerate(("head", "bin", "tail")):
                if name not in eng:
                    continue
                with m.Case(k):
                    e = eng[name]
                    m.d.sync += [ram.addr.eq(e.ram.addr), ram.we.eq(e.ram.we), ram.wdata.eq(e.ram.wdata)]
        for e in eng.values():
            m.d.comb += e.ram.rdata.eq(ram.rdata)
        if "bin" in eng:
            b = eng["bin"]
            m.d.comb += [self.src.addr.eq(b.src.addr), b.src.data.eq(self.src.data)]
            with m.If(active == 1):
                m.d.comb += [self.dst.addr.eq(b.dst.addr), self.dst.bit.eq(b.dst.bit), self.dst.data.eq(b.dst.data),
                             self.dst.en.eq(b.dst.en)]
            with m.Else():
                m.d.comb += [self.dst.addr.eq(head.dst.addr), self.dst.bit.eq(head.dst.bit),
                             self.dst.data.eq(head.dst.data), self.dst.en.eq(head.dst.en)]
        else:
            m.d.comb += [self.dst.addr.eq(head.dst.addr), self.dst.bit.eq(head.dst.bit), self.dst.data.eq(head.dst.data),
                         self.dst.en.eq(head.dst.en)]
        wiring.connect(m, tail.o, wiring.flipped(self.o))
        return m


class RowSerialNetwork(wiring.Component):
    def __init__(self, prog: Program, max_width: int = 64, max_height: int = 2048):
        self.prog = prog
        self.max_width, self.max_height = max_width, max_height
        self.colors, self.C = prog.config.colors, prog.config.channels
        self.n, self.r = _shape(prog)
        self.nmap = memmap.NetworkMap(prog, max_width)
        if self.nmap.ram_words > 1 << RAM_AW:
            raise ValueError(f"the program needs {self.nmap.ram_words} RAM words at max_width {max_width}, "
                             f"more than {1 << RAM_AW}")
        super().__init__({
            "i_param": In(1),       # the bytes on i are a PARAMS payload (the link's net_i_param)
            "i": In(stream.Signature(unsigned(8))),    # pixel bytes, raster order, colour 0 first
            "o": Out(stream.Signature(unsigned(8))),
            "width": In(16), "height": In(16),
        })

    def resource_estimate(self) -> dict:
        """The engines, the sequencer (~25 LUT per template job: slot selects, row checks) and the
        receiver; the bits memory in block RAM; the RAM (SPRAM on the iCE40UP5K) as spram_bits."""
        core = RowSerialCore(self.prog, self.max_width, self.nmap, self.max_height)
        engines = [e for e in (core.head, core.bin, core.tail) if e is not None]
        throwaway(*engines)
        est = total([e.resource_estimate() for e in engines])
        est["lut"] += 25 * len(core.jobs) + 120
        est["ff"] += 120
        est["bram_bits"] += self.nmap.bits_words * self.C
        est["spram_bits"] = self.nmap.ram_words * 16
        return est

    def param_image(self):
        return self.nmap.param_image(self.prog)

    #: sequencer cycles per issued job (ISSUE -> LAUNCH -> RUN -> done -> ISSUE) and per period
    JOB_GAP, PERIOD_GAP = 3, 3

    def cycles_per_frame(self, width: int, height: int) -> int:
        from .schedule import period_jobs
        core = RowSerialCore(self.prog, self.max_width, self.nmap, self.max_height)
        throwaway(core, *[e for e in (core.head, core.bin, core.tail) if e is not None])
        total = 0
        for t in range(periods(self.n, self.r, height)):
            total += (self.PERIOD_GAP + (len(core.jobs) + 1) * core.SETTLE
                      + (len(core.jobs) - len(period_jobs(t, self.n, self.r, height))))
            for j in period_jobs(t, self.n, self.r, height):
                if j.kind == "head":
                    c = core.head.cycles_per_job(width)
                elif j.kind == "tail":
                    c = core.tail.cycles_per_job(width * self.r)
                else:
                    c = core.bin.cycles_per_job(width * (self.r if j.kind == "hr" else 1), j.kind == "up")
                total += c + self.JOB_GAP
        return total + width * height * self.colors

    def elaborate(self, platform):
        m = Module()
        colors, nm = self.colors, self.nmap
        en = Signal()                       # the core runs (nobody else has the RAM port)
        core = RowSerialCore(self.prog, self.max_width, nm, self.max_height)
        m.submodules.core = EnableInserter(en)(core)
        # (the link keeps width <= max_width and height <= max_height: only their low bits count)
        W, H = self.width[:len(core.width)], self.height[:len(core.height)]
        m.d.comb += [core.width.eq(W), core.height.eq(H)]

        m.submodules.ram = ram = SinglePortRAM(nm.ram_words, RAM_AW)
        m.submodules.bits = bits = BitsRAM(self.C, nm.bits_words, core.bits_aw)
        m.d.comb += [bits.raddr.eq(core.src.addr), core.src.data.eq(bits.rdata), bits.ren.eq(en),
                     bits.waddr.eq(core.dst.addr), bits.wbit.eq(core.dst.bit), bits.wdata.eq(core.dst.data),
                     bits.we.eq(en & core.dst.en)]

        # ---------------- receiver: pixels into the "pix" ring
        pr = nm.ram["pix"]
        rx_row = Signal(range(self.max_height + 1))   # row being received
        rx_x = Signal(range(self.max_width + 1))
        rx_slot = Signal(range(pr.depth))
        rx_base = Signal(RAM_AW, init=pr.base)   # word address of the next byte
        # the bytes come one by one (the link sends them so: no pixel assembled on either side);
        # each is written in the cycle after it is taken
        rx_byte = Signal(8)
        kc = Signal(range(max(colors, 2)))  # colour of the byte in rx_byte
        rx_write = Signal()
        # flow control without comparing row numbers: slack = period + 1 + RX_AHEAD - rx_row, moved
        # by the core's period steps and the rows received (-1 <= slack <= n + RX_AHEAD + 4); rx_all:
        # the whole frame is in (rx_row == H)
        slack = Signal(range(-2, self.n + RX_AHEAD + 6), init=1 + RX_AHEAD)
        rx_all = Signal()
        row_done = Signal()                 # the byte being written ends a row
        pstep = Signal()
        m.d.comb += pstep.eq(core.period_step & en)
        m.d.sync += slack.eq(slack + pstep - row_done)
        ahead = Signal()
        m.d.comb += ahead.eq(~rx_all & (slack >= 0))
        # period t needs the rows up to t + 1: rx_row >= t + 2, i.e. slack <= RX_AHEAD - 1 (not in the
        # cycle of a period step: slack counts it one cycle later)
        m.d.comb += core.rows_ok.eq(~core.period_step & (rx_all | (slack <= RX_AHEAD - 1)))
        # parameter bytes (i_param): u16 address, then u16 words, little-endian; pph: the next byte
        # is the address's low / high byte, a word's low / high byte (the high byte writes)
        rparam = Signal()                   # the byte in rx_byte is a parameter byte
        pph = Signal(2)
        pa = Signal(RAM_AW)
        plo = Signal(8)
        m.d.comb += self.i.ready.eq(~rx_write & (self.i_param | ahead))
        m.d.sync += rx_write.eq(self.i.valid & self.i.ready)
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [rx_byte.eq(self.i.payload), rparam.eq(self.i_param)]
        with m.If(~self.i_param & ~rx_write):
            m.d.sync += pph.eq(0)
        with m.If(rx_write & rparam):
            with m.Switch(pph):
                with m.Case(0):
                    m.d.sync += [pa[:8].eq(rx_byte), pph.eq(1)]
                with m.Case(1):
                    m.d.sync += [pa[8:].eq(rx_byte), pph.eq(2)]
                with m.Case(2):
                    m.d.sync += [plo.eq(rx_byte), pph.eq(3)]
                with m.Case(3):
                    m.d.sync += [pa.eq(pa + 1), pph.eq(2)]
        # rx_x + 1 == W as a flag one cycle behind rx_x: bytes are written at most every other
        # cycle, so the flag has caught up by the next write (W is set long before the frame)
        rx_xlast = Signal()
        m.d.sync += rx_xlast.eq(rx_x + 1 == W)
        with m.If(rx_write & ~rparam):
            m.d.sync += [kc.eq(Mux(kc == colors - 1, 0, kc + 1)), rx_base.eq(rx_base + 1)]
            with m.If(kc == colors - 1):
                with m.If(rx_xlast):
                    m.d.comb += row_done.eq(1)
                    m.d.sync += [rx_x.eq(0), rx_row.eq(rx_row + 1), rx_all.eq(rx_row + 1 == H),
                                 rx_slot.eq(Mux(rx_slot == pr.depth - 1, 0, rx_slot + 1)),
                                 rx_base.eq(Array(Const(b, RAM_AW) for b in pr.slot_bases())[
                                     Mux(rx_slot == pr.depth - 1, 0, rx_slot + 1)])]
                with m.Else():
                    m.d.sync += rx_x.eq(rx_x + 1)
        with m.If(core.frame_done):
            m.d.sync += [rx_row.eq(0), rx_x.eq(0), rx_slot.eq(0), rx_base.eq(pr.base), rx_all.eq(0),
                         slack.eq(1 + RX_AHEAD)]

        # ---------------- RAM port: the receiver (pixel bytes, parameter words), then the core
        # (hw/rowserial/ram.py: the UP5K's SPRAM; its read data stay while others hold the port)
        ram_addr, ram_we, ram_wdata = Signal(RAM_AW), Signal(), Signal(16)
        with m.If(rx_write & rparam):
            m.d.comb += [ram_addr.eq(pa), ram_wdata.eq(Cat(plo, rx_byte)), ram_we.eq(pph == 3), en.eq(0)]
        with m.Elif(rx_write):
            m.d.comb += [ram_addr.eq(rx_base), ram_wdata.eq(rx_byte), ram_we.eq(1), en.eq(0)]
        with m.Else():
            m.d.comb += [ram_addr.eq(core.ram.addr), ram_wdata.eq(core.ram.wdata), ram_we.eq(core.ram.we), en.eq(1)]
        m.d.comb += [ram.addr.eq(ram_addr), ram.wdata.eq(ram_wdata), ram.we.eq(ram_we), ram.re.eq(en)]
        m.d.comb += core.ram.rdata.eq(ram.rdata)
        # the output stream crosses the enable boundary: no transfer while the core is frozen
        m.d.comb += [self.o.valid.eq(core.o.valid & en), self.o.payload.eq(core.o.payload),
                     core.o.ready.eq(self.o.ready & en)]
        return m
