"""A checkpoint of a freshly initialised model: speed and export figures do not depend on the weights, so these
benchmarks need no training run (pass a real checkpoint to measure that one instead)."""

from __future__ import annotations

from pathlib import Path

import torch

from xgan.checkpoint import save_checkpoint
from xgan.config import load_config
from xgan.models import build_model


def untrained_run(preset: str, overrides: list[str], run_dir: Path) -> Path:
    config = load_config(preset, [*overrides, f"run_dir={run_dir}"])
    torch.manual_seed(config.train.seed)
    save_checkpoint(run_dir, 0, build_model(config), config, {"step": 0}, keep=1)
    return run_dir
