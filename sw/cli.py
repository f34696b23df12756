"""The `bbcu` command line: one entry point with subcommands."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click


class UserError(click.ClickException):
    """An error caused by the user's input: printed as one line, exit code 2."""

    exit_code = 2


def _fail_clean(fn):
    """Turn expected error types into one-line messages with a non-zero exit, not tracebacks."""
    import functools

    from .config import ConfigError
    from .program import ProgramError

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except (ConfigError, ProgramError, FileNotFoundError, ValueError, OSError) as e:
            raise UserError(str(e)) from None
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """BBCU binary image-restoration networks on open FPGAs."""


# --------------------------------------------------------------------------- train
@cli.command()
@click.argument("recipe", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Run folder (default runs/<recipe name>); resumes from its last.pt.")
@click.option("--iterations", type=int, default=None, help="Override the recipe's iteration count.")
@click.option("--no-resume", is_flag=True, help="Start from scratch even if a checkpoint exists.")
@_fail_clean
def train(recipe, out_dir, iterations, no_resume):
    """Train a float model from a RECIPE.yaml (resumable)."""
    from .train import Recipe, train as run_train

    r = Recipe.from_yaml(recipe)
    out_dir = out_dir or f"runs/{r.name}"
    ck = run_train(r, out_dir, resume=not no_resume, iterations=iterations)
    click.echo(f"checkpoint: {ck}")


# --------------------------------------------------------------------------- compile
@cli.command(name="compile")
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None,
              help="Program file (default: program.safetensors beside the checkpoint).")
@click.option("--feature-bits", type=click.IntRange(8, 24), default=16, show_default=True)
@click.option("--calib", type=click.Path(exists=True, file_okay=False), default=None,
              help="Calibration image folder (default: ../shared/datasets/T91, else bundled samples).")
@click.option("--calib-images", type=int, default=16, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@_fail_clean
def compile_cmd(checkpoint, out, feature_bits, calib, calib_images, as_json):
    """Compile a float CHECKPOINT into an integer hardware program."""
    from .compiler import compile_model
    from .model import load_checkpoint
    from .calibration import calibration_images

    model, _ = load_checkpoint(checkpoint)
    imgs = calibration_images(model.cfg, calib, calib_images)
    prog = compile_model(model, imgs, feature_bits)
    out = out or str(Path(checkpoint).with_name("program.safetensors"))
    digest = prog.save(out)
    info = {"program": out, "hash": digest, "feature_bits": prog.fmt.bits, "feature_frac": prog.fmt.frac,
            "layers": len(prog.layers), "calibration_images": len(imgs)}
    click.echo(json.dumps(info) if as_json else "\n".join(f"{k}: {v}" for k, v in info.items()))


# --------------------------------------------------------------------------- eval
@cli.command(name="eval")
@click.option("--model", "model_spec", default=None, help="Shipped model name or path (default x2-tiny).")
@click.option("--dataset", "datasets", multiple=True, required=True,
              help="Image folder or a dataset name under ../shared/datasets (repeatable).")
@click.option("--backend", default="float,golden", show_default=True, help="Comma list of float, golden.")
@click.option("--sigma", type=float, multiple=True, help="Noise levels (denoise models).")
@click.option("--quality", type=int, multiple=True, help="JPEG qualities (jpeg models).")
@click.option("--limit", type=int, default=None, help="Use only the first N images.")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--device", default=None, help="Torch device for the backends, e.g. cuda (default CPU).")
@_fail_clean
def eval_cmd(model_spec, datasets, backend, sigma, quality, limit, as_json, device):
    """Evaluate PSNR/SSIM against the baseline on benchmark datasets."""
    from .evaluate import evaluate, format_table

    rows = evaluate(model_spec, list(datasets), [b.strip() for b in backend.split(",") if b.strip()],
                    sigmas=list(sigma) or None, qualities=list(quality) or None, limit=limit,
                    device=device)
    click.echo(json.dumps(rows, indent=1) if as_json else format_table(rows))


# --------------------------------------------------------------------------- restore
@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(), help="Output file (one input) or folder.")
@click.option("--model", "model_spec", default=None, help="Shipped model name or path (default x2-tiny).")
@click.option("--backend", type=click.Choice(["golden", "float", "virtual", "serial"]), default="virtual",
              show_default=True, help="virtual: the Verilator virtual board; serial: a real board (--port).")
