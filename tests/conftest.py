import os
from pathlib import Path

import numpy as np
import pytest
import torch
from amaranth import ClockDomain, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")


def shared_datasets() -> Path:
    from sw.data import datasets_dir
    return datasets_dir()


def need_dataset(name: str) -> Path:
    p = shared_datasets() / name
    if not p.is_dir():
        pytest.skip(f"dataset {name} not available at {p} (put the shared datasets in ../shared/datasets)")
    return p


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def random_network(cfg, seed=0, spread=2.0):
    """A random float BBCUNet with non-trivial thresholds, RPReLU shifts and slopes."""
    from sw.model import BBCUNet

    torch.manual_seed(seed)
    m = BBCUNet(cfg).eval()
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "move" in n or "gamma" in n or "zeta" in n:
                p.normal_(0, spread)
            if "slope" in n:
                p.uniform_(-0.5, 1.5)
    return m


class BoardReset(wiring.Component):
    """The Accelerator as boards/common.py instantiates it: in a reset-less sync domain (clock `clk`),
    its power-on reset `por` (hw/accelerator.py) driven by the testbench's `rst`. (For Verilog
    testbenches: the clock is assigned from a port, which Amaranth's simulator would race.)"""

    def __init__(self, prog, build, fold):
        from hw.accelerator import Accelerator

        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "busy": Out(1), "error": Out(1),
                          "activity": Out(1), "clk": In(1), "rst": In(1)})
        self.accel = Accelerator(prog, build, fold, por=self.rst)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = cd = ClockDomain("sync", reset_less=True)
        m.d.comb += cd.clk.eq(self.clk)
        m.submodules.accel = a = self.accel
        m.d.comb += [a.rx.eq(self.rx), self.tx.eq(a.tx), self.busy.eq(a.busy), self.error.eq(a.error),
                     self.activity.eq(a.activity)]
        return m


def synth_cell_counts(tmp_path: Path, family: str, dut, ports, keep: bool = True) -> dict:
    """`dut` synthesised as the board build synthesises (boards/build.yosys_options; keep=False
    leaves out its script after read_rtlil, i.e. the keep of the reset and geometry copies):
    {cell type: count}; the netlist is left in tmp_path / "net.json" (yosys write_json). Skips when
    the board's yosys is not installed."""
    import json
    import shutil
    import subprocess

    from amaranth.back import rtlil

    from boards.build import tool_env, yosys_options

    board = {"ice40": "icebreaker", "ecp5": "ulx3s"}[family]
    yosys = tool_env(board)["YOSYS"]
    if not shutil.which(yosys):
        pytest.skip(f"{yosys} not installed")
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "top.il").write_text(rtlil.convert(dut, name="top", ports=ports))
    yo = yosys_options(board)
    script = "\n".join(["read_rtlil top.il", yo["script_after_read"] if keep else "",
                        f"synth_{family} {yo['synth_opts']} -top top", yo["script_after_synth"],
                        "tee -q -o stat.json stat -json", "write_json net.json"])
    (tmp_path / "s.ys").write_text(script + "\n")
    r = subprocess.run([yosys, "-q", "s.ys"], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]


def flip_flops(cells: dict) -> int:
    return sum(v for k, v in cells.items() if k.startswith(("SB_DFF", "TRELLIS_FF")))


RAM_CELLS = ("DP16KD", "SB_RAM40_4K")


def _netlist(tmp_path: Path):
    """(top module of tmp_path/net.json, {bit: [(cell, pin)] of the cells' input pins}, {bit: the
    cell driving it})."""
    import json

    mod = json.loads((tmp_path / "net.json").read_text())["modules"]["top"]
    loads, drivers = {}, {}
    for cell in mod["cells"].values():
        for pin, bits in cell["connections"].items():
            for b in bits:
                if cell["port_directions"][pin] == "input":
                    loads.setdefault(b, []).append((cell, pin))
                else:
                    drivers[b] = cell
    return mod, loads, drivers


def _stops_paths(cell) -> bool:
    """A register or a RAM: where a logic path ends."""
    return cell["type"] in ("TRELLIS_FF",) + RAM_CELLS or cell["type"].startswith("SB_DFF")


def _pins(cell, direction: str, names=None) -> list:
    return [b for p, bits in cell["connections"].items()
            if cell["port_directions"][p] == direction and (names is None or p in names)
            for b in bits if not isinstance(b, str)]


def carry_cells_between(tmp_path: Path, src: str, dst: str) -> int:
    """In the netlist synth_cell_counts left in tmp_path: how many carry cells (CCU2C, SB_CARRY) lie
    on a combinational path from a flip-flop whose cell name starts with `src` to one whose name
    starts with `dst` (port_to_register_depth counts a whole carry chain as one level)."""
    mod, loads, drivers = _netlist(tmp_path)
    cells = mod["cells"]
    fwd, todo = set(), [b for n, c in cells.items() if _stops_paths(c) and n.lstrip("\\").startswith(src)
                        for b in _pins(c, "output")]
    while todo:                                       # cells reached from src
        for cell, _ in loads.get(todo.pop(), []):
            if not _stops_paths(cell) and id(cell) not in fwd:
                fwd.add(id(cell))
                todo += _pins(cell, "output")
    back, todo = set(), [b for n, c in cells.items() if _stops_paths(c) and n.lstrip("\\").startswith(dst)
                         for b in _pins(c, "input")]
    while todo:                                       # cells reaching dst
        cell = drivers.get(todo.pop())
        if cell is not None and not _stops_paths(cell) and id(cell) not in back:
            back.add(id(cell))
            todo += _pins(cell, "input")
    return sum(1 for c in cells.values() if id(c) in fwd and id(c) in back and c["type"] in ("CCU2C", "SB_CARRY"))


