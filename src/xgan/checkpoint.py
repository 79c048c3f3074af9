"""Checkpoints: a directory per snapshot, written atomically, that a kill mid-write can never corrupt.

    RUN/checkpoints/step_00000600/model.safetensors   weights (shared layers stored once)
                                  training_state.pt   optimisers, step, RNG states (loaded weights_only)
                                  config.yaml         the resolved config of the run
    RUN/checkpoints/latest                            name of the newest complete snapshot
    RUN/checkpoints/best/                             the snapshot scoring best on train.best_metric, + metrics.json
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model

from xgan.config import Config, load_config, to_yaml
from xgan.io import atomic_write_dir, atomic_write_text

WEIGHTS, STATE, CONFIG, LATEST = "model.safetensors", "training_state.pt", "config.yaml", "latest"


class CheckpointError(ValueError):
    pass


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def save_snapshot(path: Path, model: torch.nn.Module, config: Config, state: dict[str, Any],
                  extra: dict[str, str] | None = None) -> Path:
    """Write one snapshot directory atomically (replacing any old one); `extra` maps file names to text."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckpointError(f"refusing to save {path.name}: parameter '{name}' holds NaN/inf")

    def fill(tmp: Path) -> None:
        save_model(model, str(tmp / WEIGHTS))
        torch.save(state, tmp / STATE)
        (tmp / CONFIG).write_text(to_yaml(config))
        for file, text in (extra or {}).items():
            (tmp / file).write_text(text)

    atomic_write_dir(path, fill)
    return path


def save_checkpoint(run_dir: str | Path, step: int, model: torch.nn.Module, config: Config, state: dict[str, Any],
                    keep: int) -> Path:
    """Write snapshot `step`, point `latest` at it, and delete all but the newest `keep` snapshots."""
    root = checkpoint_root(run_dir)
    path = save_snapshot(root / f"step_{step:08d}", model, config, state)
    atomic_write_text(root / LATEST, path.name + "\n")
    for old in sorted(root.glob("step_*"))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def resolve_checkpoint(path: str | Path) -> Path:
    """A snapshot directory, given it, a run directory (its latest snapshot) or a checkpoints/ directory."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if (path / WEIGHTS).is_file():
        return path
    for root in (path, checkpoint_root(path)):
        if (root / LATEST).is_file():
            snapshot = root / (root / LATEST).read_text().strip()
            if (snapshot / WEIGHTS).is_file():
                return snapshot
            raise CheckpointError(f"{root / LATEST} names {snapshot.name}, which has no {WEIGHTS}")
    raise CheckpointError(f"{path} is not a checkpoint (no {WEIGHTS}) nor a run directory with checkpoints")


def load_config_of(snapshot: Path, overrides: list[str] = ()) -> Config:
    return load_config(str(snapshot / CONFIG), overrides)


def load_weights(model: torch.nn.Module, snapshot: Path) -> None:
    try:
        load_model(model, str(snapshot / WEIGHTS), strict=True)
    except Exception as e:  # safetensors raises several types for truncated or mismatched files
        raise CheckpointError(f"{snapshot / WEIGHTS}: cannot load weights ({e})") from None


def load_trained(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, Config, Path]:
    """(model in eval mode, its config, the snapshot directory) from a checkpoint or run directory."""
    from xgan.trainer import build_model

    snapshot = resolve_checkpoint(path)
    config = load_config_of(snapshot)
    model = build_model(config, device)
    load_weights(model, snapshot)
    return model.eval(), config, snapshot


def load_state(snapshot: Path) -> dict[str, Any]:
    try:
        return torch.load(snapshot / STATE, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{snapshot / STATE}: cannot load training state ({e})") from None