@click.option("--port", default=None, help="Serial device or pyserial URL (socket://127.0.0.1:PORT).")
@click.option("--baud", type=int, default=3_000_000, show_default=True,
              help="UART rate (serial); on the virtual board, the rate the link figures are computed for.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds of silence from the board before giving up [default: 10 serial, 60 virtual].")
@click.option("--sample", default=None, help="Use a photo bundled with scikit-image (e.g. astronaut).")
@click.option("--crop", type=click.IntRange(1), default=None, help="Centre-crop inputs to at most N x N pixels first.")
@click.option("--eval", "do_eval", is_flag=True,
              help="Degrade the input first (bicubic down / noise / JPEG), restore, compare with it.")
@click.option("--ref", type=click.Path(exists=True), default=None,
              help="Reference (ground-truth) image to compare the output with (PSNR/SSIM); a folder with several inputs.")
@click.option("--max-pixels", type=click.IntRange(1), default=None,
              help="Refuse input images with more pixels than this [default: Pillow's limit, 89478485].")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-image rows and the summary as JSON.")
@_fail_clean
def restore(inputs, out, model_spec, backend, port, baud, timeout, sample, crop, do_eval, ref, max_pixels, quiet,
            as_json):
    """Restore INPUT images (or --sample NAME) with a model; print a summary (time, link, PSNR/SSIM)."""
    from .driver import DriverError
    from .restore import format_summary, restore_files

    if not inputs and not sample:
        raise UserError("give INPUT files or --sample NAME")
    show = not (quiet or as_json) and sys.stderr.isatty()
    try:
        res = restore_files(list(inputs), out, model_spec, backend, sample=sample, do_eval=do_eval,
                            port=port, baud=baud, crop=crop, ref=ref, progress=show, timeout=timeout,
                            max_pixels=max_pixels)
    except DriverError as e:
        raise UserError(str(e)) from None
    except RuntimeError as e:
        if type(e).__name__ != "VirtualBoardError":     # sim.vboard: verilator missing, build failed
            raise
        raise UserError(str(e)) from None
    except MemoryError:
        raise UserError("out of memory; restore a crop (--crop N) or a smaller image") from None
    click.echo(json.dumps(res, indent=1) if as_json else format_summary(res))


# --------------------------------------------------------------------------- serve
@cli.command()
@click.option("--program", "model_spec", default=None, help="Program file or shipped model (default x2-tiny).")
@click.option("--port", type=int, default=7777, show_default=True, help="TCP port on 127.0.0.1 (0: any free port).")
@_fail_clean
def serve(model_spec, port):
    """Run the virtual board (Verilator model of the gateware) on 127.0.0.1:PORT."""
    from sim.vboard import VirtualBoard, build

    from .backends import virtual_build_config
    from .models import resolve

    prog = resolve(model_spec).load_program()
    binary = build(prog, virtual_build_config(), log=lambda m: click.echo(m, err=True))
    with VirtualBoard(binary, port) as vb:
        click.echo(f"virtual board for program {prog.content_hash[:12]} at {vb.url} (Ctrl-C to stop)")
        try:
            vb.proc.wait()
        except KeyboardInterrupt:
            pass


# --------------------------------------------------------------------------- build / program
@cli.command(name="build")
@click.option("--board", type=click.Choice(["icebreaker", "ulx3s", "ulx3s-85f"]), required=True)
@click.option("--program", "model_spec", default=None, help="Program file or shipped model (default x2-tiny).")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Build folder (default build/boards/<board>).")
@click.option("--fold", default="auto", show_default=True, help="auto (fastest fold predicted to fit the board), auto:N (at most N lanes per engine), "
                   "balanced[:N] (fastest fold, board-independent), min; ',shiftadd' for scale units "
                   "without multipliers; or a JSON file.")
@click.option("--freq", "freq_mhz", type=float, default=None, help="Target clock in MHz (default per board).")
@click.option("--max-width", type=int, default=None, help="Stripe width limit (LR pixels).")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--arch", type=click.Choice(["dataflow", "rowserial"]), default="dataflow", show_default=True,
              help="dataflow: one hardware unit per layer, parameters in the bitstream; rowserial: one "
                   "shared datapath, parameters loaded by the host (hw/rowserial, for the iCE40UP5K).")
@click.option("--placer", type=click.Choice(["static", "heap", "sa"]), default=None,
              help="nextpnr placer (default: the board's: static on the ULX3S, heap on the iCEBreaker).")
@click.option("--router", type=click.Choice(["router1", "router2"]), default=None,
              help="nextpnr router (default router1; the ULX3S base presets route with router2).")
