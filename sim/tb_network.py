"""cocotb testbench: the whole network (pixel streams) against the golden model's whole image."""
import cocotb

from sim.runner import load_vectors, write_result
from sim.streams import StreamBench, pack, reset, unpack


@cocotb.test()
async def network_matches_golden(dut):
    v, p = load_vectors()
    img, expected = v["image"], v["expected"]          # [H, W, colors], [H*r, W*r, colors]
    h, w, colors = img.shape
    dut.width.value = w
    dut.height.value = h
    await reset(dut)
    items = [pack(img[y, x], 8) for y in range(h) for x in range(w)]
    n_out = expected.shape[0] * expected.shape[1]
    bench = StreamBench(dut, {"i": items}, {"o": n_out}, p["p_bubble"], p["p_stall"], p["seed"], p["max_cycles"])
    out = await bench.run()
    got = [unpack(word, 8, colors) for word in out["o"]]
    ref = expected.reshape(-1, colors).tolist()
    bad = [i for i, (a, b) in enumerate(zip(got, ref)) if a != b]
    assert not bad, f"{len(bad)} of {n_out} pixels differ; first at {divmod(bad[0], expected.shape[1])}: got {got[bad[0]]} expected {ref[bad[0]]}"
    write_result({"cycles": bench.busy_cycles, "pixels": h * w})
