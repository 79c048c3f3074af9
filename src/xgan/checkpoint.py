"""Checkpoints: a directory per snapshot, written atomically, that a kill mid-write can never corrupt.

    RUN/checkpoints/step_00000600/model.safetensors   weights (shared layers stored once)
                                  ema.safetensors     their moving average, with train.ema (what inference reads)
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
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from xgan.config import Config, load_config, to_yaml
from xgan.io import atomic_write_dir, atomic_write_text
from xgan.models import build_model

WEIGHTS, EMA = "model.safetensors", "ema.safetensors"
STATE, CONFIG, LATEST = "training_state.pt", "config.yaml", "latest"


class CheckpointError(ValueError):
    pass


def checkpoint_root(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def snapshot_step(path: Path) -> int:
    """The step in a snapshot directory's name (step_00000600 -> 600); -1 for another name (best)."""
    return int(path.name[5:]) if path.name.startswith("step_") and path.name[5:].isdigit() else -1


def clean_leftovers(run_dir: str | Path) -> None:
    """Remove what a kill mid-write left in a run: temporary snapshot directories and files (.NAME.XXXX.tmp*),
    and a replaced snapshot's old copy (.NAME.old), put back if the kill came before its replacement landed."""
    for folder in (Path(run_dir), checkpoint_root(run_dir), Path(run_dir) / "samples"):
        if not folder.is_dir():
            continue
        for leftover in folder.glob(".*"):
            if leftover.name.endswith(".old") and leftover.is_dir():
                kept = folder / leftover.name[1:-len(".old")]
                if kept.exists():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.rename(kept)
            elif ".tmp" in leftover.name:
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)


def nonfinite_tensor(model: torch.nn.Module) -> str | None:
    """The name of the first floating-point tensor of the model's state that holds NaN/inf, if any."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            return name
    return None


def save_snapshot(path: Path, model: torch.nn.Module, config: Config, state: dict[str, Any],
                  extra: dict[str, str] | None = None, ema: torch.nn.Module | None = None) -> Path:
    """Write one snapshot directory atomically (replacing any old one); `extra` maps file names to text, `ema` is
    the weights' moving average."""
    for weights in (model, ema) if ema is not None else (model,):
        if (name := nonfinite_tensor(weights)) is not None:
            raise CheckpointError(f"refusing to save {path.name}: parameter '{name}' holds NaN/inf")

    def fill(tmp: Path) -> None:
        save_model(model, str(tmp / WEIGHTS))
        if ema is not None:
            save_model(ema, str(tmp / EMA))
        torch.save(state, tmp / STATE)
        (tmp / CONFIG).write_text(to_yaml(config))
        for file, text in (extra or {}).items():
            (tmp / file).write_text(text)

    try:
        atomic_write_dir(path, fill)
    except (OSError, SafetensorError) as e:  # a full disk, a read-only folder: atomic_write_dir left nothing
        raise CheckpointError(f"cannot write checkpoint {path}: {getattr(e, 'strerror', None) or e}") from None
    return path


def save_checkpoint(run_dir: str | Path, step: int, model: torch.nn.Module, config: Config, state: dict[str, Any],
                    keep: int, ema: torch.nn.Module | None = None) -> Path:
    """Write snapshot `step`, point `latest` at it, and delete all but the newest `keep` snapshots."""
    root = checkpoint_root(run_dir)
    path = save_snapshot(root / f"step_{step:08d}", model, config, state, ema=ema)
    atomic_write_text(root / LATEST, path.name + "\n")
    older = sorted((p for p in root.glob("step_*") if 0 <= snapshot_step(p) < step), key=snapshot_step)
    for old in older[:max(0, len(older) - (keep - 1))]:
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


def load_weights(model: torch.nn.Module, snapshot: Path, exact: bool = True, file: str = WEIGHTS) -> None:
    """The snapshot's weights (`file`: WEIGHTS, or EMA for their average) into `model`; refused if any of them holds
    NaN/inf (it would translate to black). exact=False: the snapshot may hold more (a model built for inference has
    no discriminators), never less."""
    path = snapshot / file
    try:
        missing, _ = load_model(model, str(path), strict=exact)
    except Exception as e:  # safetensors raises several types for truncated or mismatched files
        raise CheckpointError(f"{path}: cannot load weights ({e})") from None
    if missing:
        raise CheckpointError(f"{path}: cannot load weights (missing: {', '.join(sorted(missing))})")
    if (name := nonfinite_tensor(model)) is not None:
        raise CheckpointError(f"{path}: tensor '{name}' holds NaN/inf; the checkpoint is unusable")


def load_trained(path: str | Path, device: torch.device | str = "cpu",
                 training: bool = False) -> tuple[torch.nn.Module, Config, Path]:
    """(model in eval mode, its config, the snapshot directory) from a checkpoint or run directory; built for
    translation only, or with training=True whole (discriminators, pools: what its losses need). A run trained
    with train.ema translates with the weights' average."""
    snapshot = resolve_checkpoint(path)
    config = load_config_of(snapshot)
    model = build_model(config, device, training, pretrained=False)  # the weights come next, from the snapshot
    load_weights(model, snapshot, exact=training, file=EMA if (snapshot / EMA).is_file() else WEIGHTS)
    return model.eval(), config, snapshot


def load_state(snapshot: Path) -> dict[str, Any]:
    try:
        state = torch.load(snapshot / STATE, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{snapshot / STATE}: cannot load training state ({e})") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise CheckpointError(f"{snapshot / STATE}: not a training state (no step)")
    return state
