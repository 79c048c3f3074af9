"""Input-pipeline throughput at 64 px: decoding with 0, 1 and 2 worker processes, building and re-reading the cache,
and serving batches from it, against the XGAN-64 training step it feeds.

    python benchmarks/pipeline.py [--images 10000] [--readme]
        final line: pipeline_vs_step <batch images/s of the pipeline / images/s of the XGAN step>

It writes --images CelebA-sized JPEGs (178 x 218, smooth random content) into a temporary folder first (not timed).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from readme_block import publish

from speed import measure

from xgan.data.folders import decode_files
from xgan.data.task import ImageSet
from xgan.trainer import StepBatches


def write_jpegs(folder: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        small = rng.integers(0, 256, (14, 12, 3), dtype=np.uint8)  # upsampled: photo-like smoothness, JPEG-sized
        path = folder / f"{i:06d}.jpg"
        Image.fromarray(small).resize((178, 218), Image.BILINEAR).save(path, quality=90)
        paths.append(path)
    return paths


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--readme", action="store_true", help="also write the figures into README.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xgan_pipeline_"))
    (work / "images").mkdir()
    paths = write_jpegs(work / "images", args.images)

    decode = {w: args.images / timed(lambda w=w: decode_files(paths, 64, workers=w)) for w in (0, 1, 2)}
    build = timed(lambda: decode_files(paths, 64, cache=work / "cache"))
    build_10k = timed(lambda: decode_files(paths[:10000], 64, cache=work / "cache_10k")) if len(paths) > 10000 else build
    images = []
    reread = timed(lambda: images.append(decode_files(paths, 64, cache=work / "cache").images))
    batches = StepBatches(ImageSet(images[0]), 32, seed=0)
    steps = 2000
    served = steps * 32 / timed(lambda: [batches.batch(s, torch.device("cpu")) for s in range(steps)])
    step = measure("xgan", 64, 32, "shipped", "cpu", steps=10, budget_s=15)["step_ms"] / 1000
    consumed = 2 * 32 / step  # a step takes a batch of each domain

    text = (f"`python benchmarks/pipeline.py --images {args.images}`: {args.images} JPEGs of 178×218 decoded, "
            f"cropped and resized to 64 px, on this machine ({os.cpu_count()} cores, no GPU).\n\n"
            "| stage | figure |\n|---|---|\n"
            + "".join(f"| decode, {w} worker process{'es' if w != 1 else ''} | {rate:.0f} images/s |\n"
                      for w, rate in decode.items())
            + f"| first load, building the cache of the first {min(10000, args.images)} images (default workers) | {build_10k:.1f} s |\n"
            + f"| first load, building the cache ({args.images} images, default workers) | {build:.1f} s |\n"
            f"| later loads, reading the cache | {reread:.2f} s |\n"
            f"| batches served from memory (batch 32) | {served:,.0f} images/s |\n"
            f"| XGAN-64 training step (seed table, GAN on, batch 32 per domain) | {step:.2f} s = {consumed:.0f} images/s |\n")
    shutil.rmtree(work, ignore_errors=True)  # the JPEGs and caches: gigabytes at 100k images
    publish(text, "pipeline" if args.readme else None)
    print(f"pipeline_vs_step {served / consumed:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
