"""The virtual board: the accelerator core compiled by Verilator into a standalone C++ model that
serves the link on a TCP port on 127.0.0.1 (sim/virtual/main.cpp). The host connects with
pyserial's `socket://127.0.0.1:PORT`, the same code path as a real serial port.

Models are built on first use and cached by the hash of their Verilog + harness
(build/virtual/<hash>/vboard).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

from sim.runner import ROOT, to_verilog

HARNESS = ROOT / "sim" / "virtual" / "main.cpp"
CACHE = Path(os.environ.get("BBCU_VBOARD_CACHE", ROOT / "build" / "virtual"))


class VirtualBoardError(RuntimeError):
    pass


def build(prog, build_cfg=None, fold=None, log=print) -> Path:
    """Build (or reuse) the Verilator model of AcceleratorCore for `prog`; returns the binary."""
    from hw.accelerator import AcceleratorCore

    if shutil.which("verilator") is None:
        raise VirtualBoardError("verilator is not installed (make setup installs it: apt-get install verilator)")
    core = AcceleratorCore(prog, build_cfg, fold)
    text = to_verilog(core, "core", icarus=False)
    h = hashlib.sha256(text.encode() + HARNESS.read_bytes()).hexdigest()[:16]
    out = CACHE / h
    binary = out / "vboard"
    if binary.exists():
        return binary
    out.mkdir(parents=True, exist_ok=True)
    # one build per hash even when several processes ask at once: an exclusive lock on the
    # cache folder, and the binary appears by an atomic rename only when complete
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if binary.exists():
            return binary
        (out / "core.v").write_text(text)
        t0 = time.time()
        log(f"building the virtual board (Verilator) in {out} ...")
        cmd = ["verilator", "--cc", "core.v", "--exe", str(HARNESS), "--top-module", "core", "-o", "vboard",
               "--Mdir", "obj", "-O2", "--x-assign", "0", "--x-initial", "0", "-Wno-fatal", "-Wno-lint",
               "-Wno-style", "--build", "-j", str(os.cpu_count() or 2), "-CFLAGS", "-O1",
               "-MAKEFLAGS", "OPT_FAST=-O1"]
        r = subprocess.run(cmd, cwd=out, capture_output=True, text=True)
        if r.returncode != 0:
            raise VirtualBoardError(f"verilator build failed:\n{(r.stdout + r.stderr)[-3000:]}")
        tmp = out / "vboard.tmp"
        shutil.copy(out / "obj" / "vboard", tmp)
        os.replace(tmp, binary)
        log(f"virtual board built in {time.time() - t0:.0f} s")
    return binary


class VirtualBoard:
    """Run a built virtual board as a subprocess; `url` is the pyserial URL to connect to."""

    def __init__(self, binary: Path, port: int = 0):
        self.binary, self.port = Path(binary), port
        self.proc = None
        self.url = None

    def start(self) -> "VirtualBoard":
        self.proc = subprocess.Popen([str(self.binary), str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING"):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise VirtualBoardError(f"virtual board did not start: {line.strip()} {err.strip()}")
        self.port = int(line.split()[1])
        self.url = f"socket://127.0.0.1:{self.port}"
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
