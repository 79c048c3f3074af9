import pytest
import torch

from conftest import random_task
from xgan.checkpoint import CheckpointError, load_weights, resolve_checkpoint, save_checkpoint
from xgan.trainer import Trainer, build_model


def test_save_load_round_trip_keeps_weights_and_sharing(tiny_config):
    trainer = Trainer(tiny_config("model.weights.gan=1"), task=random_task())
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