def block_ram_output_depths(tmp_path: Path) -> dict:
    """In the netlist synth_cell_counts left in tmp_path: {block-RAM cell name: the most logic
    cells between one of its data outputs and the flip-flops (or block RAMs) they reach} (0: the
    data go straight into registers)."""
    from functools import lru_cache

    mod, loads, _ = _netlist(tmp_path)

    @lru_cache(maxsize=None)
    def depth(bit) -> int:
        return max((1 + max((depth(b) for b in _pins(cell, "output")), default=0)
                    for cell, _ in loads.get(bit, []) if not _stops_paths(cell)), default=0)

    return {name: max((depth(b) for b in _pins(cell, "output")), default=0)
            for name, cell in mod["cells"].items() if cell["type"] in RAM_CELLS}


def block_ram_input_depths(tmp_path: Path, pins: tuple[str, ...]) -> dict:
    """In the netlist synth_cell_counts left in tmp_path: {block-RAM cell name: the most logic cells
    between flip-flops (or ports, constants) and its input pins named `pins` (e.g. ("WEA", "WEB"))}."""
    from functools import lru_cache

    mod, _, drivers = _netlist(tmp_path)

    @lru_cache(maxsize=None)
    def depth(bit) -> int:
        cell = drivers.get(bit)
        if cell is None or _stops_paths(cell):
            return 0
        return 1 + max((depth(b) for b in _pins(cell, "input")), default=0)

    return {name: max((depth(b) for b in _pins(cell, "input", pins)), default=0)
            for name, cell in mod["cells"].items() if cell["type"] in RAM_CELLS}


def port_to_register_depth(tmp_path: Path, port: str, register: str) -> int:
    """In the netlist synth_cell_counts left in tmp_path: the most logic cells (LUT4, PFUMX,
    L6MUX21; a carry chain counts as one) between top-level input `port` (or the outputs of the flip-flops whose
    cell names start with `port`, if no port has that name) and a flip-flop whose cell name starts
    with `register` (-1: none reached)."""
    from functools import lru_cache

    mod, loads, _ = _netlist(tmp_path)
    names = {id(c): n for n, c in mod["cells"].items()}

    @lru_cache(maxsize=None)
    def depth(bit) -> int:                            # -1: reaches no such flip-flop
        best = -1
        for cell, pin in loads.get(bit, []):
            if _stops_paths(cell):
                if names[id(cell)].startswith(register):
                    best = max(best, 0)
            else:
                d = max((depth(b) for b in _pins(cell, "output")), default=-1)
                if d >= 0:                            # (a carry chain counts once: not its carry-in)
                    best = max(best, d + (pin != "CIN"))
        return best

    if port in mod["ports"]:
        start = mod["ports"][port]["bits"]
    else:
        start = [b for name, c in mod["cells"].items() if _stops_paths(c) and name.startswith(port)
                 for b in _pins(c, "output")]
    return max((depth(b) for b in start if not isinstance(b, str)), default=-1)


def block_ram_output_loads(tmp_path: Path) -> tuple[int, int]:
    """In the netlist synth_cell_counts left in tmp_path: (block-RAM data output bits whose every load
    is a flip-flop's data input, those that reach logic first). Read after a write-port memory's
    read: yosys puts a bypass LUT there when it emulates a read-first collision."""
    mod, loads, _ = _netlist(tmp_path)
    direct = via_logic = 0
    for cell in mod["cells"].values():
        if cell["type"] in RAM_CELLS:
            for b in _pins(cell, "output"):
                sinks = loads.get(b, [])
                if sinks and all(c["type"] == "TRELLIS_FF" and p == "DI" for c, p in sinks):
                    direct += 1
                elif sinks:
                    via_logic += 1
    return direct, via_logic


def clock_enable_fanout(tmp_path: Path) -> dict:
    """In the ECP5 netlist synth_cell_counts left in tmp_path: {net: the flip-flops whose clock
    enable it drives}."""
    from collections import Counter

    mod, _, _ = _netlist(tmp_path)
    return Counter(c["connections"]["CE"][0] for c in mod["cells"].values()
                   if c["type"] == "TRELLIS_FF" and not isinstance(c["connections"].get("CE", ["-"])[0], str))


def outreg_stats(tmp_path: Path) -> dict:
    """The board build's block-RAM output-register pass (boards/outreg.py) on the ECP5 netlist that
    synth_cell_counts left in tmp_path: its counts ({ports, flip_flops, skipped})."""
    from boards.outreg import absorb_file

    return absorb_file(tmp_path / "net.json", tmp_path / "net_outreg.json")
