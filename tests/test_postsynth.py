"""Post-synthesis proof (sim/postsynth.py): the netlists of synth_ice40 and synth_ecp5, simulated in
Icarus with yosys' cell models (plus our DP16KD / MULT18X18D models), in strict mode (flip-flops and
written RAMs power up X, same-edge read/write collisions are X, an X on any flip-flop or RAM control
input after reset stops the run); the UP5K row-serial netlist (synth_ice40 -dff) from random
concrete power-up states instead of X (sim/postsynth.py power_up says why).

- the UART end-to-end testbench (sim/tb_accel_uart.py, the one the RTL runs in test_e2e_uart.py)
  on the whole accelerator, reset as a board top resets it (BoardReset: a reset-less sync domain,
  the power-on reset as the accelerator's `por`, so the dataflow network is reset through its
  reset tree alone and strict mode would stop on any of its flip-flops left X): identify, an image in three stripes (the seams), a corrupted frame ->
  NACK -> resent frame ACKed, STATUS; every output pixel equal to the golden model, and the run
  as many cycles long as the RTL's;
- controls showing that strict mode does catch what it claims to catch (a register that relies on
  its power-up value, an X reaching a flip-flop enable, a RAM read before it is written), and that
  ROMs keep their contents;
- the block RAM models against the RTL on random traffic with read/write collisions (the ECP5
  DP16KD model is ours: yosys ships it as a blackbox).

Times on this 2-core machine are in docs/boards.md ("Post-synthesis proof").
"""
import numpy as np
import pytest
import torch
from amaranth import Module, Signal
from amaranth.hdl import signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.accelerator import Accelerator, BuildConfig
from hw.fold import auto_fold
from sim.postsynth import NETWORK_XCHECK_AFTER_NS, run_postsynth, strict_netlist
from sim.runner import SimFailure, run_cocotb
from sw import golden
from sw.compiler import compile_model
from sw.config import ModelConfig

from conftest import BoardReset, random_network

CLK = 100_000_000
FAMILIES = ["ice40", "ecp5"]


