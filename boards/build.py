"""Build a board bitstream through YoWASP (yosys, nextpnr, icepack / ecppack) and report on it.

    from boards.build import build, program
    report = build("ulx3s", "x2-tiny", "build/ulx3s")      # a shipped model name, folder or program file
    program("ulx3s", report["bitstream"])

`build()` elaborates the board top (boards/icebreaker.py, boards/ulx3s.py) through the
amaranth-boards platform, extracts the platform's build files into `out_dir` and runs its commands
(yosys -> nextpnr with `--report report.json --freq F --seed S` -> icepack/ecppack) with the
YOSYS / NEXTPNR_* / ICEPACK / ECPPACK variables pointing at the yowasp-* commands of this
environment, each with cwd = `out_dir` (the YoWASP tools only see that folder). It then writes
`out_dir/build_report.json`:

  board, device, model (config), program (path, content hash), fold (+ lanes, cycles/LR pixel),
  target_mhz (the PLL's achieved frequency, the timing constraint), requested_mhz, pll,
  fmax_mhz {clock: MHz} (nextpnr), fits, meets_timing,
  utilisation {LC|LUT, FF, EBR|BRAM, SPRAM, DSP: {used, available}} (nextpnr; FF for the iCE40 from
  yosys, which packs FFs into the LCs), failure (null or a one-line reason), tool versions, seed,
  build_seconds, bitstream (path or null), files (logs)

When the design does not fit (nextpnr stops after packing: utilisation comes from its log) or misses
timing (nextpnr runs with --timing-allow-fail, so a bitstream is still written), the report is
written first and then BuildError is raised with the numbers.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from hw.fold import FoldConfig, throughput
from hw.mul import LUT_MUL_WIDTH
from hw.reset_tree import YOSYS_KEEP
from hw.replica import YOSYS_KEEP as REP_KEEP
from hw.static_copy import YOSYS_KEEP as GEO_KEEP

from .common import baud_error
from .outreg import absorb_file

__all__ = ["BOARDS", "BuildError", "ProgrammerError", "build", "program", "board_info", "defaults", "table", "yosys_options"]

MAX_BAUD_ERROR = 0.025


class BuildError(RuntimeError):
    """A board build failed: `kind` is "fit", "timing" or "tool"; `report` is the written report."""

    def __init__(self, message: str, kind: str, report: dict | None = None):
        super().__init__(message)
        self.kind = kind
        self.report = report


class ProgrammerError(RuntimeError):
    """No programming tool, no board attached, or the tool failed."""


# --------------------------------------------------------------------------- boards
def _icebreaker():
    from . import icebreaker
    return icebreaker


def _ulx3s():
    from . import ulx3s
    return ulx3s


BOARDS = {
    "icebreaker": {"module": _icebreaker, "top": "ICEBreakerTop", "family": "ice40", "device": "iCE40UP5K-SG48",
                   "tools": ["yosys", "nextpnr-ice40", "icepack"], "bitstream": "top.bin",
                   "default_max_width": 32, "default_lut_mul_width": LUT_MUL_WIDTH, "default_placer": "heap"},
    "ulx3s": {"module": _ulx3s, "top": "ULX3STop", "family": "ecp5", "device": "LFE5U-85F-6BG381C",
              "tools": ["yosys", "nextpnr-ecp5", "ecppack"], "bitstream": "top.bit",
              "default_max_width": 64, "default_lut_mul_width": 0, "default_placer": "static"},
}

# nextpnr bel types -> the resource names of docs/boards.md
_RESOURCES = {
    "ice40": {"ICESTORM_LC": "LC", "ICESTORM_RAM": "EBR", "ICESTORM_SPRAM": "SPRAM", "ICESTORM_DSP": "DSP",
              "ICESTORM_PLL": "PLL", "SB_IO": "IO"},
    "ecp5": {"TRELLIS_COMB": "LUT", "TRELLIS_FF": "FF", "DP16KD": "BRAM", "MULT18X18D": "DSP",
             "TRELLIS_RAMW": "LUTRAM_W", "EHXPLLL": "PLL", "TRELLIS_IO": "IO"},
}
_ICE40_LCS = 5280


def board_info(board: str) -> dict:
    if board not in BOARDS:
        raise ValueError(f"unknown board {board!r} (known: {', '.join(BOARDS)})")
    return BOARDS[board]


def defaults(board: str) -> dict:
    """The board's default clock (MHz), baud rate and max_width."""
    mod = board_info(board)["module"]()
    return {"freq_mhz": mod.DEFAULT_MHZ, "baud": mod.DEFAULT_BAUD, "max_width": board_info(board)["default_max_width"]}


