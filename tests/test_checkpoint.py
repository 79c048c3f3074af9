import pytest
import torch

from conftest import random_task
from xgan.checkpoint import CheckpointError, load_trained, load_weights, resolve_checkpoint, save_checkpoint
from xgan.models import build_model
from xgan.trainer import Trainer


def test_save_load_round_trip_keeps_weights_and_sharing(tiny_config):
    trainer = Trainer(tiny_config("model.weights.gan=1", "train.steps=4"), task=random_task())
    trainer.fit()
    snapshot = resolve_checkpoint(trainer.run_dir)
    fresh = build_model(trainer.config)
    load_weights(fresh, snapshot)
    for (name, saved), loaded in zip(trainer.model.state_dict().items(), fresh.state_dict().values()):
        assert torch.equal(saved, loaded), name
    assert fresh.e1[-1].weight is fresh.e2[-1].weight
    x = torch.zeros(2, 3, 16, 16)
    assert torch.equal(fresh.eval().translate(x, "b"), trainer.model.eval().translate(x, "b"))


def test_poisoned_weights_are_never_written(tiny_config):
    trainer = Trainer(tiny_config(), task=random_task())
    with torch.no_grad():
        trainer.model.e1[0][0].weight[0, 0, 0, 0] = float("inf")
    with pytest.raises(CheckpointError, match="NaN/inf"):
        trainer.save()
    assert not (trainer.run_dir / "checkpoints").exists()


def test_bad_checkpoint_paths_give_clear_errors(tmp_path, tiny_config):
    with pytest.raises(CheckpointError, match="not found"):
        resolve_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        resolve_checkpoint(tmp_path)
    trainer = Trainer(tiny_config(), task=random_task())
    snapshot = save_checkpoint(trainer.run_dir, 1, trainer.model, trainer.config, trainer.training_state(), keep=2)
    weights = snapshot / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated on disk by something else
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_weights(trainer.model, snapshot)


def test_snapshot_files_get_the_mode_open_would_give_like_the_rest_of_the_run(tiny_config):
    import os
    import stat

    trainer = Trainer(tiny_config(), task=random_task())
    snapshot = save_checkpoint(trainer.run_dir, 1, trainer.model, trainer.config, trainer.training_state(), keep=2)
    modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in snapshot.iterdir()}
    assert len(set(modes.values())) == 1 and modes["model.safetensors"] & 0o044 == 0o044 & ~os.umask(os.umask(0)), modes


