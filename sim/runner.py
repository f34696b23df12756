"""Run a cocotb testbench (Icarus, via cocotb_tools.runner) on an Amaranth component.

The component is exported to Verilog, built once per distinct Verilog text (cached under
build/cocotb/<top>-<hash>), and the cocotb test module (in sim/) reads its stimulus and
expected outputs from an .npz file named by the BBCU_TB_DATA environment variable. The
testbench writes what it measured (outputs, cycles) to BBCU_TB_RESULT as JSON.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "cocotb"


class SimFailure(AssertionError):
    pass


def to_verilog(component, name: str, icarus: bool = True) -> str:
    """Verilog of an Amaranth component; `icarus` adds the time-0 fix for Icarus (see below)."""
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog

    text = verilog.convert(component, name=name, emit_src=False)
    return icarus_time0_fixup(text) if icarus else text


_TRIGGER = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\S+)\s*= 0;$", re.M)


def icarus_time0_fixup(text: str) -> str:
    """Make every combinational `always @*` block evaluate once at time 0 under Icarus.

    Yosys' Verilog backend puts a dummy trigger register (initialised to 0) into the sensitivity
    list of each `always @*` block; Icarus does not treat the declaration's initialiser as an
    event, so a block whose real inputs never change (e.g. an FSM sitting in its reset state)
    would keep X outputs. Toggling the trigger with `#0` at time 0 fixes that. Simulation only:
    synthesis never sees this text.
    """
    return _TRIGGER.sub(lambda mt: f"{mt.group(0)}\n{mt.group(1)}initial #0 {mt.group(2)} = 1'h1;", text)


def run_cocotb(component, name: str, tb_module: str, vectors: dict, params: dict | None = None,
               verilog_text: str | None = None, testcase: str | None = None, extra_sources=(),
               includes=()) -> dict:
    """Build `component` (or use verilog_text) and run cocotb module `tb_module` on it.

    vectors: numpy arrays for the testbench; params: JSON-able scalars. extra_sources: more Verilog
    files (e.g. cell models), includes: their `include directories. Returns the result JSON.
    Raises SimFailure if any cocotb test failed.
    """
    from cocotb_tools.runner import get_results, get_runner

    name = re.sub(r"\W", "_", name)
    text = verilog_text if verilog_text is not None else to_verilog(component, name)
    extra = [Path(s) for s in extra_sources]
    h = hashlib.sha256(text.encode())
    for s in extra:
        h.update(s.read_bytes())
    for d in includes:
        for f in sorted(Path(d).iterdir()):
            if f.is_file():
                h.update(f.name.encode() + f.read_bytes())
    build = BUILD / f"{name}-{h.hexdigest()[:12]}"
    build.mkdir(parents=True, exist_ok=True)
    vfile = build / f"{name}.v"
    if not vfile.exists():
        vfile.write_text(text)
    runner = get_runner("icarus")
    runner.build(sources=[vfile, *extra], hdl_toplevel=name, build_dir=build, timescale=("1ns", "1ps"),
                 includes=[Path(d) for d in includes], log_file=build / "build.log")
    run_id = hashlib.sha256(repr(sorted(params.items()) if params else "").encode() + os.urandom(8)).hexdigest()[:10]
    data = build / f"tb_{run_id}.npz"
    result = build / f"tb_{run_id}.json"
    np.savez(data, **{k: np.asarray(v) for k, v in vectors.items()}, __params__=np.array(json.dumps(params or {})))
    xml = build / f"results_{run_id}.xml"
    env = {"BBCU_TB_DATA": str(data), "BBCU_TB_RESULT": str(result),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    logf = build / f"sim_{run_id}.log"
    try:
        try:
            runner.test(test_module=tb_module, hdl_toplevel=name, build_dir=build, test_dir=build,
                        extra_env=env, results_xml=str(xml), testcase=testcase, log_file=logf)
        except SystemExit:      # cocotb_tools raises SystemExit when a test fails
            pass
        n, failed = get_results(xml) if xml.exists() else (0, 0)
        log = logf.read_text(errors="replace") if logf.exists() else ""
        if n == 0 or failed:
            tail = "\n".join(log.splitlines()[-40:])
            raise SimFailure(f"cocotb {tb_module} on {name}: {failed}/{n} tests failed\n{tail}")
        return json.loads(result.read_text()) if result.exists() else {}
    finally:
        for f in (data, xml):
            if f.exists():
                f.unlink()
        if result.exists():
            result.unlink()


def load_vectors():
    """Inside a cocotb test: the stimulus arrays and params passed by run_cocotb."""
    d = np.load(os.environ["BBCU_TB_DATA"], allow_pickle=False)
    params = json.loads(str(d["__params__"]))
    return {k: d[k] for k in d.files if k != "__params__"}, params


def write_result(obj: dict):
    Path(os.environ["BBCU_TB_RESULT"]).write_text(json.dumps(obj))
