import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from conftest import random_task
from xgan.checkpoint import resolve_checkpoint
from xgan.config import ConfigError
from xgan.data import ImageSet, Task
from xgan.data.task import to_model_range
from xgan.trainer import NonFiniteLossError, RunDirError, StepBatches, Trainer


def test_one_step_on_a_fixed_batch_lowers_the_reconstruction_loss(tiny_config):
    trainer = Trainer(tiny_config(), task=random_task())
    batch = trainer.batch(0)
    a, b = batch.a, batch.b

    def reconstruction() -> float:
        with torch.no_grad():
            m = trainer.model
            return float(F.mse_loss(m.reconstruct(a, "a"), a) + F.mse_loss(m.reconstruct(b, "b"), b))

    before = reconstruction()
    trainer.train_step(batch)
    assert reconstruction() < before


def test_batches_depend_only_on_seed_and_step_and_cover_each_epoch():
    images = random_task(count=20).train_a
    batches = StepBatches(images, batch_size=6, seed=1)
    epoch = torch.cat([batches.indices(s) for s in range(3)])  # 3 full batches per epoch of 20
    assert len(set(epoch.tolist())) == 18
    again = StepBatches(images, batch_size=6, seed=1)
    assert torch.equal(again.indices(4), batches.indices(4))
    assert not torch.equal(StepBatches(images, 6, seed=2).indices(0), batches.indices(0))


def losses_per_step(trainer: Trainer, steps: int) -> list[dict[str, float]]:
    out = []
    while trainer.step < steps:
        out.append({k: float(v) for k, v in trainer.train_step(trainer.batch(trainer.step)).items()})
        trainer.step += 1
    return out


def test_resume_continues_exactly(tiny_config, tmp_path):
    config = tiny_config("model.weights.gan=1", "model.pool_size=4", "model.discriminator_threshold=1.1")
    straight = Trainer(config, task=random_task())
    expected = losses_per_step(straight, 6)

    first = Trainer(config, task=random_task())
    assert losses_per_step(first, 3) == expected[:3]
    first.save()
    resumed = Trainer(config, resume=config.run_dir, task=random_task())
    assert resumed.step == 3
    assert losses_per_step(resumed, 6) == expected[3:]  # bit-for-bit, GAN, pool and all
    assert "discriminator/gan_d2" in expected[-1]


def poison_at(trainer: Trainer, step: int, term: str = "semantic") -> None:
    original = trainer.model.losses

    def losses(phase, batch):
        out = original(phase, batch)
        if phase == "autoencoder" and trainer.step + 1 == step:
            weight, value = out[term]
            out[term] = (weight, value * float("nan"))
        return out

    trainer.model.losses = losses


def test_a_nan_loss_stops_the_run_naming_step_and_term_and_saves_nothing_poisoned(tiny_config):
    trainer = Trainer(tiny_config("train.steps=4"), task=random_task())
    poison_at(trainer, step=3)
    with pytest.raises(NonFiniteLossError, match=r"step 3: .*semantic=nan"):
        trainer.fit()
    snapshot = resolve_checkpoint(trainer.run_dir)
    assert snapshot.name == "step_00000002"  # the last good one, untouched
    params = dict(trainer.model.named_parameters())
    assert all(torch.isfinite(p).all() for p in params.values())


