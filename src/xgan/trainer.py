"""The one Trainer every model trains with: data order, optimisers, NaN guard, logging, samples, checkpoints.

A model declares its phases (models/base.py: which parameters each optimiser updates, with which optimiser (Adam
or RMSprop) and settings, how often, whether they are clipped after each update) and `losses(phase, batch)`; each
step runs every due phase in turn on the sum of its weighted loss terms. The Trainer knows no model and no phase by
name. Batches are a pure function of (seed, step), and checkpoints hold the optimiser and RNG states, so `--resume`
continues exactly where the run stopped.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from xgan.checkpoint import (EMA, CheckpointError, checkpoint_root, clean_leftovers, load_state, load_weights,
                             resolve_checkpoint, save_checkpoint, save_snapshot, snapshot_step)
from xgan.config import Config, to_yaml
from xgan.data.augment import crop_and_flip, resized, rotate
from xgan.data.registry import PAIRED_TASKS, load_task
from xgan.data.task import ImageSet, Task, to_model_range
from xgan.devices import pick_device
from xgan.distributed import barrier, join, local_device, mean_over_ranks, wrap
from xgan.io import atomic_write_text
from xgan.models import Batch, Losses, Phase, TranslationModel, build_model
from xgan.models.base import check_phases
from xgan.optim import clip_parameters, make_optimizer
from xgan.samples import save_image, translation_grid

log = logging.getLogger("xgan")
SAMPLE_COUNT = 8


class NonFiniteLossError(RuntimeError):
    pass


class RunDirError(ValueError):
    """The run directory cannot take this run (another run's outputs, a file, not writable)."""


RUN_OUTPUTS = ("checkpoints", "config.yaml", "tensorboard", "samples")  # what makes a directory a run's


AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class StepBatches:
    """Batch indices of step t: slice t of a per-epoch permutation seeded by (seed, epoch); drops the remainder.
    Distributed, rank r of n takes every n-th image of that global batch, starting at r. With `crop` (an image
    size), each global batch is cropped and optionally flipped and rotated (data/augment.py) by draws seeded by
    (seed, step)."""

    def __init__(self, images: ImageSet, batch_size: int, seed: int, rank: int = 0, world_size: int = 1,
                 crop: int = 0, flip: bool = False, rotate: float = 0.0) -> None:
        if len(images) < batch_size:
            raise ValueError(f"the training set has {len(images)} images, fewer than train.batch_size={batch_size}")
        if batch_size % world_size:
            raise ValueError(f"train.batch_size={batch_size} (the global batch) must divide by the {world_size} processes")
        self.images, self.batch_size, self.seed = images, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.crop, self.flip, self.rotate = crop, flip, rotate
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
        if not (self.crop or self.flip or self.rotate):
            return to_model_range(self.images.images[self.local_indices(step)].to(device, non_blocking=True))
        images = self.images.images[self.indices(step)]  # the global batch, so every rank draws the same crops
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step + 7_777_777)
        images = crop_and_flip(images, self.crop or images.shape[-1], self.flip, generator)
        if self.rotate:
            images = rotate(images, self.rotate, generator)
        return to_model_range(images[self.rank::self.world_size].to(device, non_blocking=True))

    def labels(self, step: int, device: torch.device) -> torch.Tensor:
        """The class labels of `batch(step)`, in the same order."""
        return self.images.labels[self.local_indices(step)].to(device, non_blocking=True)