# --------------------------------------------------------------------------- tools
def _tool_path(name: str) -> str | None:
    """The yowasp-<name> command of this environment (beside the interpreter), else on PATH."""
    for cand in (Path(sys.executable).parent / f"yowasp-{name}",):
        if cand.exists():
            return str(cand)
    return shutil.which(f"yowasp-{name}") or shutil.which(name)


def _env_var(tool: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", tool).upper()


def tool_env(board: str) -> dict:
    """Environment for the platform's build commands: YOSYS, NEXTPNR_*, ICEPACK/ECPPACK (and
    OPENFPGALOADER, which the ULX3S platform lists as required; it is never run by build())."""
    env = dict(os.environ)
    for tool in board_info(board)["tools"]:
        var = _env_var(tool)
        if var in os.environ and shutil.which(os.environ[var]):
            continue
        path = _tool_path(tool)
        if path is None:
            raise BuildError(f"{tool}: no yowasp-{tool} or {tool} command found (pip install yowasp-{tool})",
                             "tool")
        env[var] = path
    if "OPENFPGALOADER" not in env:
        env["OPENFPGALOADER"] = shutil.which("openFPGALoader") or shutil.which("true") or "true"
    return env


def tool_versions(board: str) -> dict:
    out = {}
    for pkg in ["amaranth", "amaranth-boards"] + [f"yowasp-{t}" for t in board_info(board)["tools"]
                                                  if t not in ("icepack", "ecppack")]:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _lut_mul_script(width: int) -> str:
    """Yosys commands (before synth_*) that build multipliers with an operand of <= `width` bits
    from logic: radix-4 Booth (`booth`, operands >= 4 bits), the rest by the generic techmap."""
    if not width:
        return ""
    sel = f"t:$mul r:A_WIDTH<={width} %i t:$mul r:B_WIDTH<={width} %i %u"
    return (f"proc\nselect -set lutmul {sel}\nbooth @lutmul\n"
            f"select -set lutmul {sel}\ntechmap -map +/techmap.v @lutmul")


def yosys_options(board: str, dsp: bool = True, lut_mul_width: int | None = None, spram: bool = False) -> dict:
    """What build() gives yosys for `board` (also used by sim/postsynth.py, so that the simulated
    netlist is synthesised exactly as the bitstream's): `synth_opts` for synth_ice40 / synth_ecp5,
    `script_after_read` (run after read_rtlil: the reset-tree and geometry copies kept, hw/reset_tree.py
    and hw/static_copy.py, and the
    LUT multiplier script), `script_after_synth`
    (the rest of the synthesis, see below) and the `lut_mul_width` in effect (the board's default
    when None).

    synth_* runs in two parts: `-run begin:map_luts`, then `splitnets` and `-run map_luts:`. YoWASP
    yosys 0.70 otherwise asserts in ABC_OPS_REINTEGRATE on some Amaranth netlists (wire names such
    as `$7` clash with the names ABC9 gives back: YosysHQ/yosys#4349, #4451, #5274; here the x4 SR
    network on the ECP5); splitting the nets before LUT mapping avoids it.
    spram (iCE40, the row-serial architecture of the UP5K): map large memories to the SPRAM (`-spram`;
    its RAM) and let ABC map the logic together with the flip-flops (`-dff`; on x2-tiny 76 LC fewer,
    which the full UP5K needs). ABC then derives some flip-flop enables from the flip-flop's own
    output, which ternary simulation cannot resolve from an X power-up state: sim/postsynth.py
    proves these netlists from random concrete power-up states instead (power_up)."""
    info = board_info(board)
    if lut_mul_width is None:
        lut_mul_width = info["default_lut_mul_width"]
    family = info["family"]
    opts = ("-dsp" if dsp else "") if family == "ice40" else ("" if dsp else "-nodsp")
    if spram and family == "ice40":
        opts += " -spram -dff"
    after_read = [YOSYS_KEEP, GEO_KEEP, REP_KEEP] + ([_lut_mul_script(lut_mul_width)] if dsp and lut_mul_width else [])
    return {"synth_opts": f"{opts} -run begin:map_luts".strip(),
            "script_after_synth": f"splitnets\nsynth_{family} {opts} -run map_luts:".replace("  ", " "),
            "script_after_read": "\n".join(after_read),
            "lut_mul_width": lut_mul_width}


# --------------------------------------------------------------------------- inputs
def _load_program(program_path):
    from sw.program import Program

    if isinstance(program_path, Program):
        return program_path, None
    from sw.models import resolve

    ref = resolve(str(program_path))
    prog = ref.load_program()
    return prog, str(ref.program)


def _throughput(prog, foldc: FoldConfig) -> dict:
    try:
        return throughput(prog, foldc)
    except ZeroDivisionError:            # hw.fold.throughput with no binary layers (units = 0, not SR)
        from hw.fold import serial_floor
        stages = dict(serial_floor(prog))
        stages["head"] = stages["head"] / foldc.head_macs
        worst = max(stages, key=stages.get)
        return {"lanes": 0, "cycles_per_lr_pixel": stages[worst], "bottleneck": worst}


# --------------------------------------------------------------------------- reports
_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)
_FMAX_LINE = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")