# --------------------------------------------------------------------------- end to end
def e2e_case(task="denoise", scale=1, channels=2, units=1, colors=1, shape=(4, 12), max_width=9, max_payload=24,
             seed=5, arch="dataflow", board_reset=False):
    """A small accelerator (UART at clk/4) and one noise image of `shape` that needs >= 2 stripes
    and >= 2 frames per stripe (the corrupted one is the second). The default is the design that
    fits the iCEBreaker (docs/boards.md): a grayscale denoiser, C = 2, one BBCU-B unit; the image
    is 4 x 12 in three stripes of at most 9 pixels (halo 3), two 2-row frames each."""
    cfg = ModelConfig(task, scale, channels, units, colors=colors)
    prog = compile_model(random_network(cfg, seed), [torch.rand(1, colors, 16, 16)])
    build = BuildConfig(max_width=max_width, max_height=64, max_payload=max_payload, clock_hz=CLK, baud=CLK // 4,
                        timeout_ms=0.05, arch=arch)
    img = np.random.default_rng(seed).integers(0, 256, (*shape, colors), dtype=np.uint8)
    vectors = {"img": img, "img_expected": golden.run(prog, img)}
    if arch == "rowserial":
        from hw.rowserial.memmap import NetworkMap
        vectors["param_image"] = NetworkMap(prog, max_width).param_image(prog)
    params = {"baud": CLK // 4, "hash": prog.content_hash, "images": ["img"]}
    top = (BoardReset if board_reset else Accelerator)(prog, build, auto_fold(prog))
    return top, vectors, params


@pytest.fixture(scope="module")
def rtl_e2e():
    """The same testbench on the RTL (Amaranth's Verilog): its run length in ns."""
    top, vectors, params = e2e_case()
    return run_cocotb(top, "accel_rtl", "sim.tb_accel_uart", vectors, params)


@pytest.mark.parametrize("family", FAMILIES)
def test_accelerator_netlist_end_to_end(family, rtl_e2e):
    top, vectors, params = e2e_case(board_reset=True)
    res = run_postsynth(top, "accel", family, "sim.tb_accel_uart", vectors, params,
                        xcheck_after_ns=NETWORK_XCHECK_AFTER_NS)
    ps = res["postsynth"]
    assert res["status"]["crc_errors"] == 1
    assert ps["strict"] and ps["ram_blocks"] > 0 and ps["x_checks"] > 100
    assert sum(v for k, v in ps["cells"].items() if "DFF" in k or k == "TRELLIS_FF") > 1000
    if family == "ecp5":            # the board build's output-register pass is in the proof
        assert ps["outreg"]["flip_flops"] > 0 and ps["outreg"]["dsp"]["flip_flops"] > 0, ps["outreg"]
    # cycle-exact with the RTL: the same number of cycles to the last byte of the STATUS reply
    assert res["sim_ns"] == rtl_e2e["sim_ns"]


ROWSERIAL = dict(task="sr", scale=2, channels=4, units=1, colors=1, shape=(3, 14), max_width=10, max_payload=40,
                 arch="rowserial")


ROWSERIAL_POWER_UP_SEEDS = (1, 2)


@pytest.fixture(scope="module")
def rowserial_rtl():
    top, vectors, params = e2e_case(**ROWSERIAL)
    return run_cocotb(top, "accel_rs_rtl", "sim.tb_accel_uart", vectors, params)


@pytest.mark.parametrize("seed", ROWSERIAL_POWER_UP_SEEDS)
def test_rowserial_netlist_end_to_end(seed, rowserial_rtl):
    """The iCEBreaker's architecture (hw/rowserial) as the board builds it: synth_ice40 -dsp -spram
    -dff with the RAM as SB_SPRAM256KA instances (their contents undefined until the host's PARAMS
    frames, as on the device), strict mode with every flip-flop at a random concrete power-up value
    (one set per seed; an X power-up state is not resolvable here, sim/postsynth.py says why). The
    testbench loads the parameter image over the UART (a stripe before it is refused), then restores
    an x2 image in stripes, bit-exact with the golden model, in as many cycles as the RTL."""
    rtl = rowserial_rtl
    top, vectors, params = e2e_case(**ROWSERIAL, board_reset=True)
    res = run_postsynth(top, "accel_rs", "ice40", "sim.tb_accel_uart", vectors, params, spram=True, power_up=seed)
    ps = res["postsynth"]
    assert ps["cells"].get("SB_SPRAM256KA", 0) >= 1, ps["cells"]
    assert ps["strict"] and ps["power_up"] == seed and ps["x_checks"] > 100
    assert res["status"]["crc_errors"] == 1
    assert res["sim_ns"] == rtl["sim_ns"]


# --------------------------------------------------------------------------- controls
class Unreset(wiring.Component):
    """A counter that is never reset: only its init value (the FPGA's power-up state) defines it."""
    o: Out(8)

    def elaborate(self, platform):
        m = Module()
        r = Signal(8, init=0x5A, reset_less=True)
        m.d.sync += r.eq(r + 1)
        m.d.comb += self.o.eq(r)
        return m


class XEnable(wiring.Component):
    """A reset counter whose enable comes from an unreset register: in hardware it counts or not
    depending on the power-up state; the models' `if (E)` would silently read X as "hold"."""
    load: In(1)
    d: In(1)
    o: Out(8)

    def elaborate(self, platform):
        m = Module()
        x = Signal(reset_less=True)           # loaded from `d` on `load`; the test never loads it
        r = Signal(8)
        with m.If(self.load):
            m.d.sync += x.eq(self.d)
        with m.If(x):
            m.d.sync += r.eq(r + 1)
        m.d.comb += self.o.eq(r)
        return m


class MemProbe(wiring.Component):
    """One memory with a write port (unless `rom`) and a read port with enable."""

    def __init__(self, width: int, depth: int, init=(), transparent: bool = False, rom: bool = False,
                 out_reg: bool = False, oe_low: bool = False):
        self.width, self.depth, self.init, self.transparent, self.rom = width, depth, list(init), transparent, rom
        # out_reg: the read as hw/ram_read.registered_read does it (no_rw_check: a read never needs a
        # word written in the same cycle), then rdata from a reset-less register loaded on `oe`
        self.out_reg, self.oe_low = out_reg, oe_low     # oe_low: the register loads while oe is 0
        sig = {"raddr": In(range(depth)), "re": In(1), "rdata": Out(width)}
        if not rom:
            sig.update({"waddr": In(range(depth)), "we": In(1), "wdata": In(width)})
        if out_reg:
            sig["oe"] = In(1)
        super().__init__(sig)

    def elaborate(self, platform):
        m = Module()
        if self.out_reg:
            from hw.ram_read import NO_RW_CHECK, registered_read

            m.submodules.mem = mem = Memory(shape=unsigned(self.width), depth=self.depth, init=self.init,
                                            attrs=NO_RW_CHECK)
            wp = mem.write_port()
            m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we)]
            rd, q = registered_read(m, mem, self.re, "rq")
            q2 = Signal(self.width, reset_less=True)
            with m.If(~self.oe if self.oe_low else self.oe):
                m.d.sync += q2.eq(q)
            m.d.comb += [rd.addr.eq(self.raddr), self.rdata.eq(q2)]
            return m
        m.submodules.mem = mem = Memory(shape=unsigned(self.width), depth=self.depth, init=self.init)
        tr = ()
        if not self.rom:
            wp = mem.write_port()
            m.d.comb += [wp.addr.eq(self.waddr), wp.data.eq(self.wdata), wp.en.eq(self.we)]
            tr = (wp,) if self.transparent else ()
        rp = mem.read_port(transparent_for=tr)
        m.d.comb += [rp.addr.eq(self.raddr), rp.en.eq(self.re), self.rdata.eq(rp.data)]
        return m


