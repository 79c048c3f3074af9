"""Training and inference speed of every model, against the machine's own matrix-multiply speed.

    python benchmarks/speed.py [--models xgan cyclegan dtn] [--sizes 32 64] [--batch 32] [--variants shipped ...]
                               [--device auto] [--readme]
        final line: gemm_ratio <value>

For each model, size and variant, in a fresh process (so peak memory is that configuration's):
  train step     median wall time of the Trainer's own step (every optimiser) after warm-up, on random images;
                 images/s = batch / step time (one batch of each domain per step)
  FLOPs/step     torch.utils.flop_counter over one step (forward and backward of convolutions and matrix products)
  inference      latency of one image translated A->B, and images/s translating one batch, in inference mode
  peak memory    CUDA: peak allocated by PyTorch; CPU: the process's peak resident set (PyTorch itself included)
GEMM FLOP/s is the best of square fp32 matrix products (1024, 2048, 4096) on the same device, and gemm_ratio is
XGAN-64's achieved FLOP/s (FLOPs/step / step time) over it, in the shipped settings. On CUDA the default
variants add bf16 and fp16 autocast, and 'fp32' convolutions may use TF32 (PyTorch's cudnn default) while the
GEMM reference does not.

Models at their reference widths: XGAN with seed 001's layer table and the faces2cartoon losses (GAN on),
CycleGAN's ResNet generator with 64 filters, DTN's decoder at XGAN's width 1 on the printed-digit LeNet.
Variants change one thing each against 'shipped' (the defaults every run gets); 'a+b' combines two.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from readme_block import publish

from xgan.config import load_config
from xgan.data.task import ImageSet, Task
from xgan.devices import pick_device
from xgan.trainer import Trainer

PRESETS = {  # model -> preset and overrides giving the reference architecture
    "xgan": ("faces2cartoon", []),
    "cyclegan": ("cyclegan-digits", ["model.width=1.0"]),
    "dtn": ("dtn-digits", ["model.width=1.0"]),
}
VARIANTS = {  # name -> config overrides; 'unfused_adam' and 'conv_projection' undo one of our optimisations
    "shipped": [],
    "channels_last": ["train.channels_last=true"],
    "compile": ["train.compile=true"],
    "bf16": ["train.precision=bf16"],
    "fp16": ["train.precision=fp16"],
    "unfused_adam": [],
    "conv_projection": [],
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(call, device: torch.device, warmup: int, repeats: int, budget_s: float) -> float:
    """Median wall time of `call` after `warmup` calls; stops early (at 3 or more) once `budget_s` is spent."""
    for _ in range(warmup):
        call()
    times: list[float] = []
    while len(times) < repeats and (len(times) < 3 or sum(times) < budget_s):
        synchronize(device)
        start = time.perf_counter()
        call()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_flops_per_s(device: torch.device, dtype: torch.dtype = torch.float32) -> float:
    best = 0.0
    for n in (1024, 2048, 4096):
        x, y = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        seconds = median_seconds(lambda: x @ y, device, warmup=2, repeats=10, budget_s=5)
        best = max(best, 2 * n ** 3 / seconds)
    return best


def undo_optimisation(trainer: Trainer, variant: str) -> None:
    """The variants measuring what an optimisation we made is worth, by taking it away."""
    if variant == "unfused_adam":
        for optimizer in trainer.optimizers.values():
            for group in optimizer.param_groups:
                group["fused"] = None
    if variant == "conv_projection":
        from xgan.models.layers import ProjectTo4x4
        ProjectTo4x4.forward = torch.nn.ConvTranspose2d.forward


def measure(model_name: str, size: int, batch: int, variant: str, device_spec: str, steps: int, budget_s: float) -> dict:
    """One configuration, in this process."""
    preset, overrides = PRESETS[model_name]
    work = Path(tempfile.mkdtemp(prefix="xgan_speed_"))
    changes = [override for name in variant.split("+") for override in VARIANTS[name]]
    config = load_config(preset, [*overrides, *changes, f"data.image_size={size}", f"train.batch_size={batch}",
                                  f"train.device={device_spec}", "train.eval_every=0", "train.best_metric=",
                                  f"run_dir={work}"])
    generator = torch.Generator().manual_seed(0)
    images = [ImageSet(torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=generator))
              for n in (2 * batch, 2 * batch, batch, batch)]
    trainer = Trainer(config, task=Task(*images))
    for name in variant.split("+"):
        undo_optimisation(trainer, name)
    device = trainer.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    batches = [trainer.batch(step) for step in range(2)]
    counter = iter(range(10 ** 9))

    def train_step() -> None:
        trainer.train_step(batches[next(counter) % 2])

    step_s = median_seconds(train_step, device, warmup=3, repeats=steps, budget_s=budget_s)
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as flop_counter:
        train_step()
    model = trainer.model.eval()
    direction = model.directions[-1]
    one, many = batches[0].a[:1], batches[0].a
    with torch.inference_mode():
        latency_s = median_seconds(lambda: model.translate(one, to=direction), device, warmup=5, repeats=50, budget_s=5)
        batch_s = median_seconds(lambda: model.translate(many, to=direction), device, warmup=2, repeats=10, budget_s=5)
    peak = (torch.cuda.max_memory_allocated(device) if device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    flops = flop_counter.get_total_flops()
    shutil.rmtree(work, ignore_errors=True)
    return {"model": model_name, "size": size, "batch": batch, "variant": variant, "device": str(device),
            "step_ms": 1000 * step_s, "train_images_per_s": batch / step_s, "gflop_per_step": flops / 1e9,
            "achieved_gflop_per_s": flops / step_s / 1e9, "latency_ms": 1000 * latency_s,
            "inference_images_per_s": batch / batch_s, "peak_memory_mib": peak / 2 ** 20}


def run_isolated(args: argparse.Namespace, model: str, size: int, variant: str) -> dict | None:
    command = [sys.executable, __file__, "--one", model, str(size), variant, "--batch", str(args.batch),
               "--device", args.device, "--steps", str(args.steps), "--budget", str(args.budget)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{model} {size}px {variant}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    row = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{model} {size}px {variant}: {row['step_ms']:.1f} ms/step", file=sys.stderr, flush=True)
    return row


def table(rows: list[dict], gemm: float, device: torch.device, threads: int) -> str:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {threads} threads"
    half = f", bf16 GEMM {gemm_flops_per_s(device, torch.bfloat16) / 1e9:.1f} GFLOP/s" if device.type == "cuda" else ""
    lines = [f"{where}, torch {torch.__version__}; fp32 GEMM {gemm / 1e9:.1f} GFLOP/s{half}; batch {rows[0]['batch']}; "
             f"ratios in brackets are of fp32 GEMM.", "",
             "| model | px | variant | train step ms | train img/s | GFLOP/step | GFLOP/s (of GEMM) | 1-image latency ms "
             "| inference img/s | peak MiB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['size']} | {r['variant']} | {r['step_ms']:.1f} | {r['train_images_per_s']:.1f} "
                     f"| {r['gflop_per_step']:.1f} | {r['achieved_gflop_per_s']:.1f} ({r['achieved_gflop_per_s'] * 1e9 / gemm:.2f}) "
                     f"| {r['latency_ms']:.2f} | {r['inference_images_per_s']:.0f} | {r['peak_memory_mib']:.0f} |")
    return "\n".join(lines)


def variant_names(text: str) -> str:
    unknown = [name for name in text.split("+") if name not in VARIANTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown variant {', '.join(unknown)} (known: {', '.join(VARIANTS)})")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 64])
    parser.add_argument("--variants", nargs="+", type=variant_names,
                        help=f"any of {', '.join(VARIANTS)}, or two joined by '+' [shipped; on CUDA also bf16 fp16]")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20, help="timed train steps at most (at least 3)")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of timed steps per configuration")
    parser.add_argument("--readme", nargs="?", const="speed", help="also write the table into this README block")
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "SIZE", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        model, size, variant = args.one
        print(json.dumps(measure(model, int(size), args.batch, variant, args.device, args.steps, args.budget)))
        return 0

    device = pick_device(args.device)
    args.variants = args.variants or (["shipped", "bf16", "fp16"] if device.type == "cuda" else ["shipped"])
    rows = [row for model in args.models for size in args.sizes for variant in args.variants
            if (row := run_isolated(args, model, size, variant))]
    gemm = gemm_flops_per_s(device)
    text = table(rows, gemm, device, torch.get_num_threads())
    reference = [r for r in rows if (r["model"], r["size"], r["variant"]) == ("xgan", 64, "shipped")]
    ratio = reference[0]["achieved_gflop_per_s"] * 1e9 / gemm if reference else None
    if ratio is not None:
        text += f"\n\n`gemm_ratio` (XGAN-64, shipped, batch {args.batch}): **{ratio:.3f}**"
    publish(text, args.readme)
    if ratio is None:
        print("gemm_ratio needs xgan at 64 px in the shipped variant", file=sys.stderr)
        return 1
    print(f"gemm_ratio {ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