def _log_utilisation(text: str) -> dict:
    """The last 'Device utilisation' block of a nextpnr log: {bel: {used, available}}."""
    blocks = text.split("Device utilisation:")
    if len(blocks) < 2:
        return {}
    return {b: {"used": int(u), "available": int(a)} for b, u, a in _UTIL_LINE.findall(blocks[-1].split("\n\n")[0])}


def _yosys_cells(stat_path: Path) -> dict:
    if not stat_path.exists():
        return {}
    stat = json.loads(stat_path.read_text())
    d = stat.get("design", {})
    return {k: int(v) for k, v in (d.get("num_cells_by_type") or {}).items()}


def _utilisation(family: str, bels: dict, cells: dict) -> dict:
    names = _RESOURCES[family]
    util = {}
    for bel, res in names.items():
        if bel in bels:
            util[res] = dict(bels[bel])
    if family == "ice40":
        ff = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
        util["FF"] = {"used": ff, "available": _ICE40_LCS, "source": "yosys"}
        for res, avail in (("EBR", 30), ("SPRAM", 4), ("DSP", 8)):
            util.setdefault(res, {"used": 0, "available": avail})
    else:
        for res, avail in (("BRAM", 208), ("DSP", 156)):
            util.setdefault(res, {"used": 0, "available": avail})
    order = ["LC", "LUT", "FF", "EBR", "BRAM", "SPRAM", "DSP", "LUTRAM_W", "PLL", "IO"]
    return {k: util[k] for k in order if k in util}


def _overflows(util: dict) -> list[str]:
    out = []
    for res, u in util.items():
        if u["used"] > u["available"]:
            out.append(f"{res} {u['used']}/{u['available']} (+{u['used'] - u['available']}, "
                       f"{100 * u['used'] / u['available']:.0f}%)")
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- build
PLACERS = (None, "heap", "static", "sa")      # nextpnr --placer (None: the board's default_placer)