def test_weights_holding_nan_on_disk_are_refused_on_load_naming_the_tensor(tiny_config):
    from safetensors.torch import save_model

    trainer = Trainer(tiny_config(), task=random_task())
    snapshot = save_checkpoint(trainer.run_dir, 1, trainer.model, trainer.config, trainer.training_state(), keep=2)
    name, last = list(trainer.model.d2.named_parameters())[-1]  # d2's own output layer, shared with nothing
    with torch.no_grad():
        last.fill_(float("nan"))  # written by something other than xgan
    save_model(trainer.model, str(snapshot / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"tensor 'd2.{name}' holds NaN/inf"):
        load_trained(snapshot)


PAYLOAD = '''
from pathlib import Path
Path(__file__).with_name("payload_ran").write_text("ran")
def make():
    import torch
    return torch.nn.Flatten()
'''


@pytest.fixture
def payload(tmp_path, monkeypatch):
    """An importable module that leaves a mark when it is imported."""
    (tmp_path / "payload_xgan_test.py").write_text(PAYLOAD)
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path / "payload_ran"


def test_a_checkpoint_whose_config_names_code_loads_without_importing_it(tiny_config, payload):
    trainer = Trainer(tiny_config("model.teacher=xgan.models.teachers:coarse_colours", "model.weights.teacher=1"),
                      task=random_task())
    snapshot = save_checkpoint(trainer.run_dir, 1, trainer.model, trainer.config, trainer.training_state(), keep=2)
    config = snapshot / "config.yaml"
    config.write_text(config.read_text().replace("xgan.models.teachers:coarse_colours", "payload_xgan_test:make"))
    load_trained(snapshot)  # for inference: no teacher is built, so the name is never even looked up
    from xgan.cli import main
    assert main(["export", str(snapshot), "--format", "torchscript"]) == 0
    with pytest.raises(ValueError, match="'payload_xgan_test:make' is not a built-in extractor"):
        load_trained(snapshot, training=True)  # the whole model, for its losses (the GAN bound)
    assert not payload.exists()


def test_loading_never_trains_a_teacher_and_inference_does_not_build_one(tiny_config, monkeypatch):
    from xgan.models import teachers

    spec = "xgan.models.teachers:printed_digit_features"
    trainings = []

    def trained():  # stands in for training the LeNet: what a checkpoint load must never do
        trainings.append(spec)
        return teachers.lenet_features()

    monkeypatch.setitem(teachers.BUILTIN, spec, (trained, teachers.lenet_features))
    trainer = Trainer(tiny_config(f"model.teacher={spec}", "model.weights.teacher=1"), task=random_task())
    snapshot = save_checkpoint(trainer.run_dir, 1, trainer.model, trainer.config, trainer.training_state(), keep=2)
    model, _, _ = load_trained(snapshot)
    assert not hasattr(model, "teacher")  # translation does not need it
    whole, _, _ = load_trained(snapshot, training=True)
    assert trainings == [spec]  # once, for training; not again for either load
    for (name, saved), loaded in zip(trainer.model.state_dict().items(), whole.state_dict().values()):
        assert torch.equal(saved, loaded), name


def test_a_training_state_that_does_not_fit_the_model_is_refused_naming_the_snapshot(tiny_config, tmp_path):
    plain = Trainer(tiny_config("model.weights.gan=0"), task=random_task())  # no discriminator to optimise
    other = save_checkpoint(tmp_path / "other", 1, plain.model, plain.config, plain.training_state(), keep=1)
    with_gan = Trainer(tiny_config("model.weights.gan=1"), task=random_task())
    snapshot = save_checkpoint(with_gan.run_dir, 1, with_gan.model, with_gan.config, with_gan.training_state(), keep=1)
    (snapshot / "training_state.pt").write_bytes((other / "training_state.pt").read_bytes())
    with pytest.raises(CheckpointError, match="training state does not fit"):
        Trainer(with_gan.config, resume=snapshot, task=random_task())



def test_a_training_state_of_other_shapes_or_another_step_is_refused_before_training(tiny_config, tmp_path):
    trainer = Trainer(tiny_config("train.steps=2"), task=random_task())
    trainer.fit()
    narrow = Trainer(tiny_config("train.steps=2", "model.embedding_dim=16", f"run_dir={tmp_path / 'narrow'}"),
                     task=random_task())
    narrow.fit()
    snapshot = trainer.run_dir / "checkpoints" / "step_00000002"
    (snapshot / "training_state.pt").write_bytes((narrow.run_dir / "checkpoints" / "step_00000002" /
                                                  "training_state.pt").read_bytes())
    with pytest.raises(CheckpointError, match=r"does not fit.*of shape \(16, "):
        Trainer(trainer.config, resume=snapshot, task=random_task())
    state = torch.load(narrow.run_dir / "checkpoints" / "step_00000002" / "training_state.pt", weights_only=True)
    torch.save(state | {"step": 1}, snapshot / "training_state.pt")
    with pytest.raises(CheckpointError, match="says step 1, but the snapshot is step_00000002"):
        Trainer(trainer.config, resume=snapshot, task=random_task())


@pytest.mark.parametrize("error", ["os", "safetensors"])  # safetensors raises its own error type for ENOSPC
def test_a_full_disk_during_a_save_is_a_clear_error_and_leaves_nothing_behind(tiny_config, monkeypatch, error):
    from safetensors import SafetensorError

    import xgan.checkpoint as checkpoint

    trainer = Trainer(tiny_config(), task=random_task())

    def full(*args, **kwargs):
        if error == "os":
            raise OSError(28, "No space left on device")
        raise SafetensorError("Error while serializing: No space left on device (os error 28)")

    monkeypatch.setattr(checkpoint, "save_model", full)
    with pytest.raises(CheckpointError, match="cannot write checkpoint .*step_00000000: .*No space left on device"):
        trainer.save()
    assert list((trainer.run_dir / "checkpoints").iterdir()) == []
