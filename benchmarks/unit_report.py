"""Per-unit resource report: analytical resource_estimate() beside yosys for iCE40 and ECP5.

    .venv/bin/python benchmarks/unit_report.py [--only UNIT ...] [--arch ice40|ecp5 ...]
                                               [--reuse] [--no-docs] [--timeout S]

Every unit is instantiated at the size it has in the shipped network (models/x2-tiny: SR x2,
C = 32, n = 8) with the fold of hw.fold.auto_fold(prog) and the accelerator's BuildConfig
(LR stripe width 64, height 2048, 48 MHz, 3 Mbaud), converted to Verilog and synthesised with
YoWASP yosys (`synth_ice40 -dsp`, `synth_ecp5`) in build/unit_report/<unit>/.

A full run (no --only, both architectures) prints the table and writes docs/units.json and the
"Resource figures" section at the end of docs/units.md (the rest of that file is kept). With
--only / --arch the table is printed and, unless --no-docs, the selected rows are merged into
docs/units.json (other rows kept) and the section regenerated from it.
--reuse takes a unit's yosys figures from build/unit_report/<unit>/ when the Verilog there is
byte-identical to what the unit generates now (e.g. after editing only a resource_estimate()).

Resource columns: iCE40 LUT = SB_LUT4 (SB_CARRY shares a logic cell with its LUT), EBR =
SB_RAM40_4K, DSP = SB_MAC16; ECP5 LUT = LUT4 + 2 * CCU2C + 4 * TRELLIS_DPR16X4 (a carry cell
and a 16x4 distributed RAM occupy two / four LUT4 sites), DP16KD block RAMs, DSP = MULT18X18D
(+ ALU54B). FF counts every flip-flop cell.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
# resource_estimate() of composite units builds throw-away sub-units: not a design problem
warnings.filterwarnings("ignore", message=".*created but never used")

from benchmarks.synth import synth_verilog, synthesize  # noqa: E402

PROGRAM = ROOT / "models" / "x2-tiny" / "program.safetensors"
BUILD = ROOT / "build" / "unit_report"
DOC_MD = ROOT / "docs" / "units.md"
DOC_JSON = ROOT / "docs" / "units.json"
ARCHS = ("ice40", "ecp5")
SECTION = "## Resource figures"

# popcount cost per binary MAC lane (benchmarks/popcount_cost.py, 576-lane "carry" engine,
# cin = cout = 64, pe = 1) and the bare register-per-level tree of ../shared/notes/budgets.md
POPCOUNT_576 = {"lanes": 576, "ecp5_lut": 1709, "ice40_lut": 1341, "bare_tree_ecp5_lut": 3058}


# --------------------------------------------------------------------------- the units
def units(prog, fold, build) -> list[tuple[str, str, object, dict]]:
    """(key, unit label, component factory, parameters) for every unit at its size in the network."""
    from hw import layouts
    from hw.accelerator import identity_for
    from hw.bbcu_layer import BBCULayer
    from hw.bilinear import BilinearSkip
    from hw.feature_window import FeatureWindow
    from hw.fork import Broadcast
    from hw.head import HeadConv
    from hw.link import LinkCore
    from hw.popcount import PopcountEngine
    from hw.residual import ResidualAdd
    from hw.rowserial.bin_engine import BinRowEngine
    from hw.scale import ScaleRPReLU
    from hw.tail import TailConv
    from hw.threshold import Threshold
    from hw.upsample import NearestUpsample
    from hw.uart import UartRx, UartTx

    cfg, fmt = prog.config, prog.fmt
    C, colors, r = cfg.channels, cfg.colors, cfg.scale
    mw, mh = build.max_width, build.max_height
    bl = prog.binary_layers
    ib = 0                                                    # first BBCU-B layer (LR)
    iu = next(i for i, l in enumerate(bl) if l.r > 1)         # the BBCU-U layer
    lb, lu = bl[ib], bl[iu]
    fb, fu = fold.layers[ib], fold.layers[iu]
    from hw.bbcu_layer import layer_window
    wsub = layer_window(lb, fb, mw, mh).sub
    divisor = round(build.clock_hz / build.baud)
    timeout = max(64, int(build.clock_hz * build.timeout_ms / 1000))
    fw = f"FW={fmt.bits}"
    # sizes as hw/network.py and hw/accelerator.py build them
    return [
        ("threshold", "Threshold", lambda: Threshold(lb.thresh, fmt, 1),
         {"C": lb.cin, "lanes": 1, "fmt": fw}),
        ("window", "WindowGen", lambda: layer_window(lb, fb, mw, mh),
         {"E": lb.cin, "max_width": mw, "max_height": mh, "replay": lb.r, "sub": wsub}),
        ("feature_window", "FeatureWindow", lambda: FeatureWindow(C, fmt, mw * r, mh * r),
         {"C": C, "max_width": mw * r, "max_height": mh * r, "fmt": fw}),
        ("popcount_b", "PopcountEngine (BBCU-B)",
         lambda: PopcountEngine(lb.weight_bits(), lb.cin, fb.simd, fb.pe, passes=lb.r, max_width=mw),
         {"cin": lb.cin, "cout": lb.cout, "simd": fb.simd, "pe": fb.pe, "passes": lb.r}),
        ("popcount_u", "PopcountEngine (BBCU-U)",
         lambda: PopcountEngine(lu.weight_bits(), lu.cin, fu.simd, fu.pe, passes=lu.r, max_width=mw),
         {"cin": lu.cin, "cout": lu.cout, "simd": fu.simd, "pe": fu.pe, "passes": lu.r}),
        ("scale_dsp", "ScaleRPReLU (dsp)", lambda: ScaleRPReLU(lb, fmt, "dsp"),
         {"cin": lb.cin, "cout": lb.cout, "mult": "dsp", "fmt": fw}),
        ("scale_shiftadd", "ScaleRPReLU (shiftadd)", lambda: ScaleRPReLU(lb, fmt, "shiftadd"),
         {"cin": lb.cin, "cout": lb.cout, "mult": "shiftadd", "fmt": fw}),
        ("residual", "ResidualAdd", lambda: ResidualAdd(fmt), {"fmt": fw}),
        ("upsample", "NearestUpsample", lambda: NearestUpsample(lu.cin, lu.r, fmt, mw, mh),
         {"C": lu.cin, "r": lu.r, "max_width": mw, "fmt": fw}),
        ("broadcast", "Broadcast", lambda: Broadcast(layouts.feature(fmt)), {"payload": f"feature ({fmt.bits} bits)"}),
        ("head", "HeadConv", lambda: HeadConv(prog.head, fmt, colors, fold.head_macs),
         {"colors": colors, "C": C, "macs": fold.head_macs, "act": prog.head.act}),
        ("tail", "TailConv", lambda: TailConv(prog.tail, fmt, C, colors),
         {"C": C, "colors": colors, "in_act": prog.tail.in_act}),
        ("bilinear", "BilinearSkip",
         lambda: BilinearSkip(prog.tail.r, colors, mw, mh, mode="bilinear" if prog.tail.skip == "bilinear" else "identity"),
         {"r": prog.tail.r, "colors": colors, "max_width": mw, "mode": prog.tail.skip}),
        ("uart_rx", "UartRx", lambda: UartRx(divisor), {"divisor": divisor}),
        ("uart_tx", "UartTx", lambda: UartTx(divisor), {"divisor": divisor}),
        ("link", "LinkCore", lambda: LinkCore(identity_for(prog, build), timeout),
         {"max_payload": build.max_payload, "max_width": mw, "timeout_cycles": timeout}),
        ("rowserial_bin", "BinRowEngine (row-serial, every layer)", lambda: BinRowEngine(prog, mw),
         {"C": C, "lanes": C, "max_width": mw * r, "record_words": BinRowEngine(prog, mw).pl.record_words}),
        ("bbcu_layer", "BBCULayer (BBCU-B)", lambda: BBCULayer(lb, fmt, fb, mw, mh, fold.scale_mult),
         {"cin": lb.cin, "simd": fb.simd, "pe": fb.pe, "max_width": mw, "scale": fold.scale_mult}),
    ]


def fmt_params(p: dict) -> str:
    return ", ".join(f"{k}={v}" if not str(v).startswith(("FW=", "feature")) else str(v) for k, v in p.items())


# --------------------------------------------------------------------------- output
def ratio(est: float, got: float) -> float | None:
    if not got:
        return None if not est else float("inf")
    return est / got


def far(row: dict) -> list[str]:
    """Resources whose estimate is off by more than 2x from yosys on any architecture run."""
    out = []
    for k in ("lut", "ff"):
        rs = [ratio(row["estimate"][k], row[a][k]) for a in ARCHS if isinstance(row.get(a), dict) and "lut" in row[a]]
        rs = [x for x in rs if x is not None]
        if any(x > 2 or x < 0.5 for x in rs):
            out.append(k)
    return out


def cell(d, *keys) -> str:
    if not isinstance(d, dict) or "lut" not in d:
        return "failed" if isinstance(d, dict) and "error" in d else "-"
    return " / ".join(str(d[k]) for k in keys)


def print_header():
    hdr = f"{'unit':26s} {'est LUT/FF/BRAMb/DSP':>26s} {'iCE40 LUT/FF/EBR/DSP':>24s} {'ECP5 LUT/FF/DP16/DSP':>24s} {'s':>6s}"
    print(hdr)
    print("-" * len(hdr), flush=True)


def print_rows(rows: list[dict]):
    for r in rows:
        e = r["estimate"]
        est = f"{e['lut']}/{e['ff']}/{e['bram_bits']}/{e['dsp']}"
        ice = cell(r.get("ice40"), "lut", "ff", "bram", "dsp").replace(" ", "")
        ecp = cell(r.get("ecp5"), "lut", "ff", "bram", "dsp").replace(" ", "")
        flag = f"  <- >2x: {','.join(far(r))}" if far(r) else ""
        print(f"{r['unit']:26s} {est:>26s} {ice:>24s} {ecp:>24s} {r['seconds']:6.1f}{flag}", flush=True)
        for a in ARCHS:
            if isinstance(r.get(a), dict) and "error" in r[a]:
                print(f"    {a}: {r[a]['error'].splitlines()[0]}")


def markdown(rows: list[dict], total_s: float | None) -> str:
    lines = [
        SECTION,
        "Generated by `benchmarks/unit_report.py` (YoWASP yosys 0.70, `synth_ice40 -dsp` / `synth_ecp5`, "
        "no place and route); the numbers are also in `docs/units.json`. Every unit is built at its size "
        "in the shipped network `models/x2-tiny` (SR x2, C = 32, n = 8, 16-bit features) with the fold of "
        "`hw.fold.auto_fold` (BBCU-B engines simd 8, the BBCU-U and HR engines simd 32, pe 1; head macs 1; "
        "DSP scale) and the accelerator's `BuildConfig` (LR stripes up to 64 x 2048, 48 MHz, 3 Mbaud: "
        "UART divisor 16).",
        "",
        "Columns: estimate = `resource_estimate()` (LUT / FF / memory bits / DSP); iCE40 LUT = SB_LUT4 "
        "(an SB_CARRY shares its LUT's logic cell), EBR = SB_RAM40_4K (4 Kbit), DSP = SB_MAC16; ECP5 LUT = "
        "LUT4 + 2 x CCU2C + 4 x TRELLIS_DPR16X4, DP16KD = 18 Kbit block RAMs, DSP = MULT18X18D. The "
        "estimate's memory column counts every memory bit, but yosys builds the 32-word constant ROMs "
        "(threshold, scale and head constants) from LUTs, not block RAM; the estimates count those LUTs "
        "too. Yosys puts the 8x8 head product and the wider requantisation products on 16x16 SB_MAC16s "
        "(iCE40) or 18x18 MULT18X18Ds (ECP5), hence the different DSP counts; the estimates count ECP5 "
        "blocks.",
        "",
        "| unit | parameters | estimate LUT / FF / BRAM bits / DSP | iCE40 LUT / FF / EBR / DSP | ECP5 LUT / FF / DP16KD / DSP |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        e = r["estimate"]
        lines.append(f"| {r['unit']} | {fmt_params(r['params'])} | {e['lut']} / {e['ff']} / {e['bram_bits']} / {e['dsp']} "
                     f"| {cell(r.get('ice40'), 'lut', 'ff', 'bram', 'dsp')} | {cell(r.get('ecp5'), 'lut', 'ff', 'bram', 'dsp')} |")
    failed = [(r["unit"], a, r[a]["error"].splitlines()[0]) for r in rows for a in ARCHS
              if isinstance(r.get(a), dict) and "error" in r[a]]
    worked = sorted({(r["unit"], r[a]["workaround"]) for r in rows for a in ARCHS
                     if isinstance(r.get(a), dict) and r[a].get("workaround")})
    if worked:
        lines += ["", "Synthesised with a work-around for a yosys 0.70 assertion (`count_id(wire->name) == 0` in "
                  "ABC_OPS_REINTEGRATE on Amaranth's `$N` wire names, YosysHQ/yosys#4349): `splitnets` before "
                  "`map_luts` (checked on HeadConv, which synthesises either way: identical cell counts): "
                  + ", ".join(sorted({u for u, _ in worked})) + "."]
    if failed:
        lines += ["", "Failed to synthesise: " + "; ".join(f"{u} ({a}): {m}" for u, a, m in failed) + "."]
    p = POPCOUNT_576
    lines += [
        "",
        "The whole BBCU-B layer is the sum of its units (threshold, window, engine, scale, residual) plus "
        "the residual FIFO (`residual_fifo_depth` words of 16 bits, in block RAM) and a fork.",
        "",
        "**LUT cost per binary MAC lane.** The popcount engine's \"carry\" tree (3-lane XNOR full-adder "
        "leaves, then carry-chain adders that each absorb one more lane as carry-in, masked per tap "
        f"segment) measured by `benchmarks/popcount_cost.py` on a {p['lanes']}-lane engine (cin = cout = 64, "
        f"pe = 1, weight ROM and control included) takes {p['ecp5_lut']} ECP5 LUTs = "
        f"{p['ecp5_lut'] / p['lanes']:.2f} LUT/lane and {p['ice40_lut']} iCE40 LUT4 = "
        f"{p['ice40_lut'] / p['lanes']:.2f} LUT/lane, against about {p['bare_tree_ecp5_lut']} ECP5 LUTs "
        f"({p['bare_tree_ecp5_lut'] / p['lanes']:.1f}/lane) for the bare register-per-level XNOR tree of "
        "`../shared/notes/budgets.md`, i.e. about 0.56x the logic per lane. In this x2-tiny build the engines "
        "are narrow (8 and 32 lanes), so their fixed costs (fold multiplexer over the 9*cin-bit window, "
        "window register, serialiser, control) dominate; the table gives their absolute cost.",
    ]
    eng = [r for r in rows if r["key"].startswith("popcount_") and isinstance(r.get("ecp5"), dict) and "lut" in r["ecp5"]]
    if eng:
        parts = []
        for r in eng:
            lanes = r["params"]["simd"] * r["params"]["pe"]
            ice = r.get("ice40") if isinstance(r.get("ice40"), dict) and "lut" in r["ice40"] else None
            s = f"{r['unit']}: {lanes} lanes, ECP5 {r['ecp5']['lut'] / lanes:.1f} LUT/lane"
            if ice:
                s += f", iCE40 {ice['lut'] / lanes:.1f}"
            parts.append(s)
        lines[-1] += " Whole engine per lane here: " + "; ".join(parts) + "."
    if total_s is not None:
        lines += ["", f"Synthesis time: {total_s:.0f} s for all units and both architectures on this machine "
                  "(2 shared cores; per-unit seconds in `docs/units.json`)."]
    return "\n".join(lines) + "\n"


def write_docs(rows: list[dict], total_s: float | None):
    DOC_JSON.write_text(json.dumps(rows, indent=1) + "\n")
    text = DOC_MD.read_text()
    i = text.find(SECTION)
    if i < 0:
        head = text.rstrip("\n") + "\n\n"
    else:
        head = text[:i]
    DOC_MD.write_text(head + markdown(rows, total_s))


# --------------------------------------------------------------------------- main
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", metavar="UNIT", help="unit keys or class names (see --list)")
    ap.add_argument("--arch", nargs="+", choices=ARCHS, default=list(ARCHS))
    ap.add_argument("--reuse", action="store_true", help="reuse yosys figures of byte-identical Verilog")
    ap.add_argument("--no-docs", action="store_true", help="do not touch docs/units.json / docs/units.md")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per yosys run")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args(argv)

    from hw.accelerator import BuildConfig
    from hw.fold import auto_fold
    from sw.program import Program

    prog = Program.load(PROGRAM)
    fold = auto_fold(prog)
    build = BuildConfig()
    all_units = units(prog, fold, build)
    if a.list:
        for key, label, _, params in all_units:
            print(f"{key:16s} {label:26s} {fmt_params(params)}")
        return 0
    sel = all_units
    if a.only:
        want = {w.lower() for w in a.only}
        sel = [u for u in all_units if u[0] in want or u[1].lower() in want or u[1].split()[0].lower() in want]
        unknown = want - {u[0] for u in sel} - {u[1].lower() for u in sel} - {u[1].split()[0].lower() for u in sel}
        if unknown or not sel:
            ap.error(f"unknown unit(s) {sorted(unknown)}; choose from {[u[0] for u in all_units]}")

    t_all = time.monotonic()
    rows = []
    print_header()
    for key, label, make, params in sel:
        comp = make()
        row = {"unit": label, "key": key, "params": params, "estimate": comp.resource_estimate()}
        t0 = time.monotonic()
        text = synth_verilog(comp, key)
        secs = 0.0
        for arch in a.arch:
            try:
                res = synthesize(None, key, arch, BUILD / key, verilog_text=text, timeout=a.timeout, reuse=a.reuse)
                res.pop("cells", None)
                secs += res.pop("seconds")
                res.pop("reused", None)
                row[arch] = res
            except Exception as e:  # noqa: BLE001 - a failing unit is reported, the others go on
                row[arch] = {"error": f"{type(e).__name__}: {e}"}
        row["seconds"] = round(secs if a.reuse else time.monotonic() - t0, 1)
        rows.append(row)
        print_rows([row])
    total = time.monotonic() - t_all
    full = not a.only and set(a.arch) == set(ARCHS)
    if a.reuse:
        total = sum(r["seconds"] for r in rows)
    print(f"\n{len(rows)} units, {total:.0f} s{' (yosys seconds of the reused runs)' if a.reuse else ''}")
    if not a.no_docs:
        if full:
            write_docs(rows, total)
        else:
            old = json.loads(DOC_JSON.read_text()) if DOC_JSON.exists() else []
            byk = {r["key"]: r for r in old}
            for r in rows:
                prev = byk.get(r["key"], {})
                byk[r["key"]] = {**prev, **r}
            order = [u[0] for u in all_units]
            merged = [byk[k] for k in order if k in byk]
            write_docs(merged, None)
        print(f"wrote {DOC_JSON.relative_to(ROOT)} and the resource section of {DOC_MD.relative_to(ROOT)}")
    return 1 if any("error" in r.get(x, {}) for r in rows for x in a.arch) else 0


if __name__ == "__main__":
    sys.exit(main())