def build(board: str, program_path, out_dir, fold="auto", freq_mhz: float | None = None, seed: int = 1,
          max_width: int | None = None, baud: int | None = None, dsp: bool = True,
          lut_mul_width: int | None = None, max_height: int = 2048, max_payload: int = 1024,
          top_options: dict | None = None, raise_on_failure: bool = True, log=None,
          pack_only: bool = False, router: str | None = None, placer: str | None = None,
          detailed_timing: bool = False, outreg: bool = True) -> dict:
    """Build the bitstream of `program_path` (a program file, model folder/name, or Program) for
    `board` ("icebreaker" | "ulx3s") in `out_dir`; returns the report (also out_dir/build_report.json).

    fold: see boards.fit (resolve_fold_spec). freq_mhz: requested `sync` frequency (default: the board's DEFAULT_MHZ);
    the PLL's achieved frequency is the target. baud: UART rate (default: the board's DEFAULT_BAUD;
    the clock must be within 2.5 % of a multiple of it). max_width: LR stripe width limit (halo included;
    default: the board's default_max_width). dsp: map multipliers to DSP blocks (iCE40: synth_ice40 -dsp
    -> SB_MAC16; ECP5: synth_ecp5's default MULT18X18D; False: -nodsp, LUT multipliers).
    lut_mul_width: multipliers with an operand of at most this many bits are built from LUTs
    (yosys `booth`) before DSP mapping, so the few DSP blocks go to the wide products (default: the
    board's default_lut_mul_width: 9 on the iCEBreaker, whose UP5K has 8 SB_MAC16; 0 = off).
    max_height / max_payload: hw.accelerator.BuildConfig limits. top_options: extra keyword
    arguments of the board top (e.g. {"pmod_leds": False} for the iCEBreaker).
    pack_only: stop nextpnr after packing (`--pack-only`): utilisation in a minute or two, no
    placement, timing or bitstream (the resource-model calibration, benchmarks/fold_calibration.py).
    router: nextpnr's router ("router1" | "router2"; None: nextpnr's default, router1), recorded in
    the report. On the ECP5 base presets router1 takes hours here; router2 is the other option to try
    (docs/boards.md "Sizing the base models").
    placer: nextpnr's placer ("heap" | "static" | "sa"; None: the board's default_placer: "static"
    on the ULX3S, "heap" on the iCEBreaker), recorded in the report. On the ECP5 base presets heap's
    strict legalisation takes half an hour here and leaves 2.6x the wirelength of the electrostatic
    "static" placer, which routes where heap's placement did not; on the UP5K row-serial x2-tiny
    the two are within the seed-to-seed spread (docs/boards.md "Placer").
    outreg (ECP5): between yosys and nextpnr, boards/outreg.py moves the flip-flops behind block-RAM
    reads into the DP16KD output registers and those behind products into the MULT18X18D output
    registers (its counts in the report's "outreg", the DSP ones under "dsp"); the post-synthesis
    proof (sim/postsynth.py) simulates the netlist after the same pass.
    detailed_timing: nextpnr's `--detailed-timing-report` (every routed connection's delay in
    report.json, tens of MB on the ECP5 base presets): benchmarks/routed_slack.py reads it to list
    every failing endpoint, not only nextpnr's one critical path per clock.
    Raises BuildError (after writing the report) when the design does not fit, misses timing, or a
    tool fails; with raise_on_failure=False it only returns the report (fits / meets_timing /
    failure say what happened). Raises ValueError before building for an unknown board, an
    unreachable PLL frequency (PLLError) or a baud rate the clock cannot divide to within 2.5 %.
    """
    info = board_info(board)
    if router not in (None, "router1", "router2"):
        raise ValueError(f"router must be router1 or router2, not {router!r}")
    if placer not in PLACERS:
        raise ValueError(f"placer must be one of {', '.join(p for p in PLACERS if p)}, not {placer!r}")
    mod = info["module"]()
    family = info["family"]
    log = log or (lambda msg: None)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    prog, prog_file = _load_program(program_path)
    freq_mhz = float(freq_mhz or mod.DEFAULT_MHZ)
    baud = int(baud or mod.DEFAULT_BAUD)
    max_width = int(max_width or info["default_max_width"])
    from .fit import resolve_fold_choice
    foldc, fold_choice = resolve_fold_choice(prog, fold, board, max_width, max_height=max_height,
                                             max_payload=max_payload)
    if fold_choice is not None:
        log(f"[{board}] fold auto: {fold_choice['lanes']} lanes, {fold_choice['cycles_per_lr_pixel']} cycles per "
            f"LR pixel, predicted {fold_choice['predicted']} (limits {fold_choice['limits']}, "
            f"{'fits' if fold_choice['fits'] else 'does not fit even at one lane per engine'})")
    top = getattr(mod, info["top"])(prog, freq_mhz, baud=baud, fold=foldc, max_width=max_width,
                                    max_height=max_height, max_payload=max_payload, **(top_options or {}))
    target_mhz = top.clock_hz / 1e6
    berr = baud_error(top.clock_hz, baud)
    if abs(berr) > MAX_BAUD_ERROR:
        raise ValueError(f"{board}: {target_mhz:.3f} MHz / {baud} baud gives a {100 * berr:+.1f}% baud error "
                         f"(divisor {round(top.clock_hz / baud)}); choose a clock near a multiple of the baud")
    tp = _throughput(prog, foldc)

    env = tool_env(board)
    plat = mod.platform()
    nextpnr_opts = f"--report report.json --freq {target_mhz:.4f} --seed {seed} --timing-allow-fail"
    if pack_only:
        nextpnr_opts += " --pack-only"
    if detailed_timing:
        nextpnr_opts += " --detailed-timing-report"
    if router is not None:
        nextpnr_opts += f" --router {router}"
    placer = placer or info["default_placer"]
    nextpnr_opts += f" --placer {placer}"
    yo = yosys_options(board, dsp, lut_mul_width, spram=(top_options or {}).get("arch") == "rowserial")
    lut_mul_width = yo["lut_mul_width"]
    plan = plat.prepare(top, "top", nextpnr_opts=nextpnr_opts, synth_opts=yo["synth_opts"],
                        script_after_read=yo["script_after_read"],
                        script_after_synth=yo["script_after_synth"] + "\ntee -q -o synth_stat.json stat -json")
    for stale in ("report.json", "synth_stat.json", info["bitstream"], "top.asc", "top.config", "top.json",
                  "top.tim", "build_report.json"):
        (out / stale).unlink(missing_ok=True)
    plan.extract(str(out))
    commands = json.loads((out / "build_top.json").read_text())["commands"]
    if pack_only:
        commands = [c for c in commands if not c[0].endswith("pack")]     # no icepack / ecppack

    report = {
        "board": board, "device": info["device"],
        "model": prog.config.to_dict(),
        "program": {"path": prog_file, "content_hash": prog.content_hash,
                    "feature_bits": prog.fmt.bits},
        "max_width": max_width, "max_height": max_height, "max_payload": max_payload, "pack_only": pack_only,
        "top_options": top_options or {}, "dsp": dsp, "lut_mul_width": lut_mul_width,
        "fold": foldc.to_dict(), "fold_spec": fold if isinstance(fold, str) else "explicit",
        "fold_choice": fold_choice,
        "fold_lanes": tp["lanes"], "cycles_per_lr_pixel": tp["cycles_per_lr_pixel"],
        "bottleneck": tp["bottleneck"],
        "requested_mhz": freq_mhz, "target_mhz": round(target_mhz, 4),
        "pll": top.pll.to_dict(), "baud": baud, "baud_error": berr,
        "fmax_mhz": {}, "fits": None, "meets_timing": None, "utilisation": {},
        "failure": None,
        "tools": tool_versions(board), "seed": seed, "router": router or "router1",
        "placer": placer, "outreg": None,
        "build_seconds": None, "bitstream": None,
        "files": {"yosys_log": str(out / "top.rpt"), "nextpnr_log": str(out / "top.tim"),
                  "nextpnr_report": str(out / "report.json")},
    }

    failure, kind = None, None
    stage_seconds = {}
    for argv in commands:
        tool = argv[0]
        argv = [env[_env_var(tool)]] + argv[1:]
        log(f"[{board}] {tool} ...")
        ts = time.monotonic()
        r = subprocess.run(argv, cwd=out, env=env, capture_output=True, text=True)
        stage_seconds[tool] = round(time.monotonic() - ts, 1)
        (out / f"{tool}.stdout.log").write_text(r.stdout + "\n--- stderr ---\n" + r.stderr)
        if r.returncode != 0:
            text = (out / "top.tim").read_text(errors="replace") if tool.startswith("nextpnr") and \
                (out / "top.tim").exists() else r.stdout + r.stderr
            errs = [l for l in text.splitlines() if "ERROR" in l]
            failure = f"{tool} failed (exit {r.returncode}): " + ("; ".join(errs[-3:]) or text.strip()[-500:])
            kind = "tool"
            break
        if tool == "yosys" and info["family"] == "ecp5" and outreg:
            ts = time.monotonic()
            report["outreg"] = absorb_file(out / "top.json")
            stage_seconds["outreg"] = round(time.monotonic() - ts, 1)
            log(f"[{board}] outreg: {report['outreg']['flip_flops']} flip-flops into "
                f"{report['outreg']['ports']} block-RAM output registers, "
                f"{report['outreg']['dsp']['flip_flops']} into {report['outreg']['dsp']['blocks']} DSP blocks")
    report["stage_seconds"] = stage_seconds

    # utilisation: nextpnr's report when it finished, else the last utilisation block of its log
    cells = _yosys_cells(out / "synth_stat.json")
    report["synth_cells"] = cells
    bels = {}
    rep_path = out / "report.json"
    if rep_path.exists():
        rep = json.loads(rep_path.read_text())
        bels = rep.get("utilization") or rep.get("utilisation") or {}
        for clk, v in (rep.get("fmax") or {}).items():
            if clk.startswith("$PACKER"):       # constant nets on clock pins (e.g. unregistered SB_MAC16)
                continue
            report["fmax_mhz"][clk] = round(float(v.get("achieved", 0.0)), 2)
            report.setdefault("fmax_constraint_mhz", {})[clk] = round(float(v.get("constraint", 0.0)), 2)
    elif (out / "top.tim").exists():
        bels = _log_utilisation((out / "top.tim").read_text(errors="replace"))
    report["utilisation"] = _utilisation(family, bels, cells) if (bels or cells) else {}
    over = _overflows(report["utilisation"])
    if over:
        report["fits"] = False
        failure = f"{board}: the design does not fit the {info['device']}: " + ", ".join(over)
        kind = "fit"
    elif rep_path.exists() or (pack_only and bels):
        report["fits"] = True
    if report["fmax_mhz"]:
        fmax = min(report["fmax_mhz"].values())
        report["meets_timing"] = bool(fmax >= target_mhz * 0.9999)
        if not report["meets_timing"] and failure is None:
            worst = min(report["fmax_mhz"], key=report["fmax_mhz"].get)
            failure = (f"{board}: timing not met: clock {worst} reaches {report['fmax_mhz'][worst]:.2f} MHz, "
                       f"target {target_mhz:.2f} MHz (build with freq_mhz <= {fmax:.1f})")
            kind = "timing"
    bit = out / info["bitstream"]
    if pack_only:
        pass
    elif bit.exists() and kind in (None, "timing"):
        report["bitstream"] = str(bit)
        report["bitstream_sha256"] = _sha256(bit)
    elif failure is None:
        failure, kind = f"{board}: no bitstream was written ({bit.name})", "tool"
    report["failure"] = failure
    report["build_seconds"] = round(time.monotonic() - t0, 1)
    (out / "build_report.json").write_text(json.dumps(report, indent=1))
    log(f"[{board}] done in {report['build_seconds']} s: fits={report['fits']} fmax={report['fmax_mhz']}")
    if failure and raise_on_failure:
        raise BuildError(failure + f" (report: {out / 'build_report.json'})", kind, report)
    return report