def probe(component, name, family, stim, inputs, outputs, strict=True, power_up=None):
    params = {"inputs": inputs, "outputs": outputs}
    vec = {"stim": np.asarray(stim, dtype=np.int64).reshape(len(stim), len(inputs))}
    if family == "rtl":
        return run_cocotb(component, name, "sim.tb_probe", vec, params)["outputs"]
    return run_postsynth(component, name, family, "sim.tb_probe", vec, params, strict=strict,
                         power_up=power_up)["outputs"]


@pytest.mark.parametrize("family", FAMILIES)
def test_strict_mode_catches_power_up_reliance(family):
    """An unreset register is X in strict mode (and its init value in the plain models); an X that
    reaches a flip-flop enable stops the strict run; a RAM read before it is written is X in strict
    mode; a ROM keeps its contents."""
    stim = [[0]] * 4               # two reset edges, then one edge per row
    assert probe(Unreset(), "unreset", family, stim, ["rst"], ["o"], strict=False)["o"] == [0x5D, 0x5E, 0x5F, 0x60]
    assert probe(Unreset(), "unreset", family, stim, ["rst"], ["o"])["o"] == [-1] * 4
    # an X that only reaches a flip-flop's enable: the non-strict models read it as "hold"
    assert probe(XEnable(), "xenable", family, stim, ["load"], ["o"], strict=False)["o"] == [0] * 4
    with pytest.raises(SimFailure, match="unknown control input after reset"):
        probe(XEnable(), "xenable", family, stim, ["load"], ["o"])
    # random concrete power-up values (power_up=SEED): the unreset counter starts somewhere else for
    # each seed, so comparing against the expected output over a few seeds exposes the reliance
    starts = set()
    for seed in (1, 2, 3):
        o = probe(Unreset(), "unreset", family, stim, ["rst"], ["o"], power_up=seed)["o"]
        assert min(o) >= 0 and [(v - o[0]) % 256 for v in o] == [0, 1, 2, 3]
        starts.add(o[0])
    assert len(starts) > 1

    depth, init = 512, [(7 * i + 3) % 256 for i in range(512)]
    # write 0x11 at address 5, then read addresses 5 and 6
    stim = [[5, 1, 0x11, 0, 0], [0, 0, 0, 5, 1], [0, 0, 0, 6, 1], [0, 0, 0, 6, 1]]
    cols = ["waddr", "we", "wdata", "raddr", "re"]
    ram = MemProbe(8, depth, init)
    assert probe(ram, "ram", family, stim, cols, ["rdata"], strict=False)["rdata"][1:] == [0x11, init[6], init[6]]
    assert probe(ram, "ram", family, stim, cols, ["rdata"])["rdata"][1:] == [0x11, -1, -1]
    rom = MemProbe(8, depth, init, rom=True)
    got = probe(rom, "rom", family, [[a, 1] for a in (5, 6, 300, 511)], ["raddr", "re"], ["rdata"])["rdata"]
    assert got == [init[a] for a in (5, 6, 300, 511)]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("width,transparent", [(8, False), (16, True), (32, False)])
