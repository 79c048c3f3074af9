from __future__ import annotations

import dataclasses

import pytest
import torch

from xgan.config import Config, load_config
from xgan.data import ImageSet, Task

# A model small enough to train in a second on two CPU cores, on a digits task small enough to render at once.
TINY_RUN = ["data.image_size=16", "data.printed_train=96", "data.printed_test=16", "train.batch_size=8",
            "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=2", "train.eval_every=0",
            "train.best_metric=", "train.lr_decay_fraction=0"]  # tests that evaluate say so
TINY_MODEL = {"xgan": ["model.width=0.125", "model.embedding_dim=32"], "dtn": ["model.width=0.125"],
              "cyclegan": ["model.width=0.125", "model.residual_blocks=1"]}
TINY = TINY_MODEL["xgan"] + TINY_RUN
# generic size knobs, set where a model's config has them, so that every model trains in seconds
SMALL = {"width": "0.125", "embedding_dim": "32", "residual_blocks": "1", "shared_blocks": "1",
         "one_shot_start": "0"}  # a phase start, a fraction of train.steps, is off as lr decay is in TINY_RUN: the
                                 # registry test resumes a 2-step run to 4 steps, which would move it


def tiny_overrides(name: str) -> list[str]:
    """TINY_RUN and the SMALL knobs that model `name`'s config has."""
    from xgan.models import MODELS
    keys = {f.name for f in dataclasses.fields(MODELS[name].config_class)}
    paired = ["data.task=edges2digits", "data.max_images=64", "model.discriminator_layers=2"] \
        if MODELS[name].paired else []  # a 70x70 PatchGAN has no output at 16 px
    return [*TINY_RUN, *paired, *(f"model.{k}={v}" for k, v in SMALL.items() if k in keys)]


@pytest.fixture(autouse=True, scope="session")
def isolated_cache(tmp_path_factory):
    """Rendered digits and trained classifiers go to a per-session cache, never the user's (session-scoped, so
    it is in place before any module-scoped fixture trains something)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XGAN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        yield


@pytest.fixture
def tiny_config(tmp_path):
    def make(*overrides: str) -> Config:
        return load_config("digits", [*TINY, f"run_dir={tmp_path / 'run'}", *overrides])
    return make


def random_task(size: int = 16, count: int = 32, seed: int = 0) -> Task:
    g = torch.Generator().manual_seed(seed)

    def images() -> ImageSet:
        return ImageSet(torch.randint(0, 256, (count, 3, size, size), generator=g, dtype=torch.uint8),
                        torch.randint(0, 10, (count,), generator=g))
    return Task(images(), images(), images(), images())


def dark_and_bright_task(size: int = 16, count: int = 64) -> Task:
    """A: flat dark images (0..63), B: flat bright ones (192..255), both splits alike: a translator into B
    brightens, into A darkens (one generator told the target: StarGAN, StarGAN v2)."""
    g = torch.Generator().manual_seed(0)
    dark = torch.randint(0, 64, (count, 1, 1, 1), generator=g).expand(count, 3, size, size).to(torch.uint8)
    bright = torch.randint(192, 256, (count, 1, 1, 1), generator=g).expand(count, 3, size, size).to(torch.uint8)
    dark, bright = ImageSet(dark.contiguous()), ImageSet(bright.contiguous())
    return Task(dark, bright, dark, bright)


def pattern_set(count: int, seed: int, size: int = 16) -> ImageSet:
    """Class k is a bright 4x4 block at the k-th position of a 4x4 layout, over mild noise: trivially learnable."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    images = torch.randint(0, 60, (count, 3, size, size), generator=g, dtype=torch.uint8)
    for i, k in enumerate(labels.tolist()):
        row, col = divmod(k, 4)
        images[i, :, row * 4:row * 4 + 4, col * 4:col * 4 + 4] = 230
    return ImageSet(images, labels)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A run directory holding a tiny digits XGAN trained for 4 steps; tests must not modify it."""
    from xgan.cli import main

    run = tmp_path_factory.mktemp("tiny") / "run"
    assert main(["train", "digits", *TINY, "train.steps=4", "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="session")
def munit_run(tmp_path_factory):
    """A run directory holding a tiny digits MUNIT (style codes, a style encoder) trained for 1 step; read only."""
    from xgan.cli import main

    run = tmp_path_factory.mktemp("munit") / "run"
    assert main(["train", "munit-digits", *tiny_overrides("munit"), "model.mlp_dim=16", "train.steps=1",
                 "--out", str(run)]) == 0
    return run