@click.option("--json", "as_json", is_flag=True)
@_fail_clean
def build_cmd(board, model_spec, out_dir, fold, freq_mhz, max_width, seed, arch, placer, router, as_json):
    """Build a bitstream with the open toolchain (YoWASP) and report utilisation and Fmax."""
    from boards.build import BuildError, build

    from .models import resolve

    board = "ulx3s" if board.startswith("ulx3s") else board
    ref = resolve(model_spec)
    if ref.program is None:
        raise UserError(f"model {ref.name!r} has no compiled program; run 'bbcu compile' first")
    out_dir = out_dir or f"build/boards/{board}"
    try:
        rep = build(board, str(ref.program), out_dir, fold=fold, freq_mhz=freq_mhz, seed=seed, max_width=max_width,
                    top_options={"arch": arch} if arch != "dataflow" else None, log=lambda m: click.echo(m, err=True),
                    placer=placer, router=router)
    except BuildError as e:
        click.echo(json.dumps(e.report, indent=1) if as_json else str(e), err=not as_json)
        raise SystemExit(1) from None
    keys = ("board", "fits", "meets_timing", "fmax_mhz", "target_mhz", "utilisation", "bitstream", "build_seconds")
    click.echo(json.dumps(rep, indent=1) if as_json else "\n".join(f"{k}: {rep.get(k)}" for k in keys))


@cli.command(name="program")
@click.option("--board", type=click.Choice(["icebreaker", "ulx3s", "ulx3s-85f"]), required=True)
@click.option("--bitstream", type=click.Path(dir_okay=False), default=None,
              help="Bitstream (default: the last `bbcu build` of this board).")
@click.option("--flash", is_flag=True, help="Write the SPI flash instead of SRAM.")
@_fail_clean
def program_cmd(board, bitstream, flash):
    """Program a board with openFPGALoader (or iceprog); fails clearly when no board is attached."""
    from boards.build import ProgrammerError, program

    board = "ulx3s" if board.startswith("ulx3s") else board
    if bitstream is None:
        rep = Path(f"build/boards/{board}/build_report.json")
        if not rep.exists():
            raise UserError(f"no bitstream given and no build in build/boards/{board}; run 'bbcu build --board {board}'")
        bitstream = json.loads(rep.read_text()).get("bitstream")
        if not bitstream:
            raise UserError(f"the last build of {board} produced no bitstream (see {rep})")
    try:
        click.echo(program(board, bitstream, flash=flash))
    except ProgrammerError as e:
        raise UserError(str(e)) from None


# --------------------------------------------------------------------------- bench
@cli.command()
@click.option("--model", "model_spec", default=None)
@click.option("--backend", type=click.Choice(["golden", "virtual"]), default="golden", show_default=True,
              help="golden: software model speed; virtual: the accelerator on the virtual board.")
@click.option("--size", type=int, default=None,
              help="golden: square input size (default 256); virtual: centre crop (default 64 for the bundled "
                   "photo, whole image for --image/--dataset).")
@click.option("--config", "preset", default=None, help="Benchmark a random network of a preset (e.g. x2-tiny).")
@click.option("--image", default=None, help="virtual: one image file, or DATASET/NAME.png under the datasets folder "
              "(SR: bicubic-downscaled first); --size crops it (0: whole image).")
@click.option("--dataset", default=None, help="virtual: every image of a dataset (e.g. Set5), whole unless --size.")
@click.option("--max-width", type=click.IntRange(8), default=None, help="virtual: stripe width limit of the board build.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-o", "--out", type=click.Path(dir_okay=False), default=None, help="Also write the JSON here.")
@_fail_clean
def bench(model_spec, backend, size, preset, image, dataset, max_width, as_json, out):
    """Benchmarks: golden-model speed, or the accelerator on the virtual board."""
    from .benchmark import golden_speed, virtual_bench

    if backend == "golden":
        res = golden_speed(model_spec, size or 256, preset)
    else:
        crop = size if size else (None if image or dataset else 64)
        res = virtual_bench(model_spec, crop=crop, image=image, dataset=dataset, max_width=max_width)
    if out:
        Path(out).write_text(json.dumps(res, indent=1) + "\n")
    click.echo(json.dumps(res) if as_json else "\n".join(f"{k}: {v}" for k, v in res.items()))


def main():
    cli(prog_name="bbcu")


if __name__ == "__main__":
    main()