def test_block_ram_models_match_rtl(family, width, transparent):
    """Random writes and reads on a few addresses (many same-cycle read/write collisions): the
    strict netlist simulation gives exactly the RTL's outputs, so yosys never relies on what the
    block RAMs leave undefined, and our DP16KD model agrees with the RTL semantics."""
    depth = 512
    rng = np.random.default_rng(width)
    n = 300
    stim = np.stack([rng.integers(0, 6, n), rng.integers(0, 2, n), rng.integers(0, 1 << width, n),
                     rng.integers(0, 6, n), rng.random(n) < 0.8], axis=1)
    stim[:8] = [[a, 1, 17 * a + 1, 0, 0] for a in range(6)] + [[0, 0, 0, 0, 0]] * 2   # write before reading
    cols = ["waddr", "we", "wdata", "raddr", "re"]
    mp = MemProbe(width, depth, transparent=transparent)
    want = probe(mp, f"mem{width}", "rtl", stim, cols, ["rdata"])["rdata"]
    got = probe(mp, f"mem{width}", family, stim, cols, ["rdata"])["rdata"]
    first = 7                      # outputs before the first enabled read are the power-up latch
    assert got[first:] == want[first:]


@pytest.mark.parametrize("width,oe_low", [(8, False), (16, False), (32, False), (16, True)])
def test_block_ram_output_registers_match_rtl(width, oe_low):
    """boards/outreg.py moves the reset-less register behind a block RAM's read (hw/ram_read.py) into the
    DP16KD's output register (REGMODE OUTREG, its enable on OCE); 32 bits is the pseudo-dual-port
    x36 mode (both halves, CLKB / OCEB). Random reads, writes and output enables: the strict
    netlist simulation after the pass gives exactly the RTL's outputs."""
    from sim.postsynth import synthesize

    depth = 512
    rng = np.random.default_rng(width + 1)
    n = 300
    stim = np.stack([rng.integers(0, 6, n), rng.integers(0, 2, n), rng.integers(0, 1 << width, n),
                     rng.integers(0, 6, n), rng.random(n) < 0.8, rng.random(n) < 0.7], axis=1)
    stim[:8] = [[a, 1, 17 * a + 1, 0, 0, 0] for a in range(6)] + [[0, 0, 0, 0, 0, 0]] * 2
    clash = (stim[:, 1] == 1) & (stim[:, 0] == stim[:, 3])      # no_rw_check: never a same-cycle clash
    stim[clash, 3] = (stim[clash, 3] + 1) % 6
    cols = ["waddr", "we", "wdata", "raddr", "re", "oe"]
    mp = MemProbe(width, depth, out_reg=True, oe_low=oe_low)
    name = f"memo{width}" + ("n" if oe_low else "")
    syn = synthesize(mp, name, "ecp5")
    assert syn["outreg"]["flip_flops"] == width and syn["cells"].get("TRELLIS_FF", 0) == 0, syn
    assert 'REGMODE_B("OUTREG")' in syn["netlist"].read_text()
    want = probe(mp, name, "rtl", stim, cols, ["rdata"])["rdata"]
    got = probe(mp, name, "ecp5", stim, cols, ["rdata"])["rdata"]
    load = stim[1:, 5] == (0 if oe_low else 1)
    first = int(np.argmax((stim[:, 4] == 1)[:-1] & load)) + 2   # the register's first load
    assert got[first:] == want[first:]


