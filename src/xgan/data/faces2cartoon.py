"""The paper's task: CelebA faces (A) -> CartoonSet cartoons (B)."""

from __future__ import annotations

from typing import Any

from xgan.cache import cache_dir
from xgan.data.cartoonset import load_cartoonset
from xgan.data.celeba import load_celeba
from xgan.data.folders import split
from xgan.data.task import Task


def load_faces2cartoon(cfg: Any) -> Task:
    """The paper's task from a DataConfig: CelebA (data.path_a, official splits) -> CartoonSet (data.path_b,
    data.test_fraction of it held out, spread through it)."""
    if not (cfg.path_a and cfg.path_b):
        raise ValueError("data.task=faces2cartoon needs data.path_a (CelebA root) and data.path_b (CartoonSet root)")
    cache = cache_dir() / "folders"
    faces = {split: load_celeba(cfg.path_a, split, cfg.image_size, cfg.max_images, cfg.strict, cache)
             for split in ("train", "test")}
    cartoons = load_cartoonset(cfg.path_b, cfg.image_size, None, cfg.strict, cache)
    train_b, test_b = split(cartoons, cfg.test_fraction)
    limit = cfg.max_images
    return Task(faces["train"], train_b.spread(limit), faces["test"], test_b.spread(limit))
