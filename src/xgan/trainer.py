"""The one Trainer every model trains with: data order, optimisers, NaN guard, logging, samples, checkpoints.

A model only exposes `optimizer_groups()` and `losses(phase, a, b)`; each step runs every optimiser in turn
on the sum of its weighted loss terms. Batches are a pure function of (seed, step), and checkpoints hold the
optimiser and RNG states, so `--resume` continues exactly where the run stopped.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from xgan.checkpoint import checkpoint_root, load_state, load_weights, resolve_checkpoint, save_checkpoint, save_snapshot
from xgan.config import Config, to_yaml
from xgan.data import ImageSet, Task, load_task
from xgan.data.task import to_model_range
from xgan.distributed import barrier, join, local_device, mean_over_ranks, wrap
from xgan.io import atomic_write_text
from xgan.models import MODELS, Losses, TranslationModel
from xgan.samples import save_image, translation_grid

log = logging.getLogger("xgan")
SAMPLE_COUNT = 8


class NonFiniteLossError(RuntimeError):
    pass


def pick_device(spec: str = "auto") -> torch.device:
    if spec != "auto":
        return torch.device(spec)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def build_model(config: Config, device: torch.device | str = "cpu") -> TranslationModel:
    return MODELS[config.model.name](config.model, config.data.image_size).to(device)


def make_optimizer(params: list[torch.nn.Parameter], lr: float, betas: tuple[float, float],
                   device: torch.device) -> torch.optim.Adam:
    """Adam, fused into one kernel per step where PyTorch has one for the device (CPU and CUDA)."""
    return torch.optim.Adam(params, lr=lr, betas=betas, fused=True if device.type in ("cpu", "cuda") else None)


AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class StepBatches:
    """Batch indices of step t: slice t of a per-epoch permutation seeded by (seed, epoch); drops the remainder.
    Distributed, rank r of n takes every n-th image of that global batch, starting at r."""

    def __init__(self, images: ImageSet, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if len(images) < batch_size:
            raise ValueError(f"the training set has {len(images)} images, fewer than train.batch_size={batch_size}")
        if batch_size % world_size:
            raise ValueError(f"train.batch_size={batch_size} (the global batch) must divide by the {world_size} processes")
        self.images, self.batch_size, self.seed = images, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.per_epoch = len(images) // batch_size
        self._epoch, self._order = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        epoch, position = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._order = epoch, torch.randperm(len(self.images), generator=generator)
        return self._order[position * self.batch_size:(position + 1) * self.batch_size]

    def local_indices(self, step: int) -> torch.Tensor:
        """This rank's share of step `step`'s global batch."""
        return self.indices(step)[self.rank::self.world_size]

    def batch(self, step: int, device: torch.device) -> torch.Tensor:
        return to_model_range(self.images.images[self.local_indices(step)].to(device, non_blocking=True))

    def labels(self, step: int, device: torch.device) -> torch.Tensor:
        """The class labels of `batch(step)`, in the same order."""
        return self.images.labels[self.local_indices(step)].to(device, non_blocking=True)


class Trainer:
    def __init__(self, config: Config, resume: str | Path | None = None, task: Task | None = None) -> None:
        self.config, cfg = config, config.train
        self.run_dir = Path(config.run_dir)
        device = pick_device(cfg.device)
        self.world = join(device)
        self.device = local_device(device, self.world)
        torch.manual_seed(cfg.seed)
        self.task = task or load_task(config.data)
        self.model = build_model(config, self.device)
        self.check_labels_a(config)
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        if cfg.compile:  # each network on its own: compiling model.losses whole recompiled at every step (GPU)
            for module in self.model.modules():
                if isinstance(module, nn.Sequential) and not any(isinstance(m, nn.Sequential) for m in module.children()):
                    module.compile()
        self.optimizers = {
            name: make_optimizer(params, cfg.discriminator_lr if name.startswith("discriminator") else cfg.lr,
                                 (cfg.beta1, cfg.beta2), self.device)
            for name, params in self.model.optimizer_groups().items()
        }
        self.autocast_dtype = AUTOCAST_DTYPES[cfg.precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.parallel = wrap(self.model, self.device, self.world)
        shard = (self.world.rank, self.world.size)
        self.batches_a = StepBatches(self.task.train_a, cfg.batch_size, cfg.seed * 2, *shard)
        self.batches_b = StepBatches(self.task.train_b, cfg.batch_size, cfg.seed * 2 + 1, *shard)
        self.fixed_a, self.fixed_b = (to_model_range(s.spread(SAMPLE_COUNT).images).to(self.device)
                                      for s in (self.task.test_a, self.task.test_b))
        self.step = 0
        self.skipped_steps = 0
        self.best: dict[str, Any] | None = None  # {"metric", "value", "step"} of checkpoints/best
        self._evaluator = None
        self._writer = None
        if resume is not None:
            self.restore(resolve_checkpoint(resume))

    def check_labels_a(self, config: Config) -> None:
        classes, labels = self.model.label_classes_a, self.task.train_a.labels
        if not classes:
            return
        if labels is None:
            raise ValueError(f"model {config.model.name} trains on domain A's class labels (model.weights.task_tower), "
                             f"and data.task '{config.data.task}' has none")
        if int(labels.min()) < 0 or int(labels.max()) >= classes:
            raise ValueError(f"domain A's labels span {int(labels.min())}..{int(labels.max())}, outside the model's "
                             f"{classes} classes (model.task_classes)")

    # -- one step ------------------------------------------------------------------------------------------
    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(a, b, labels of a): the labels only for a model that trains on them."""
        a, b = (batches.batch(step, self.device).contiguous(memory_format=self.memory_format)
                for batches in (self.batches_a, self.batches_b))
        return a, b, self.batches_a.labels(step, self.device) if self.model.label_classes_a else None

    def compute_losses(self, phase: str, a: torch.Tensor, b: torch.Tensor, labels_a: torch.Tensor | None = None) -> Losses:
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            losses_of = self.parallel if self.parallel is not None else self.model.losses
            return losses_of(phase, a, b, labels_a)

    def lr_factor(self) -> float:
        """Multiplier of every learning rate at this step: 1, then linearly to 0 over the last lr_decay_steps (or
        lr_decay_fraction of the steps)."""
        cfg = self.config.train
        decay_steps = cfg.lr_decay_steps or round(cfg.lr_decay_fraction * cfg.steps)
        if not decay_steps:
            return 1.0
        return min(1.0, (cfg.steps - self.step) / (decay_steps + 1))

    def train_step(self, a: torch.Tensor, b: torch.Tensor, labels_a: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Every optimiser in turn minimises its weighted loss terms; returns the (detached) terms for logging."""
        logged: dict[str, torch.Tensor] = {}
        factor = self.lr_factor()
        for phase, optimizer in self.optimizers.items():
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * factor
            losses = self.compute_losses(phase, a, b, labels_a)
            if not losses:
                continue
            total = sum(weight * value for weight, value in losses.values())
            optimizer.zero_grad(set_to_none=True)
            if mean_over_ranks(torch.isfinite(total).float()) < 1:  # every rank takes the same branch
                self.handle_nonfinite(phase, losses, total)
                return {}  # skip the rest of the step too: later phases would learn from poisoned outputs
            self.scaler.scale(total).backward()
            self.scaler.step(optimizer)
            logged.update({f"{phase}/{name}": value.detach() for name, (_, value) in losses.items()})
            logged[f"{phase}/total"] = total.detach()
        self.scaler.update()
        return logged

    def handle_nonfinite(self, phase: str, losses: Losses, total: torch.Tensor) -> None:
        bad = [f"{name}={float(value.detach())}" for name, (_, value) in losses.items() if not torch.isfinite(value)]
        here = "weighted sum overflowed" if not torch.isfinite(total) else "in another process"
        message = f"step {self.step + 1}: non-finite {phase} loss ({', '.join(bad) or here})"
        if self.config.train.on_nonfinite == "stop":
            raise NonFiniteLossError(message + "; stopping before anything is saved (train.on_nonfinite=skip to skip)")
        self.skipped_steps += 1
        log.warning("%s; update skipped", message)

    # -- the loop ------------------------------------------------------------------------------------------
    def fit(self) -> Path | None:
        cfg = self.config.train
        if self.world.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.run_dir / "config.yaml", to_yaml(self.config))
        log.info("training %s on %s for %d steps into %s", self.config.model.name, self.device, cfg.steps, self.run_dir)
        last_saved = None
        progress = tqdm(total=cfg.steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True,
                        disable=None if self.world.is_main else True)
        started, first_step = time.perf_counter(), self.step
        while self.step < cfg.steps:
            logged = self.train_step(*self.batch(self.step))
            self.step += 1
            progress.update(1)
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                logged = {k: mean_over_ranks(v) for k, v in logged.items()}  # a collective: every rank logs
                scalars = {k: float(v) for k, v in logged.items()} | {f"stats/{k}": v for k, v in self.model.stats().items()}
                scalars["speed/steps_per_s"] = (self.step - first_step) / (time.perf_counter() - started)
                self.log_scalars(scalars)
                progress.set_postfix({k.split("/")[-1]: f"{v:.3g}" for k, v in scalars.items() if k.startswith("autoencoder/") or "gan" in k})
            self.check_collapse()  # on every rank: with train.on_collapse=stop they all stop together
            if not self.world.is_main:
                continue
            if self.step % cfg.sample_every == 0 or self.step == cfg.steps:
                self.save_samples()
            if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
                self.evaluate()
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                last_saved = self.save()
        progress.close()
        barrier()  # the other ranks wait for rank 0's last checkpoint
        if self._writer is not None:
            self._writer.close()
        return last_saved

    # -- outputs -------------------------------------------------------------------------------------------
    @property
    def writer(self):
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter  # heavy import, only when logging starts
            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"))
        return self._writer

    def log_scalars(self, scalars: dict[str, float]) -> None:
        if not self.world.is_main:
            return
        for name, value in scalars.items():
            if math.isfinite(value):
                self.writer.add_scalar(name, value, self.step)
        self.writer.flush()

    def save_samples(self) -> Path:
        path = self.run_dir / "samples" / f"step_{self.step:08d}.png"
        save_image(translation_grid(self.model, self.fixed_a, self.fixed_b), path)
        return path

    def check_collapse(self) -> dict[str, float] | None:
        """At train.collapse_every (and the last step): the collapse measures on fixed test images, logged under
        collapse/; a spread below the threshold warns, or raises CollapseError with train.on_collapse=stop."""
        from xgan.evaluation.collapse import BATCH, SPREAD_THRESHOLD, CollapseError, collapse_measures, collapsed

        cfg = self.config.train
        every = cfg.sample_every if cfg.collapse_every is None else cfg.collapse_every
        if not every or (self.step % every and self.step != cfg.steps):
            return None
        # more images than the sample grid's, for a stable spread; the same ones at every check
        a, b = (to_model_range(s.spread(BATCH).images).to(self.device) for s in (self.task.test_a, self.task.test_b))
        measures = collapse_measures(self.model, a, b)
        self.log_scalars({f"collapse/{name}": value for name, value in measures.items()})
        low = collapsed(measures)
        if not mean_over_ranks(torch.tensor(float(bool(low)), device=self.device)):  # every rank takes one branch
            return measures
        figures = ", ".join(f"{name}={measures[name]:.4f}" for name in low) or "in another process"
        message = (f"step {self.step}: the outputs no longer depend on the inputs ({figures}, below "
                   f"{SPREAD_THRESHOLD}; all: {', '.join(f'{k}={v:.4f}' for k, v in measures.items())})")
        if cfg.on_collapse == "stop":
            raise CollapseError(message + "; stopping before this step is saved (train.on_collapse=warn only warns)")
        log.warning("%s", message)
        return measures

    def evaluate(self) -> dict[str, float]:
        """xgan eval's metrics on a fixed test subset, logged under eval/; keeps checkpoints/best up to date."""
        from xgan.evaluation.evaluate import Evaluator
        from xgan.evaluation.metrics import higher_is_better

        cfg = self.config.train
        if self._evaluator is None:  # built on first use: it may train (and cache) the judging classifiers
            self._evaluator = Evaluator(self.task, self.config.data.task, cfg.eval_count, device=self.device)
        metrics = self._evaluator(self.model).metrics
        self.log_scalars({f"eval/{name}": value for name, value in metrics.items()})
        log.info("step %d: %s", self.step, ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        if cfg.best_metric:
            if cfg.best_metric not in metrics:
                raise ValueError(f"train.best_metric '{cfg.best_metric}' is not measured for this model and task "
                                 f"(measured: {', '.join(metrics)})")
            value = metrics[cfg.best_metric]
            improved = self.best is None or (value > self.best["value"] if higher_is_better(cfg.best_metric)
                                             else value < self.best["value"])
            if improved and math.isfinite(value):
                self.best = {"metric": cfg.best_metric, "value": value, "step": self.step}
                save_snapshot(checkpoint_root(self.run_dir) / "best", self.model, self.config, self.training_state(),
                              extra={"metrics.json": json.dumps({"step": self.step, "metrics": metrics}, indent=2)})
        return metrics

    def training_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "skipped_steps": self.skipped_steps,
            "best": self.best,
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "grad_scaler": self.scaler.state_dict(),
        }

    def save(self) -> Path:
        return save_checkpoint(self.run_dir, self.step, self.model, self.config, self.training_state(),
                               keep=self.config.train.keep_checkpoints)

    def restore(self, snapshot: Path) -> None:
        load_weights(self.model, snapshot)
        state = load_state(snapshot)
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.step, self.skipped_steps = int(state["step"]), int(state.get("skipped_steps", 0))
        self.best = state.get("best")
        if state.get("grad_scaler"):
            self.scaler.load_state_dict(state["grad_scaler"])
        torch.set_rng_state(state["rng_cpu"])
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        log.info("resumed from %s at step %d", snapshot, self.step)