class MulProbe(wiring.Component):
    """A signed 12 x 16-bit product into a reset-less register loaded on `en` (or while `en` is 0),
    as the network's products are (hw/mul.split_mul, hw/scale.py): yosys maps it onto a
    MULT18X18D, boards/outreg.py makes the register the DSP block's output register."""

    def __init__(self, en_low: bool = False):
        self.en_low = en_low
        super().__init__({"a": In(signed(12)), "b": In(signed(16)), "en": In(1), "p": Out(signed(28))})

    def elaborate(self, platform):
        m = Module()
        ra, rb = Signal(signed(12)), Signal(signed(16))
        q = Signal(signed(28), reset_less=True)
        m.d.sync += [ra.eq(self.a), rb.eq(self.b)]
        with m.If(~self.en if self.en_low else self.en):
            m.d.sync += q.eq(ra * rb)
        m.d.comb += self.p.eq(q)
        return m


@pytest.mark.parametrize("en_low", [False, True])
def test_dsp_output_registers_match_rtl(en_low):
    """boards/outreg.py moves the reset-less product register into the MULT18X18D's output register
    (REG_OUTPUT_CLK CLK0, its enable on CE0; an enable loading while low through a LUT4 inverter).
    Random operands (with the extremes) and enables: the strict netlist simulation after the pass
    gives exactly the RTL's outputs from the register's first load on."""
    from sim.postsynth import synthesize

    rng = np.random.default_rng(7 + en_low)
    n = 200
    stim = np.stack([rng.integers(-2048, 2048, n), rng.integers(-32768, 32768, n), rng.random(n) < 0.6], axis=1)
    stim[2:6, :2] = [[-2048, -32768], [2047, 32767], [-2048, 32767], [0, -1]]
    cols = ["a", "b", "en"]
    mp = MulProbe(en_low)
    name = "mulo" + ("n" if en_low else "")
    syn = synthesize(mp, name, "ecp5")
    assert syn["outreg"]["dsp"] == {"blocks": 1, "flip_flops": 28, "skipped": {}}, syn["outreg"]
    text = syn["netlist"].read_text()
    assert 'REG_OUTPUT_CLK("CLK0")' in text and syn["cells"].get("TRELLIS_FF") == 28, syn["cells"]   # (ra, rb)
    want = probe(mp, name, "rtl", stim, cols, ["p"])["p"]
    got = probe(mp, name, "ecp5", stim, cols, ["p"])["p"]
    load = stim[:-1, 2] == (0 if en_low else 1)
    first = int(np.argmax(load[1:])) + 3                        # operands registered, then the product
    assert got[first:] == want[first:] and len(set(want[first:])) > 10


def test_strict_netlist_classifies_ram_and_rom():
    text = ("  SB_RAM40_4K #(\n    .INIT_0(256'h0001),\n    .READ_MODE(32'd0)\n  ) ram  (\n    .WCLKE(en),\n"
            "    .WE(1'h1)\n  );\n  SB_RAM40_4K #(\n    .INIT_0(256'h0002)\n  ) rom  (\n    .WCLKE(1'h0),\n"
            "    .WE(1'h0)\n  );\n")
    out, found = strict_netlist(text)
    assert found == {"ram": ["ram"], "rom": ["rom"]}
    assert ".INIT_0(256'bx)" in out and ".INIT_0(256'h0002)" in out and ".READ_MODE(32'd0)" in out