def test_skip_mode_skips_the_poisoned_update_and_goes_on(tiny_config):
    trainer = Trainer(tiny_config("train.steps=4", "train.on_nonfinite=skip", "train.max_skipped_fraction=0.5"),
                      task=random_task())
    poison_at(trainer, step=2)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    trainer.step = 1
    logged = trainer.train_step(trainer.batch(1))
    assert logged == {} and trainer.skipped_steps == 1
    assert all(torch.equal(before[k], v) for k, v in trainer.model.named_parameters())  # no update applied
    trainer.fit()
    assert trainer.step == 4 and all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_fit_writes_config_samples_tensorboard_and_checkpoints(tiny_config):
    trainer = Trainer(tiny_config("train.steps=4", "train.keep_checkpoints=1"), task=random_task())
    final = trainer.fit()
    run = trainer.run_dir
    assert final == run / "checkpoints" / "step_00000004"
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == ["step_00000004"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_00000002.png", "step_00000004.png"]
    assert any((run / "tensorboard").iterdir())
    assert (run / "config.yaml").read_text() == (final / "config.yaml").read_text()


def test_evaluation_during_training_keeps_the_best_checkpoint_and_resume_remembers_it(tiny_config):
    config = tiny_config("train.steps=4", "train.eval_every=2", "train.eval_count=16",
                         "train.best_metric=semantic_distance")
    trainer = Trainer(config, task=random_task())
    trainer.fit()
    best = trainer.run_dir / "checkpoints" / "best"
    assert (best / "model.safetensors").is_file() and (best / "metrics.json").is_file()
    assert trainer.best["metric"] == "semantic_distance" and trainer.best["step"] in (2, 4)
    assert list((trainer.run_dir / "tensorboard").iterdir())
    resumed = Trainer(tiny_config("train.steps=6", "train.eval_every=2", "train.eval_count=16",
                                  "train.best_metric=semantic_distance"), resume=trainer.run_dir, task=random_task())
    assert resumed.best == trainer.best


@pytest.mark.parametrize("overrides, message", [
    (["train.eval_every=2", "train.best_metric=accuracy"], "unknown metric"),
    (["train.eval_every=0", "train.best_metric=kid_ab"], "needs train.eval_every"),
])
def test_bad_best_metric_is_a_config_error(tiny_config, overrides, message):
    from xgan.config import ConfigError
    with pytest.raises(ConfigError, match=message):
        tiny_config(*overrides)


def test_best_metric_that_the_model_does_not_measure_stops_with_the_measured_list(tiny_config):
    trainer = Trainer(tiny_config("train.steps=2", "train.eval_every=2", "train.eval_count=8",
                                  "train.best_metric=class_preservation_xy"), task=random_task())
    with pytest.raises(ValueError, match="measured: .*class_preservation_ab"):
        trainer.fit()


def test_learning_rates_decay_linearly_to_zero_over_the_last_steps(tiny_config):
    trainer = Trainer(tiny_config("train.steps=6", "train.lr_decay_steps=3", "train.lr=0.001"))
    seen = []
    original = trainer.train_step

    def spy(batch):
        logged = original(batch)
        seen.append(trainer.optimizers["autoencoder"].param_groups[0]["lr"])
        return logged

    trainer.train_step = spy
    trainer.fit()
    assert seen == pytest.approx([1e-3, 1e-3, 1e-3, 0.75e-3, 0.5e-3, 0.25e-3])


def test_a_decay_fraction_keeps_its_share_of_any_run_length(tiny_config):
    for steps in (6, 600):
        by_fraction = Trainer(tiny_config(f"train.steps={steps}", "train.lr_decay_fraction=0.5"))
        by_steps = Trainer(tiny_config(f"train.steps={steps}", f"train.lr_decay_steps={steps // 2}"))
        for step in range(steps):
            by_fraction.step = by_steps.step = step
            assert by_fraction.lr_factor() == by_steps.lr_factor()
        assert by_fraction.lr_factor() < 1


def test_lr_decay_longer_than_the_run_or_set_twice_is_a_config_error(tiny_config):
    with pytest.raises(ConfigError, match="lr_decay_steps"):
        tiny_config("train.steps=4", "train.lr_decay_steps=5")
    with pytest.raises(ConfigError, match="lr_decay_fraction"):
        tiny_config("train.lr_decay_fraction=1.5")
    with pytest.raises(ConfigError, match="keep one"):
        tiny_config("train.lr_decay_steps=2", "train.lr_decay_fraction=0.5")


def test_channels_last_and_bf16_train_like_fp32(tiny_config):
    reference = losses_per_step(Trainer(tiny_config(), task=random_task()), 3)
    channels_last = losses_per_step(Trainer(tiny_config("train.channels_last=true"), task=random_task()), 3)
    bf16 = losses_per_step(Trainer(tiny_config("train.precision=bf16"), task=random_task()), 3)
    for step in range(3):
        for term, value in reference[step].items():
            assert channels_last[step][term] == pytest.approx(value, rel=1e-4, abs=1e-5)
            assert bf16[step][term] == pytest.approx(value, rel=0.1, abs=0.02)  # bf16 keeps ~3 significant digits


def test_fp16_scales_its_gradients_and_resumes_exactly_with_the_scaler(tiny_config):
    config = tiny_config("train.precision=fp16", "model.weights.gan=1", "model.discriminator_threshold=1.1")
    expected = losses_per_step(Trainer(config, task=random_task()), 4)
    first = Trainer(config, task=random_task())
    assert first.scaler.is_enabled()
    losses_per_step(first, 2)
    first.save()
    resumed = Trainer(config, resume=config.run_dir, task=random_task())
    assert resumed.scaler.get_scale() == first.scaler.get_scale()
    assert losses_per_step(resumed, 4) == expected[2:]


def test_unknown_precision_is_a_config_error(tiny_config):
    with pytest.raises(ConfigError, match="train.precision"):
        tiny_config("train.precision=fp8")


@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="torch.compile on CPU needs a C++ compiler")
def test_compiled_networks_train_like_eager_ones(tiny_config):
    reference = losses_per_step(Trainer(tiny_config(), task=random_task()), 2)
    compiled = losses_per_step(Trainer(tiny_config("train.compile=true"), task=random_task()), 2)
    for step in range(2):
        assert compiled[step] == pytest.approx(reference[step], rel=1e-3, abs=1e-5)


