"""benchmarks/synth.synthesize: figures reused only for the same Verilog text and architecture.

The .v file in a work folder is shared by both architectures; after a unit's Verilog changes and
one architecture is re-run, the other architecture's old figures must not be taken for the new
text (they were, before the SHA-256 went into the meta file)."""
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from benchmarks.synth import synthesize


class Adder(wiring.Component):
    def __init__(self, width: int):
        self.width = width
        super().__init__({"a": In(width), "b": In(width), "s": Out(width + 1)})

    def elaborate(self, platform):
        m = Module()
        r = Signal(self.width + 1)
        m.d.sync += r.eq(self.a + self.b)
        m.d.comb += self.s.eq(r)
        return m


def test_reuse_only_for_the_same_text_and_arch(tmp_path):
    small = {arch: synthesize(Adder(4), "adder", arch, tmp_path, reuse=True) for arch in ("ice40", "ecp5")}
    assert not any(r.get("reused") for r in small.values())
    assert synthesize(Adder(4), "adder", "ecp5", tmp_path, reuse=True).get("reused")
    wide = synthesize(Adder(16), "adder", "ice40", tmp_path, reuse=True)
    assert not wide.get("reused") and wide["ff"] == 17 and small["ice40"]["ff"] == 5
    wide_ecp5 = synthesize(Adder(16), "adder", "ecp5", tmp_path, reuse=True)
    assert not wide_ecp5.get("reused") and wide_ecp5["ff"] == 17 and small["ecp5"]["ff"] == 5