def test_masked_ram_ice40_instances_match_model():
    """hw/masked_ram.MaskedRAM (the binary engine's tap RAM, the link's counter bank): random bit-masked writes over a 2,304 x 32-bit memory (all
    nine banks, bank edges, a few hot words) and reads with read-enable holds, never of the word
    written in the same cycle (as the row-serial network uses it). The RTL path (lib.memory) and
    the iCE40 netlist (SB_RAM40_4K instances in 256 x 16 mode, strict models: unwritten bits are X)
    both equal a Python model on every read of a fully written word."""
    from hw.masked_ram import MaskedRAM
    depth, width = 2304, 32
    full = (1 << width) - 1
    rng = np.random.default_rng(11)
    n = 400
    hot = [0, 255, 256, 1023, 2047, 2303]
    addrs = [int(a) for a in rng.integers(0, depth, n // 2)] + [hot[i % 6] for i in range(n // 2)]
    rng.shuffle(addrs)
    val, known = {}, {}
    stim, want = [], []
    held = None
    for t in range(n):
        wa = addrs[t]
        wen = int(rng.integers(0, 1 << width)) | (full if rng.random() < 0.2 else 0) if rng.random() < 0.7 else 0
        wd = int(rng.integers(0, 1 << width))
        ra = hot[int(rng.integers(0, 6))] if rng.random() < 0.7 else addrs[int(rng.integers(0, t + 1))]
        if ra == wa and wen:
            ra = (ra + 1) % depth
        ren = int(rng.random() < 0.8)
        stim.append([ra, ren, wa, wd, wen])
        if ren:                                     # the read sees the words before this cycle's write
            held = val.get(ra) if known.get(ra, 0) == full else None
        want.append(held)
        if wen:
            val[wa] = (val.get(wa, 0) & ~wen) | (wd & wen)
            known[wa] = known.get(wa, 0) | wen
    _check_ram(MaskedRAM(width, depth, 12), "bitsram", stim, ["raddr", "ren", "waddr", "wdata", "wen"], want, 100)


def _check_ram(ram, name, stim, cols, want, min_checked):
    """The RTL and the iCE40 netlist of `ram` give `want` (None: not checked) on every cycle."""
    for family in ("rtl", "ice40"):
        got = probe(ram, f"{name}_{family}", family, stim, cols, ["rdata"])["rdata"]
        checked = [(t, g, w) for t, (g, w) in enumerate(zip(got, want)) if w is not None]
        bad = [c for c in checked if c[1] != c[2]]
        assert not bad and len(checked) > min_checked, (family, bad[:3], len(checked))


@pytest.mark.parametrize("depth", [2240, 2800, 600])
def test_bits_ram_ice40_instances_match_model(depth):
    """hw/bits_ram.BitsRAM (the row-serial bits memory, one bit written per cycle): 2,240 words is
    x2-tiny's (a 2048 x 2 region and a 256 x 16 one), 2,800 ends in a 1024 x 4 region, 600 is one
    1024 x 4 region. A few words on region and block edges are filled bit by bit, then random
    single-bit writes and reads (with read-enable holds, never of the word written in the same
    cycle). The RTL path (lib.memory) and the iCE40 netlist (strict models: unwritten bits are X)
    both equal a Python model on every read of a fully written word."""
    from hw.bits_ram import BitsRAM, regions
    width = 32
    full = (1 << width) - 1
    rng = np.random.default_rng(depth)
    edges = sorted({a for base, words, _ in regions(width, depth)
                    for a in (base, base + 1, base + 255, base + 256, base + words - 1) if a < depth})
    hot = edges + [int(a) for a in rng.integers(0, depth, 4)]
    val, known = {}, {}
    stim, want = [], []
    held = None

    def step(ra, ren, wa, wb, wd, we):
        nonlocal held
        stim.append([ra, ren, wa, wb, wd, we])
        if ren:                                     # the read sees the words before this cycle's write
            held = val.get(ra) if known.get(ra, 0) == full else None
        want.append(held)
        if we:
            val[wa] = (val.get(wa, 0) & ~(1 << wb)) | (wd << wb)
            known[wa] = known.get(wa, 0) | (1 << wb)

    for a in hot:                                   # fill the hot words, reading the previous one
        for b in rng.permutation(width):
            step(hot[0] if a != hot[0] else hot[-1], int(rng.random() < 0.8), a, int(b), int(rng.integers(0, 2)), 1)
    for _ in range(600):
        wa = hot[int(rng.integers(0, len(hot)))]
        ra = hot[int(rng.integers(0, len(hot)))]
        we = int(rng.random() < 0.7)
        if ra == wa and we:
            ra = hot[(hot.index(ra) + 1) % len(hot)]
        step(ra, int(rng.random() < 0.8), wa, int(rng.integers(0, width)), int(rng.integers(0, 2)), we)
    _check_ram(BitsRAM(width, depth, 12), f"bits_{depth}", stim, ["raddr", "ren", "waddr", "wbit", "wdata", "we"],
               want, 300)