def test_a_task_tower_trains_on_the_labels_of_exactly_the_source_images_of_each_step(tiny_config):
    task = random_task()
    trainer = Trainer(tiny_config("model.adaptation.task_tower=1"), task=task)
    seen = []
    original = trainer.model.losses

    def spy(phase, batch):
        seen.append((batch.a, batch.labels_a))
        return original(phase, batch)

    trainer.model.losses = spy
    for step in range(3):
        trainer.train_step(trainer.batch(step))
    for a, labels in seen:
        rows = [int((to_model_range(task.train_a.images) == image).flatten(1).all(1).nonzero()) for image in a]
        assert torch.equal(labels, task.train_a.labels[rows])
    assert Trainer(tiny_config("model.adaptation.task_tower=0", "model.adaptation.target_pseudo_label=0"), task=task).batch(0).labels_a is None  # no tower, no labels


def test_a_task_tower_on_a_task_without_source_labels_is_a_clear_error(tiny_config):
    task = random_task()
    unlabelled = Task(ImageSet(task.train_a.images), task.train_b, task.test_a, task.test_b)
    with pytest.raises(ValueError, match="has none"):
        Trainer(tiny_config("model.adaptation.task_tower=1"), task=unlabelled)
    with pytest.raises(ValueError, match="outside the model's 4 classes"):
        Trainer(tiny_config("model.adaptation.task_tower=1", "model.adaptation.task_classes=4"), task=task)


# -- the run directory belongs to one run ---------------------------------------------------------------------
def checkpoint_names(run) -> list[str]:
    return sorted(p.name for p in (Path(run) / "checkpoints").glob("step_*"))


def test_a_new_run_into_a_directory_holding_another_run_is_refused_and_restart_moves_it_aside(tiny_config):
    first = Trainer(tiny_config("train.steps=4"), task=random_task())
    first.fit()
    run = first.run_dir
    with pytest.raises(RunDirError, match="already holds another run"):
        Trainer(tiny_config("train.steps=2"), task=random_task()).fit()
    assert checkpoint_names(run) == ["step_00000002", "step_00000004"]  # untouched
    second = Trainer(tiny_config("train.steps=2"), task=random_task(), restart=True)
    assert second.fit() == run / "checkpoints" / "step_00000002"
    assert checkpoint_names(run) == ["step_00000002"] and resolve_checkpoint(run).name == "step_00000002"
    aside = [p for p in run.parent.iterdir() if p.name.startswith("run.previous-")]
    assert len(aside) == 1 and checkpoint_names(aside[0]) == ["step_00000002", "step_00000004"]


