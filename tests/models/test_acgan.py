import math

import numpy as np
import pytest
import torch
from torch import nn

from conftest import TINY_RUN
import xgan
from xgan.config import load_config
from xgan.data.task import ImageSet, Task
from xgan.models.acgan import ACGAN, ACGANConfig
from xgan.models.base import Batch
from xgan.samples import generated_grid
from xgan.trainer import Trainer

SIZE = 16


def model(**kwargs) -> ACGAN:
    torch.manual_seed(0)
    return ACGAN(ACGANConfig(width=0.125, **kwargs), SIZE)


class Recorder(nn.Module):
    """A critic that gives every output logit 0 (even odds, every class equally likely) and keeps what it saw."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.outputs, self.seen = outputs, []

    def forward(self, x):
        self.seen.append(x)
        return torch.zeros(len(x), self.outputs)


def test_the_code_is_the_noise_then_the_one_hot_of_the_class_asked_for():
    acgan = model(latent_dim=6, classes=4)
    z = acgan.sample_latent(3, torch.Generator().manual_seed(0), classes=torch.tensor([2, 0, 3]))
    assert z.shape == (3, 10) and acgan.latent_dim == 10
    assert torch.equal(z[:, 6:], torch.eye(4)[[2, 0, 3]])
    assert acgan.generate(z).shape == (3, 3, SIZE, SIZE)


def test_the_losses_are_the_papers_source_and_class_log_likelihoods_on_a_known_critic():
    acgan = model(classes=4)
    acgan.d = Recorder(1 + 4)
    a, b = torch.zeros(6, 3, SIZE, SIZE), torch.ones(6, 3, SIZE, SIZE)
    batch = Batch(a, b, labels_a=torch.tensor([0, 1, 2, 3, 0, 1]))
    g = acgan.losses("generator", batch)
    assert g["gan"][1].item() == pytest.approx(math.log(2))  # -log P(S = real | X_fake)
    assert g["classification"][1].item() == pytest.approx(math.log(4))  # -log P(C = c | X_fake), uniform
    d = acgan.losses("discriminator", batch)
    assert d["d"][1].item() == pytest.approx(2 * math.log(2))
    assert d["classification"][1].item() == pytest.approx(2 * math.log(4))  # real and fake
    assert torch.equal(acgan.d.seen[1], a)  # the real images are domain A's, whose labels it reads
    assert acgan.reads_labels_a and acgan.label_classes_a == 4


def test_the_critic_learns_the_class_of_real_images_from_domain_as_labels():
    """The class term of D's loss falls only when D's class output follows labels_a."""
    acgan = model(classes=2)
    a = torch.zeros(4, 3, SIZE, SIZE)
    a[2:] = 1  # class 1 is white, class 0 black
    labels = torch.tensor([0, 0, 1, 1])
    acgan.losses("generator", Batch(a, a, labels))

    class ReadsBrightness(nn.Module):
        def forward(self, x):
            white = x.mean((1, 2, 3))
            return torch.stack([torch.zeros_like(white), 10 * (1 - white), 10 * white], 1)

    acgan.d = ReadsBrightness()
    right = acgan.losses("discriminator", Batch(a, a, labels))["classification"][1]
    wrong = acgan.losses("discriminator", Batch(a, a, 1 - labels))["classification"][1]
    assert right < wrong - 5


def quadrant_task(classes: int = 4, count: int = 64) -> Task:
    """Class k: a white quadrant k on black (the only thing that tells the classes apart)."""
    labels = torch.arange(count) % classes
    images = torch.zeros(count, 3, SIZE, SIZE, dtype=torch.uint8)
    half = SIZE // 2
    for i, k in enumerate(labels.tolist()):
        images[i, :, (k // 2) * half:(k // 2 + 1) * half, (k % 2) * half:(k % 2 + 1) * half] = 255
    data = ImageSet(images, labels)
    return Task(data, data, data, data)


def brightest_quadrant(x: torch.Tensor) -> torch.Tensor:
    half = SIZE // 2
    means = torch.stack([x[..., r * half:(r + 1) * half, c * half:(c + 1) * half].mean((1, 2, 3))
                         for r in (0, 1) for c in (0, 1)], 1)
    return means.argmax(1)


def test_a_short_run_draws_the_class_it_is_asked_for(tmp_path):
    config = load_config(None, ["model.name=acgan", *TINY_RUN, "model.width=0.125", "model.latent_dim=8",
                                "model.classes=4", "train.steps=200", "train.batch_size=16", "train.lr=2e-3",
                                "train.discriminator_lr=2e-3",
                                "train.beta1=0.5", "train.sample_every=200", "train.checkpoint_every=200",
                                "train.log_every=50", f"run_dir={tmp_path / 'run'}"])
    trainer = Trainer(config, task=quadrant_task())
    trainer.fit()
    translator = xgan.load(tmp_path / "run")
    for k in range(4):
        images = torch.stack([torch.from_numpy(np.array(p)).permute(2, 0, 1).float() / 127.5 - 1
                              for p in translator.generate(16, seed=0, label=k)])
        assert (brightest_quadrant(images) == k).float().mean() >= 0.75, f"class {k}"
    grid = generated_grid(trainer.model, 8, seed=0)
    assert grid.size == (4 * SIZE, 2 * SIZE)  # a column per class
    with pytest.raises(ValueError, match="outside the model's 4"):
        translator.generate(2, label=4)
