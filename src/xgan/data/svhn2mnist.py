"""The seeds' digits task from the published files: SVHN cropped digits (A) -> MNIST (B)."""

from __future__ import annotations

from typing import Any

from xgan.data.mnist import load_mnist
from xgan.data.svhn import load_svhn
from xgan.data.task import Task, sized


def load_svhn2mnist(cfg: Any) -> Task:
    """The seeds' digits task from the published files: SVHN cropped digits (data.path_a) -> MNIST (data.path_b),
    official splits, labels kept for evaluation only; data.download fetches missing files into those folders."""
    if not (cfg.path_a and cfg.path_b):
        raise ValueError("data.task=svhn2mnist needs data.path_a (SVHN folder, *_32x32.mat) and data.path_b "
                         "(MNIST folder, *-ubyte.gz); data.download=true fetches them there")

    svhn = {split: sized(load_svhn(cfg.path_a, split, cfg.download), cfg.image_size, cfg.max_images)
            for split in ("train", "test")}
    mnist = {split: sized(load_mnist(cfg.path_b, split, cfg.download), cfg.image_size, cfg.max_images)
             for split in ("train", "test")}
    return Task(svhn["train"], mnist["train"], svhn["test"], mnist["test"])