def test_resuming_at_or_beyond_train_steps_says_so_instead_of_training(tiny_config):
    config = tiny_config("train.steps=4")
    Trainer(config, task=random_task()).fit()
    finished = Trainer(config, resume=config.run_dir, task=random_task())
    assert finished.fit().name == "step_00000004" and finished.step == 4  # nothing trained, nothing written
    shorter = tiny_config("train.steps=3")
    with pytest.raises(ValueError, match="at step 4, beyond train.steps=3"):
        Trainer(shorter, resume=config.run_dir, task=random_task()).fit()
    assert checkpoint_names(config.run_dir) == ["step_00000002", "step_00000004"]


def test_resuming_an_older_checkpoint_refuses_to_overwrite_newer_ones(tiny_config):
    config = tiny_config("train.steps=4")
    Trainer(config, task=random_task()).fit()
    older = Path(config.run_dir) / "checkpoints" / "step_00000002"
    with pytest.raises(RunDirError, match="would overwrite its newer checkpoint.*step_00000004"):
        Trainer(config, resume=older, task=random_task()).fit()
    assert checkpoint_names(config.run_dir) == ["step_00000002", "step_00000004"]
    again = Trainer(config, resume=older, task=random_task(), restart=True)
    assert again.fit().name == "step_00000004" and again.step == 4