# --------------------------------------------------------------------------- program
def _programmer(board: str) -> list[str]:
    """The command line prefix that loads a bitstream into the board's SRAM."""
    board_info(board)
    if board == "icebreaker":
        iceprog = os.environ.get("ICEPROG") or shutil.which("iceprog")
        if iceprog and shutil.which(iceprog):
            return [shutil.which(iceprog), "-S"]
        ofl = os.environ.get("OPENFPGALOADER") or shutil.which("openFPGALoader")
        if ofl and shutil.which(ofl):
            return [shutil.which(ofl), "-b", "ice40_generic"]
        raise ProgrammerError("cannot program the iCEBreaker: neither iceprog nor openFPGALoader is installed "
                              "(apt install fpga-icestorm or openfpgaloader; or set ICEPROG / OPENFPGALOADER)")
    ofl = os.environ.get("OPENFPGALOADER") or shutil.which("openFPGALoader")
    if ofl and shutil.which(ofl):
        return [shutil.which(ofl), "-b", "ulx3s"]
    raise ProgrammerError("cannot program the ULX3S: openFPGALoader is not installed "
                          "(apt install openfpgaloader; or set OPENFPGALOADER)")


def program(board: str, bitstream, flash: bool = False, timeout: float = 120.0) -> str:
    """Load `bitstream` (top.bin for the iCEBreaker, top.bit for the ULX3S) into the board with
    iceprog / openFPGALoader (SRAM; flash=True writes the SPI flash instead). Returns the tool's
    output. Raises ProgrammerError with a clear message when the file, the tool or the board is
    missing."""
    bit = Path(bitstream)
    if not bit.is_file():
        raise ProgrammerError(f"{bit}: no such bitstream (run the build first)")
    cmd = _programmer(board)
    name = Path(cmd[0]).name
    if name.startswith("iceprog"):
        cmd = cmd[:1] if flash else cmd             # iceprog: -S = SRAM, default = flash
    elif flash:
        cmd = cmd + ["-f"]
    cmd = cmd + [str(bit)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ProgrammerError(f"{name} did not finish in {timeout:.0f} s: is the {board} connected?") from None
    text = (r.stdout + r.stderr).strip()
    if r.returncode != 0:
        last = "; ".join(l.strip() for l in text.splitlines()[-3:]) or "no output"
        raise ProgrammerError(f"{name} failed (exit {r.returncode}): is the {board} connected and "
                              f"accessible (USB permissions)? {last}")
    return text


# --------------------------------------------------------------------------- summary table
def _cell(u: dict | None) -> str:
    if not u:
        return "-"
    over = u["used"] > u["available"]
    return f"{'**' if over else ''}{u['used']:,}/{u['available']:,}{'**' if over else ''}"


def table(reports: list[dict]) -> str:
    """The markdown table of docs/boards.md from a list of build reports."""
    head = ("| board | model | max_width | fold lanes (scale) | LUT or LC | FF | BRAM (EBR / DP16KD) | SPRAM | DSP "
            "| Fmax / target MHz | fits | timing |")
    rows = [head, "|---" * 12 + "|"]
    for r in reports:
        m = r["model"]
        name = f"{m['task']} x{m['scale']} C={m['channels']} n={m['units']} {'RGB' if m['colors'] == 3 else 'gray'}"
        u = r.get("utilisation") or {}
        fmax = min(r["fmax_mhz"].values()) if r.get("fmax_mhz") else None
        rows.append("| " + " | ".join([
            r["board"], name, str(r["max_width"]), f"{r['fold_lanes']} ({r['fold']['scale_mult']})",
            _cell(u.get("LC") or u.get("LUT")), _cell(u.get("FF")), _cell(u.get("EBR") or u.get("BRAM")),
            _cell(u.get("SPRAM")) if "SPRAM" in u else "-", _cell(u.get("DSP")),
            f"{fmax:.1f} / {r['target_mhz']:.2f}" if fmax else f"- / {r['target_mhz']:.2f}",
            {True: "yes", False: "**no**", None: "?"}[r["fits"]],
            {True: "met", False: "**missed**", None: "-"}[r["meets_timing"]],
        ]) + " |")
    return "\n".join(rows)
