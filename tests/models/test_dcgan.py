import math

import pytest
import torch
from torch import nn

from conftest import TINY_RUN
from xgan.config import load_config
from xgan.data.task import ImageSet, Task
from xgan.evaluation.metrics import class_entropy
from xgan.models.base import Batch
from xgan.models.dcgan import DCGAN, DCGANConfig
from xgan.trainer import Trainer

SIZE = 16


def model(**kwargs) -> DCGAN:
    torch.manual_seed(0)
    return DCGAN(DCGANConfig(width=0.125, **kwargs), SIZE)


class Recorder(nn.Module):
    """A critic that says 0 (even odds) to everything and keeps what it was shown."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x)
        return torch.zeros(len(x), 1)


def test_the_losses_are_the_papers_cross_entropies_on_a_known_critic():
    dcgan, critic = model(), Recorder()
    dcgan.d = critic
    a, b = torch.zeros(4, 3, SIZE, SIZE), torch.ones(4, 3, SIZE, SIZE)
    assert dcgan.losses("generator", Batch(a, b))["gan"][1].item() == pytest.approx(math.log(2))  # -log D(G(z))
    assert dcgan.losses("discriminator", Batch(a, b))["d"][1].item() == pytest.approx(2 * math.log(2))
    assert torch.equal(critic.seen[1], b)  # the real images D sees are domain B's


def test_it_learns_the_domain_it_is_given():
    dcgan, critic = model(domain="a"), Recorder()
    dcgan.d = critic
    a, b = torch.zeros(4, 3, SIZE, SIZE), torch.ones(4, 3, SIZE, SIZE)
    dcgan.losses("generator", Batch(a, b))
    dcgan.losses("discriminator", Batch(a, b))
    assert torch.equal(critic.seen[1], a)


def test_a_domain_that_is_not_a_or_b_is_a_config_error():
    with pytest.raises(ValueError, match="model.domain"):
        DCGANConfig(domain="c")


def test_the_generator_maps_noise_to_images_through_a_4x4_projection():
    dcgan = model(latent_dim=12)
    z = dcgan.sample_latent(5, torch.Generator().manual_seed(0))
    assert z.shape == (5, 12)
    images = dcgan.generate(z)
    assert images.shape == (5, 3, SIZE, SIZE) and images.abs().max() <= 1
    assert dcgan.g[0](z).shape == (5, 64, 4, 4)  # 512 x width channels at 4x4


def test_class_entropy_is_one_for_uniform_classes_and_zero_for_one():
    class Reads(nn.Module):
        def forward(self, x):
            return nn.functional.one_hot(x[:, 0, 0, 0].long(), 4).float()

    uniform = torch.arange(8).remainder(4).float().view(8, 1, 1, 1).expand(8, 3, 2, 2)
    assert class_entropy(Reads(), uniform) == pytest.approx(1.0)
    assert class_entropy(Reads(), torch.zeros(8, 3, 2, 2)) == pytest.approx(0.0)


def test_a_short_run_learns_the_pictures_of_its_domain(tmp_path):
    """Every B image is a left half of some grey in [128, 255] beside a black right half: after 150 steps the
    generated images are far nearer to that family than at the start."""
    greys = torch.randint(128, 256, (64,), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    pictures = torch.zeros(64, 3, SIZE, SIZE, dtype=torch.uint8)
    pictures[..., :SIZE // 2] = greys.view(64, 1, 1, 1)
    images = ImageSet(pictures)
    task = Task(images, images, images, images)
    config = load_config(None, ["model.name=dcgan", *TINY_RUN, "model.width=0.125", "model.latent_dim=8",
                                "train.steps=150", "train.lr=1e-3", "train.discriminator_lr=1e-3", "train.beta1=0.5",
                                "train.sample_every=150", "train.checkpoint_every=150",
                                "train.log_every=50", f"run_dir={tmp_path / 'run'}"])
    trainer = Trainer(config, task=task)
    z = trainer.model.sample_latent(32, torch.Generator().manual_seed(1))

    def error() -> float:  # from a black right half, and from the family's mean grey (0.5) on the left
        trainer.model.eval()
        with torch.no_grad():
            x = trainer.model.generate(z)
        return ((x[..., SIZE // 2:] + 1).abs().mean() + (x[..., :SIZE // 2] - 0.5).abs().mean()).item()

    before = error()
    trainer.fit()
    assert error() < 0.3 * before
