"""One-shot translation: shared deep layers, per-domain shallow ones cloned from B's, selective backpropagation,
phase I then phase II, and training on one image file."""

import json

import numpy as np
import pytest
import torch
from conftest import tiny_overrides
from PIL import Image

from xgan.checkpoint import load_trained
from xgan.cli import main
from xgan.config import load_config
from xgan.models.base import Batch
from xgan.models.ost import OST, OSTConfig, OSTWeights
from xgan.trainer import Trainer

SIZE = 16


def model(**kwargs) -> OST:
    torch.manual_seed(0)
    return OST(OSTConfig(width=0.125, shared_blocks=1, **kwargs), SIZE)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE) * 2 - 1


def ids(module: torch.nn.Module) -> set[int]:
    return {id(p) for p in module.parameters()}


def test_the_deep_layers_are_shared_and_each_domain_has_its_own_shallow_ones():
    ost = model(downsamplings=2, unshared=1)
    assert ost.encode_domain(images(), "a").shape == (4, 32, SIZE // 4, SIZE // 4)  # 4 * 2^2 channels at 1/4
    assert ost.translate(images(), "b").shape == (4, 3, SIZE, SIZE)
    phases = {p.name: p for p in ost.phases()}
    assert {id(p) for p in phases["one_shot_a"].parameters} == ids(ost.enc_a) | ids(ost.dec_a)
    assert ids(ost.enc_shared) | ids(ost.dec_shared) <= {id(p) for p in phases["autoencoder_b"].parameters}
    assert phases["one_shot_a"].start == 0.5 and phases["discriminator_b"].critic
    # unshared=0: only the pixel layers are A's own; unshared=downsamplings: the shared part is the residual blocks
    assert len(model(unshared=0).enc_a) == 1 and len(model(unshared=2).enc_shared) == 1
    with pytest.raises(ValueError, match="unshared"):
        OSTConfig(unshared=3, downsamplings=2)
    with pytest.raises(ValueError, match="translates its one image of A into B only"):
        ost.translate(images(), "a")


def test_phase_two_starts_from_a_copy_of_b_and_weights_b_reconstruction_as_the_reference():
    ost, a, b = model(weights=OSTWeights(reconstruction_b=10.0, reconstruction_b_one_shot=1.0)), images(), images()
    assert not torch.equal(ost.enc_a[0][1].weight, ost.enc_b[0][1].weight)
    assert ost.losses("autoencoder_b", Batch(a, b))["reconstruction_b"][0] == 10.0  # phase I
    assert ost.losses("discriminator_b", Batch(a, b)).keys() == {"d_bb"}  # no translation of x yet
    ost.losses("one_shot_a", Batch(a, b))
    assert all(torch.equal(p, q) for p, q in zip(ost.enc_a.parameters(), ost.enc_b.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(ost.dec_a.parameters(), ost.dec_b.parameters()))
    assert torch.allclose(ost.reconstruct(a, "a"), ost.reconstruct(a, "b"))  # a clone, until x trains it
    assert ost.losses("autoencoder_b", Batch(a, b))["reconstruction_b"][0] == 1.0  # phase II
    assert ost.losses("discriminator_b", Batch(a, b)).keys() == {"d_bb", "d_ab"}
    unclone = model(clone=False)
    unclone.losses("one_shot_a", Batch(a, b))
    assert not torch.equal(unclone.enc_a[0][1].weight, unclone.enc_b[0][1].weight)  # the reference code's way


def test_the_kl_term_is_the_mean_square_of_b_shared_code():
    ost, b = model(), images()
    losses = ost.losses("autoencoder_b", Batch(images(), b))
    assert losses["kl"][1].item() == pytest.approx(ost.encode_domain(b, "b").pow(2).mean().item(), rel=1e-5)


def test_a_cycle_through_an_exact_autoencoder_costs_nothing():
    """With every part an identity, x -> B -> A returns x and reconstructs it: cycle and reconstruction are 0."""
    ost, a = model(), images()
    for name in ("enc_a", "enc_shared", "dec_shared", "dec_a", "dec_b", "enc_b"):
        setattr(ost, name, torch.nn.Identity())
    losses = ost.losses("one_shot_a", Batch(a, images()))
    assert losses["cycle"][1].item() == 0.0 and losses["reconstruction_a"][1].item() == 0.0


def ost_trainer(tmp_path, run: str, *overrides: str) -> Trainer:
    config = load_config("ost-digits", [*tiny_overrides("ost"), "model.one_shot_start=0.5", "data.load_size=18",
                                        f"run_dir={tmp_path / run}", *overrides])
    return Trainer(config)


def test_the_one_image_phase_leaves_the_shared_layers_to_b_selective_backpropagation(tmp_path):
    trainer = ost_trainer(tmp_path, "run", "train.steps=4")
    model = trainer.model
    trainer.optimizers = {"one_shot_a": trainer.optimizers["one_shot_a"]}  # that phase's update alone
    trainer.step = 2  # phase II
    shared = [p.detach().clone() for p in [*model.enc_shared.parameters(), *model.dec_shared.parameters()]]
    trainer.train_step(trainer.batch(2))
    assert all(torch.equal(p, q) for p, q in zip(shared, [*model.enc_shared.parameters(),
                                                          *model.dec_shared.parameters()]))
    trained = [(p, q) for p, q in zip(model.enc_a.parameters(), model.enc_b.parameters())]
    assert any(not torch.equal(p, q) for p, q in trained)  # A's own layers moved off B's copy


def test_a_run_resumed_across_the_start_of_phase_two_continues_exactly(tmp_path):
    straight = ost_trainer(tmp_path, "straight", "train.steps=4")
    straight.fit()
    first = ost_trainer(tmp_path, "resumed", "train.steps=4")
    first.claim_run_dir()
    for step in range(2):  # phase I only; phase II starts at step 2 = 0.5 x 4
        first.train_step(first.batch(step))
        first.step += 1
    assert not first.model.cloned
    resumed = Trainer(first.config, resume=first.save())
    resumed.fit()
    assert resumed.model.cloned
    theirs = straight.model.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in resumed.model.state_dict().items()), "resume is not exact"


def test_train_on_one_image_file_then_translate_it(tmp_path, capsys):
    picture = np.full((40, 40, 3), 255, np.uint8)
    picture[10:30, 18:22] = 0  # a "1"
    Image.fromarray(picture).save(tmp_path / "one.png")
    run = tmp_path / "run"
    assert main(["train", "ost-digits", *tiny_overrides("ost"), "data.load_size=18", "model.one_shot_start=0.5",
                 f"data.image_a={tmp_path / 'one.png'}", "train.steps=2", "--out", str(run)]) == 0
    _, config, _ = load_trained(run)
    assert config.data.image_a == str(tmp_path / "one.png")
    assert main(["translate", str(run), str(tmp_path / "one.png"), "--to", "b", "--out", str(tmp_path / "out")]) == 0
    assert np.asarray(Image.open(tmp_path / "out" / "one_to_b.png")).shape == (SIZE, SIZE, 3)
    # evaluation judges by the task's whole A training split, as for every other model, not by the one image
    assert main(["eval", str(run), "--count", "8", "--out", str(tmp_path / "eval")]) == 0
    assert "class_preservation_ab" in json.loads((tmp_path / "eval" / "metrics.json").read_text())["metrics"]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    assert main(["train", "ost-digits", *tiny_overrides("ost"), f"data.image_a={tmp_path / 'broken.png'}",
                 "train.steps=1", "--out", str(tmp_path / "bad")]) != 0
    assert "cannot read image" in capsys.readouterr().err and not (tmp_path / "bad" / "checkpoints").exists()


def test_the_ost_preset_trains_the_users_one_image_into_emoji():
    """`xgan train ost data.image_a=IMG`: the ost-emoji preset with its own run directory."""
    config = load_config("ost", ["data.image_a=face.png"])
    assert (config.model.name, config.data.task, config.data.image_a) == ("ost", "emoji", "face.png")
    assert config.run_dir == "runs/ost"