def test_a_run_directory_that_is_a_file_or_not_writable_is_refused_before_the_first_step(tiny_config, monkeypatch):
    config = tiny_config()
    Path(config.run_dir).parent.mkdir(parents=True, exist_ok=True)
    Path(config.run_dir).write_text("not a folder")
    with pytest.raises(RunDirError, match="is a file"):
        Trainer(config, task=random_task()).fit()
    Path(config.run_dir).unlink()
    real_write_text = Path.write_text

    def read_only(self, *args, **kwargs):
        if self.name.startswith(".write-test"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", read_only)
    trainer = Trainer(config, task=random_task())
    with pytest.raises(RunDirError, match="run is not writable.*Permission denied"):
        trainer.fit()
    assert trainer.step == 0


def test_leftovers_of_a_kill_mid_save_are_cleaned_at_the_next_start(tiny_config):
    config = tiny_config("train.steps=2")
    Trainer(config, task=random_task()).fit()
    root = Path(config.run_dir) / "checkpoints"
    (root / ".step_00000004.abc123.tmp").mkdir()  # a snapshot killed while being filled
    (root / ".step_00000004.abc123.tmp" / "model.safetensors").write_bytes(b"half")
    (root / ".latest.xyz.tmp").write_text("step_00000004\n")
    shutil.copytree(root / "step_00000002", root / ".best.old")  # killed between the two renames of `best`
    Trainer(tiny_config("train.steps=4"), resume=config.run_dir, task=random_task()).fit()
    assert sorted(p.name for p in root.iterdir()) == ["best", "latest", "step_00000002", "step_00000004"]


def poison_always(trainer: Trainer) -> None:
    original = trainer.model.losses

    def losses(phase, batch):
        return {name: (weight, value * float("nan")) for name, (weight, value) in original(phase, batch).items()}

    trainer.model.losses = losses


@pytest.mark.parametrize("limits, stops_at", [(["train.max_skipped_in_a_row=4", "train.max_skipped_fraction=1"], 4),
                                              ([], 3)])  # the defaults: more than 10% of 20 steps
def test_skip_mode_stops_a_run_that_skips_too_many_steps(tiny_config, limits, stops_at):
    trainer = Trainer(tiny_config("train.steps=20", "train.on_nonfinite=skip", *limits), task=random_task())
    poison_always(trainer)
    with pytest.raises(NonFiniteLossError, match=f"step {stops_at}: .*{stops_at} step\\(s\\) skipped.*not learning"):
        trainer.fit()
    assert trainer.skipped_steps == stops_at


def test_sigterm_checkpoints_the_current_step_and_the_resumed_run_ends_as_an_uninterrupted_one(tiny_config, tmp_path):
    import os
    import signal

    config = tiny_config("train.steps=6", "train.checkpoint_every=100")
    straight = Trainer(tiny_config("train.steps=6", "train.checkpoint_every=100", f"run_dir={tmp_path / 'straight'}"),
                       task=random_task())
    straight.fit()
    trainer = Trainer(config, task=random_task())
    original = trainer.train_step

    def step_then_signal(*batch):
        logged = original(*batch)
        if trainer.step == 2:  # during the third step
            os.kill(os.getpid(), signal.SIGTERM)
        return logged

    trainer.train_step = step_then_signal
    saved = trainer.fit()
    assert trainer.interrupted == "SIGTERM" and trainer.step == 3 and saved.name == "step_00000003"
    resumed = Trainer(config, resume=config.run_dir, task=random_task())
    resumed.fit()
    for (name, expected), value in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(expected, value), name


def test_label_free_evaluation_measures_kid_in_a_domain_classifier_space_even_where_labels_exist(tiny_config):
    """train.eval_features=domain keeps checkpoints/best label-free on a labelled task (emoji has categories)."""
    config = tiny_config("train.steps=2", "train.eval_every=2", "train.eval_count=8", "train.eval_features=domain",
                         "train.best_metric=fid")
    trainer = Trainer(config, task=random_task())
    trainer.fit()
    assert all("domains" in name for name in trainer._evaluator.info["feature_space"].values())
    assert trainer.best["metric"] == "fid" and trainer.best["value"] >= 0
    judged = Trainer(tiny_config("train.steps=2", "train.eval_every=2", "train.eval_count=8"), task=random_task())
    judged.evaluate()
    assert not any("domains" in name for name in judged._evaluator.info["feature_space"].values())


def test_ema_averages_the_weights_each_step_and_resumes_exactly(tiny_config):
    decay = 0.5
    config = tiny_config(f"train.ema={decay}")
    straight = Trainer(config, task=random_task())
    name = next(n for n, p in straight.model.named_parameters() if p.requires_grad)
    expected = None
    for _ in range(3):
        straight.train_step(straight.batch(straight.step))
        straight.step += 1
        live = dict(straight.model.named_parameters())[name].detach().clone()
        expected = live if expected is None else decay * expected + (1 - decay) * live  # the first copies
    averaged = dict(straight.averaged.named_parameters())[name]
    assert torch.allclose(averaged, expected) and not torch.equal(averaged, live)
    losses_per_step(straight, 4)
    uninterrupted = {k: v.clone() for k, v in straight.averaged.state_dict().items()}

    first = Trainer(config, task=random_task())
    losses_per_step(first, 3)
    first.save()
    resumed = Trainer(config, resume=config.run_dir, task=random_task())
    losses_per_step(resumed, 4)
    assert all(torch.equal(v, uninterrupted[k]) for k, v in resumed.averaged.state_dict().items())


def test_with_ema_inference_reads_the_average_and_an_ema_run_cannot_resume_a_checkpoint_without_one(tiny_config):
    from xgan.checkpoint import CheckpointError, load_trained

    config = tiny_config("train.ema=0.9", "train.steps=2")
    trainer = Trainer(config, task=random_task())
    trainer.fit()
    model, _, snapshot = load_trained(config.run_dir)
    assert (snapshot / "ema.safetensors").is_file()
    averaged = trainer.averaged.state_dict()
    assert all(torch.equal(v, averaged[k]) for k, v in model.state_dict().items())

    plain = tiny_config("train.steps=2", f"run_dir={config.run_dir}_plain")
    Trainer(plain, task=random_task()).fit()
    with pytest.raises(CheckpointError, match="without train.ema"):
        Trainer(tiny_config("train.ema=0.9", "train.steps=3", f"run_dir={plain.run_dir}"), resume=plain.run_dir,
                task=random_task())