class Trainer:
    """restart=True: a run directory holding another run is moved aside (RUN.previous-<time>) instead of refused."""

    def __init__(self, config: Config, resume: str | Path | None = None, task: Task | None = None,
                 restart: bool = False) -> None:
        self.config, cfg = config, config.train
        self.run_dir, self.restart = Path(config.run_dir), restart
        self.resumed_from: Path | None = None
        self.interrupted: str | None = None  # the signal's name when SIGINT/SIGTERM ended fit() early
        self.skipped_in_a_row = 0
        device = pick_device(cfg.device)
        self.world = join(device)
        self.device = local_device(device, self.world)
        torch.manual_seed(cfg.seed)
        self.task = task or load_task(config.data)
        self.model = build_model(config, self.device)
        self.check_labels_a(config)
        self.check_pairs(config)
        self.model.setup(self.first_batch())
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        if cfg.compile:  # each network on its own: compiling model.losses whole recompiled at every step (GPU)
            for module in self.model.modules():
                if isinstance(module, nn.Sequential) and not any(isinstance(m, nn.Sequential) for m in module.children()):
                    module.compile()
        phases = self.model.phases()
        check_phases(phases)  # before the dict below, which would hide a repeated name
        self.phases = {phase.name: phase for phase in phases}
        self.optimizers = {name: make_optimizer(phase.param_groups(), self.phase_lr(phase),
                                                phase.betas or (cfg.beta1, cfg.beta2), self.device, phase.optimizer,
                                                phase.weight_decay)
                           for name, phase in self.phases.items()}
        self.autocast_dtype = AUTOCAST_DTYPES[cfg.precision]
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        if cfg.eval_gan_bound and self.world.distributed:  # rank 0 alone evaluates; the rival's losses all-reduce
            raise ValueError("train.eval_gan_bound > 0 is not supported under torchrun; compute the bound afterwards "
                             "with xgan eval --gan-bound STEPS")
        self.parallel = wrap(self.model, self.device, self.world)
        # the weights' moving average (train.ema): what samples, evaluations and inference read
        self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True) \
            if cfg.ema else None
        shard = (self.world.rank, self.world.size)
        data = config.data
        train = [resized(s, data.load_size) for s in (self.task.train_a, self.task.train_b)]
        augment = {"crop": data.image_size if data.load_size else 0, "flip": data.flip, "rotate": data.rotate}
        self.batches_a = StepBatches(train[0], cfg.batch_size, cfg.seed * 2, *shard, **augment)
        # a paired model draws B's batch with A's seed: the same indices, crops and flips, so a[i] and b[i] stay a pair
        self.batches_b = StepBatches(train[1], cfg.batch_size, cfg.seed * 2 + (not self.model.paired), *shard,
                                     **augment)
        self.fixed_a, self.fixed_b = (to_model_range(s.spread(SAMPLE_COUNT).images).to(self.device)
                                      for s in (self.task.test_a, self.task.test_b))
        self.step = 0
        self.skipped_steps = 0
        self.latest_logged: dict[str, dict[str, torch.Tensor]] = {}  # by phase: its terms when it last ran
        self.best: dict[str, Any] | None = None  # {"metric", "value", "step"} of checkpoints/best
        self._evaluator = None
        self._writer = None
        if resume is not None:
            self.restore(resolve_checkpoint(resume))

    def phase_lr(self, phase: Phase) -> float:
        cfg = self.config.train
        return phase.lr if phase.lr is not None else cfg.discriminator_lr if phase.critic else cfg.lr

    def first_batch(self) -> Batch:
        """Step 0's images, for a model's setup() (shapes only: nothing is drawn from the random generators)."""
        a, b = (to_model_range(s.images[:self.config.train.batch_size]).to(self.device)
                for s in (self.task.train_a, self.task.train_b))
        return Batch(a, b, self.task.train_a.labels[:len(a)].to(self.device) if self.model.label_classes_a else None)

    def check_labels_a(self, config: Config) -> None:
        classes, labels = self.model.label_classes_a, self.task.train_a.labels
        if not classes:
            return
        if labels is None:
            raise ValueError(f"model {config.model.name} trains on domain A's class labels, "
                             f"and data.task '{config.data.task}' has none")
        if int(labels.min()) < 0 or int(labels.max()) >= classes:
            raise ValueError(f"domain A's labels span {int(labels.min())}..{int(labels.max())}, outside the model's "
                             f"{classes} classes")

    def check_pairs(self, config: Config) -> None:
        if not self.model.paired:
            return
        if not self.task.paired:
            raise ValueError(f"model {config.model.name} trains on pairs, and data.task '{config.data.task}' has none "
                             f"(paired tasks: {', '.join(PAIRED_TASKS)})")
        if len(self.task.train_a) != len(self.task.train_b):
            raise ValueError(f"data.task '{config.data.task}': {len(self.task.train_a)} A and "
                             f"{len(self.task.train_b)} B training images cannot be pairs")

    # -- one step ------------------------------------------------------------------------------------------
    def batch(self, step: int) -> Batch:
        """Step `step`'s batch; domain A's labels only for a model that trains on them."""
        a, b = (batches.batch(step, self.device).contiguous(memory_format=self.memory_format)
                for batches in (self.batches_a, self.batches_b))
        return Batch(a, b, self.batches_a.labels(step, self.device) if self.model.label_classes_a else None)

    def compute_losses(self, phase: str, batch: Batch) -> Losses:
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            losses_of = self.parallel if self.parallel is not None else self.model.losses
            return losses_of(phase, batch)

    def lr_factor(self) -> float:
        """Multiplier of every learning rate at this step: 1, then linearly to 0 over the last lr_decay_steps (or
        lr_decay_fraction of the steps)."""
        cfg = self.config.train
        decay_steps = cfg.lr_decay_steps or round(cfg.lr_decay_fraction * cfg.steps)
        if not decay_steps:
            return 1.0
        return min(1.0, (cfg.steps - self.step) / (decay_steps + 1))

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Every phase due at this step minimises its weighted loss terms, in the model's order; returns the
        (detached) terms for logging, with the latest terms of the phases not due at this step (a generator updated
        every n-th step is logged at whatever step the log falls on)."""
        logged: dict[str, torch.Tensor] = {}
        factor = self.lr_factor()
        for phase, optimizer in self.optimizers.items():
            if self.step % self.phases[phase].every or self.step < self.phases[phase].start * self.config.train.steps:
                logged.update(self.latest_logged.get(phase, {}))
                continue
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * factor
            losses = self.compute_losses(phase, batch)
            if not losses:
                continue
            total = sum(weight * value for weight, value in losses.values())
            optimizer.zero_grad(set_to_none=True)
            if mean_over_ranks(torch.isfinite(total).float()) < 1:  # every rank takes the same branch
                self.handle_nonfinite(phase, losses, total)
                return {}  # skip the rest of the step too: later phases would learn from poisoned outputs
            self.scaler.scale(total).backward()
            if self.phases[phase].max_grad_norm:
                self.scaler.unscale_(optimizer)  # the norm of the true gradient, not of the loss-scaled one
                torch.nn.utils.clip_grad_norm_(self.phases[phase].all_parameters(), self.phases[phase].max_grad_norm)
            self.scaler.step(optimizer)
            if self.phases[phase].clip:  # after the update, so the phase's parameters stay in the box throughout
                clip_parameters(self.phases[phase].all_parameters(), self.phases[phase].clip)
            terms = {f"{phase}/{name}": value.detach() for name, (_, value) in losses.items()}
            terms[f"{phase}/total"] = total.detach()
            self.latest_logged[phase] = terms
            logged.update(terms)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.skipped_in_a_row = 0
        return logged

    def handle_nonfinite(self, phase: str, losses: Losses, total: torch.Tensor) -> None:
        bad = [f"{name}={float(value.detach())}" for name, (_, value) in losses.items() if not torch.isfinite(value)]
        here = "weighted sum overflowed" if not torch.isfinite(total) else "in another process"
        message = f"step {self.step + 1}: non-finite {phase} loss ({', '.join(bad) or here})"
        cfg = self.config.train
        if cfg.on_nonfinite == "stop":
            raise NonFiniteLossError(message + "; stopping before anything is saved (train.on_nonfinite=skip to skip)")
        self.skipped_steps += 1
        self.skipped_in_a_row += 1
        log.warning("%s; update skipped", message)
        allowed = max(1.0, cfg.max_skipped_fraction * cfg.steps)  # skip mode is for a rare bad batch
        if self.skipped_in_a_row >= cfg.max_skipped_in_a_row or self.skipped_steps > allowed:
            raise NonFiniteLossError(
                f"{message}: {self.skipped_steps} step(s) skipped, {self.skipped_in_a_row} in a row (limits: "
                f"{cfg.max_skipped_in_a_row} in a row, train.max_skipped_fraction={cfg.max_skipped_fraction} of "
                f"{cfg.steps} steps); the run is not learning, stopping (the last checkpoint is left as it was)")

    # -- the loop ------------------------------------------------------------------------------------------
    def fit(self) -> Path | None:
        """Train to train.steps; returns the last checkpoint written. SIGINT/SIGTERM end it early, after a
        checkpoint at the current step (`interrupted` names the signal)."""
        cfg = self.config.train
        if self.step >= cfg.steps:
            if self.step > cfg.steps:
                raise ValueError(f"the run is at step {self.step}, beyond train.steps={cfg.steps}: nothing to train "
                                 f"(give train.steps > {self.step} to train longer)")
            log.info("the run is already at train.steps=%d: nothing to train", cfg.steps)
            return self.resumed_from
        with StopSignals() as stop:
            if self.world.is_main:
                self.claim_run_dir()
                atomic_write_text(self.run_dir / "config.yaml", to_yaml(self.config))
            log.info("training %s on %s for %d steps into %s", self.config.model.name, self.device, cfg.steps,
                     self.run_dir)
            last_saved = None
            progress = tqdm(total=cfg.steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True,
                            disable=None if self.world.is_main else True)
            started, first_step = time.perf_counter(), self.step
            while self.step < cfg.steps:
                logged = self.train_step(self.batch(self.step))
                self.step += 1
                progress.update(1)
                self.after_step(logged, started, first_step, progress)
                if self.world.is_main and (self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps):
                    last_saved = self.save()
                if stop.agreed(self.device):
                    self.interrupted = stop.name
                    if self.world.is_main and (last_saved is None or snapshot_step(last_saved) != self.step):
                        last_saved = self.save()
                    break
        progress.close()
        barrier()  # the other ranks wait for rank 0's last checkpoint
        if self._writer is not None:
            self._writer.close()
        if self.skipped_steps:
            log.warning("%d of %d steps were skipped for non-finite losses", self.skipped_steps, self.step)
        return last_saved

    def after_step(self, logged: dict[str, torch.Tensor], started: float, first_step: int, progress) -> None:
        cfg = self.config.train
        if self.step % cfg.log_every == 0 or self.step == cfg.steps:
            logged = {k: mean_over_ranks(v) for k, v in logged.items()}  # a collective: every rank logs
            scalars = {k: float(v) for k, v in logged.items()} | {f"stats/{k}": v for k, v in self.model.stats().items()}
            scalars["speed/steps_per_s"] = (self.step - first_step) / (time.perf_counter() - started)
            self.log_scalars(scalars)
            progress.set_postfix({k.split("/")[0]: f"{v:.3g}" for k, v in scalars.items() if k.endswith("/total")})
        self.check_collapse()  # on every rank: with train.on_collapse=stop they all stop together
        if not self.world.is_main:
            return
        if self.step % cfg.sample_every == 0 or self.step == cfg.steps:
            self.save_samples()
        if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == cfg.steps):
            self.evaluate()

    def claim_run_dir(self) -> None:
        """Make the run directory this run's own before anything is written: refuse one that holds another run
        (or, with restart, move that run aside), refuse to overwrite checkpoints newer than the resumed one, check
        it is writable, and remove what a kill mid-save left behind."""
        run_dir, root = self.run_dir, checkpoint_root(self.run_dir)
        if run_dir.exists() and not run_dir.is_dir():
            raise RunDirError(f"run directory {run_dir} is a file, not a directory")
        resumed_here = self.resumed_from is not None and self.resumed_from.parent.resolve() == root.resolve()
        if resumed_here:
            newer = sorted(p.name for p in root.glob("step_*") if snapshot_step(p) > self.step)
            if newer and not self.restart:
                raise RunDirError(
                    f"resuming {run_dir} from {self.resumed_from.name} would overwrite its newer checkpoint(s) "
                    f"{', '.join(newer)}; resume from the latest (--resume without a value), branch into another "
                    f"directory (--out NEW_DIR), or pass --restart to delete the newer ones")
            for name in newer:
                shutil.rmtree(root / name)
        elif run_dir.is_dir() and any((run_dir / name).exists() for name in RUN_OUTPUTS):
            if not self.restart:
                what = "a resumed run from elsewhere" if self.resumed_from is not None else "a new run"
                raise RunDirError(
                    f"{run_dir} already holds another run's outputs; {what} would mix with them. Continue that run "
                    f"with --resume, choose another --out, or pass --restart to move it aside and start over here")
            aside = run_dir.with_name(f"{run_dir.name}.previous-{time.strftime('%Y%m%d-%H%M%S')}")
            run_dir.rename(aside)
            log.warning("moved the run that was in %s aside to %s", run_dir, aside)
        run_dir.mkdir(parents=True, exist_ok=True)
        for folder in (run_dir, *(run_dir / name for name in RUN_OUTPUTS if (run_dir / name).is_dir())):
            try:
                probe = folder / f".write-test-{threading.get_ident()}"
                probe.write_text("")
                probe.unlink()
            except OSError as e:
                raise RunDirError(f"{folder} is not writable ({e.strerror or e}); nothing was trained") from None
        clean_leftovers(run_dir)

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

    @property
    def averaged(self) -> nn.Module:
        """The model whose outputs are shown and scored: the weights' moving average with train.ema, else the model."""
        return self.ema.module if self.ema is not None else self.model

    def save_samples(self) -> Path:
        path = self.run_dir / "samples" / f"step_{self.step:08d}.png"
        save_image(translation_grid(self.averaged, self.fixed_a, self.fixed_b), path)
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
        measures = collapse_measures(self.averaged, a, b)
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
        from xgan.metric_names import higher_is_better

        cfg = self.config.train
        if self._evaluator is None:  # built on first use: it may train (and cache) the judging classifiers
            from xgan.evaluation.features import domain_classifier_space

            name = self.config.data.task
            features = domain_classifier_space(self.task, name) if cfg.eval_features == "domain" else None
            self._evaluator = Evaluator(self.task, name, cfg.eval_count, features, device=self.device)
        metrics = self._evaluator(self.averaged).metrics
        if cfg.eval_gan_bound:
            from xgan.evaluation.gan_bound import gan_bound

            metrics |= gan_bound(self.averaged, {"a": self.task.train_a, "b": self.task.train_b},
                                 self._evaluator.images, steps=cfg.eval_gan_bound, lr=cfg.lr, batch_size=cfg.batch_size, seed=cfg.seed)
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
                              extra={"metrics.json": json.dumps({"step": self.step, "metrics": metrics}, indent=2)},
                              ema=self.ema.module if self.ema is not None else None)
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
            "ema_updates": self.ema.n_averaged.clone() if self.ema is not None else None,
        }

    def save(self) -> Path:
        return save_checkpoint(self.run_dir, self.step, self.model, self.config, self.training_state(),
                               keep=self.config.train.keep_checkpoints,
                               ema=self.ema.module if self.ema is not None else None)

    def restore(self, snapshot: Path) -> None:
        load_weights(self.model, snapshot)
        state = load_state(snapshot)
        if self.ema is not None:
            if not (snapshot / EMA).is_file() or state.get("ema_updates") is None:
                raise CheckpointError(f"{snapshot} has no {EMA}: it was saved without train.ema, so the average "
                                      f"cannot continue (resume with train.ema=0)")
            load_weights(self.ema.module, snapshot, file=EMA)
            self.ema.n_averaged.copy_(state["ema_updates"])
        try:
            if 0 <= snapshot_step(snapshot) != int(state["step"]):
                raise ValueError(f"it says step {state['step']}, but the snapshot is {snapshot.name}")
            for name, optimizer in self.optimizers.items():
                optimizer.load_state_dict(state["optimizers"][name])
                for group in optimizer.param_groups:  # load_state_dict checks counts, not shapes
                    for param in group["params"]:
                        for key, value in optimizer.state.get(param, {}).items():
                            if torch.is_tensor(value) and value.ndim and value.shape != param.shape:
                                raise ValueError(f"optimizer '{name}' holds {key} of shape {tuple(value.shape)} for "
                                                 f"a parameter of shape {tuple(param.shape)}")
            self.step, self.skipped_steps = int(state["step"]), int(state.get("skipped_steps", 0))
            self.best = state.get("best")
            if state.get("grad_scaler"):
                self.scaler.load_state_dict(state["grad_scaler"])
            torch.set_rng_state(state["rng_cpu"])
            if state["rng_cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng_cuda"])
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise CheckpointError(f"{snapshot}: its training state does not fit this model and config "
                                  f"({type(e).__name__}: {e})") from None
        self.resumed_from = snapshot
        log.info("resumed from %s at step %d", snapshot, self.step)


class StopSignals:
    """SIGINT and SIGTERM (Ctrl-C, a cluster's pre-emption) ask the loop to stop after the current step instead of
    killing it; a second SIGINT interrupts at once. Under torchrun every rank stops at the same step."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame: object) -> None:
        if self.received == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        log.warning("%s received: stopping after this step, with a checkpoint", signal.Signals(signum).name)

    @property
    def name(self) -> str | None:
        return signal.Signals(self.received).name if self.received is not None else None

    def agreed(self, device: torch.device) -> bool:
        """Whether any rank received a signal (a collective under torchrun: every rank must call it)."""
        if not (dist.is_available() and dist.is_initialized()):
            return self.received is not None
        return bool(mean_over_ranks(torch.tensor(float(self.received is not None), device=device)) > 0)
