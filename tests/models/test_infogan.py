import math

import pytest
import torch
from torch import nn

from conftest import TINY_RUN
from test_acgan import quadrant_task
from xgan.config import load_config
from xgan.evaluation.metrics import matched_accuracy
from xgan.models.base import Batch
from xgan.models.infogan import InfoGAN, InfoGANConfig
from xgan.trainer import Trainer

SIZE = 16


def model(**kwargs) -> InfoGAN:
    torch.manual_seed(0)
    return InfoGAN(InfoGANConfig(width=0.125, **kwargs), SIZE)


def test_the_code_is_uniform_noise_the_categorical_one_hot_and_uniform_continuous_codes():
    infogan = model(noise_dim=5, categories=3, continuous=2)
    z = infogan.sample_latent(400, torch.Generator().manual_seed(0), classes=torch.arange(400) % 3)
    assert z.shape == (400, 10) and infogan.latent_dim == 10
    assert torch.equal(z[:, 5:8], torch.eye(3)[torch.arange(400) % 3])
    uniform = torch.cat([z[:, :5], z[:, 8:]], 1)
    assert uniform.min() >= -1 and uniform.max() <= 1 and uniform.min() < -0.95 and uniform.max() > 0.95


class Reads(nn.Module):
    """A Q head that reads back the codes it is handed (in place of the image features), shifted by `error`."""

    def __init__(self, z: torch.Tensor, noise_dim: int, error: float) -> None:
        super().__init__()
        self.z, self.n, self.error = z, noise_dim, error

    def forward(self, h):
        categorical, continuous = self.z[:, self.n:-2], self.z[:, -2:]
        return torch.cat([30 * categorical, continuous + self.error], 1)


def test_the_information_terms_are_the_cross_entropy_and_the_fixed_variance_gaussian_of_qs_reading():
    infogan = model(noise_dim=4, categories=3, continuous=2)
    z = infogan.sample_latent(6, torch.Generator().manual_seed(0))
    infogan.q = Reads(z, 4, error=0.0)
    exact = infogan.info_loss(None, z)
    assert exact["info_categorical"].item() < 1e-6 and exact["info_continuous"].item() == pytest.approx(0)
    infogan.q = Reads(z, 4, error=1.0)  # every continuous code off by 1: -log N(c'; mu, 1) = 1/2 each, + const
    assert infogan.info_loss(None, z)["info_continuous"].item() == pytest.approx(2 * 0.5)


def test_both_phases_minimise_the_information_terms_and_q_shares_ds_convolutions():
    infogan = model(categories=4, continuous=1)
    a = b = torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    g = infogan.losses("generator", Batch(a, b))
    assert set(g) == {"gan", "info_categorical", "info_continuous"}
    assert g["info_categorical"][1].item() == pytest.approx(math.log(4), abs=0.3)  # Q knows nothing yet
    g["info_categorical"][1].backward()
    assert all(p.grad is not None for p in infogan.g.parameters())  # G learns to make its code readable
    d = infogan.losses("discriminator", Batch(a, b))
    assert set(d) == {"d", "info_categorical", "info_continuous"}
    generator, critic = infogan.phases()
    shared = {id(p) for p in infogan.features.parameters()} | {id(p) for p in infogan.q.parameters()}
    assert shared <= {id(p) for p in critic.parameters} and critic.critic
    assert not shared & {id(p) for p in generator.parameters}
    assert not infogan.reads_labels_a  # no label anywhere


def test_matched_accuracy_is_the_agreement_under_the_best_one_to_one_relabelling():
    classes = torch.tensor([3, 3, 1, 1, 0, 0, 2, 2])
    assert matched_accuracy(torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]), classes) == 1.0  # a permutation of them
    assert matched_accuracy(torch.tensor([0, 0, 1, 1]), torch.tensor([1, 1, 1, 0])) == 0.75  # 0 -> 1, 1 -> 0
    assert matched_accuracy(torch.tensor([0, 1, 0, 1]), torch.tensor([2, 2, 2, 2])) == 0.5  # one code per class


def test_a_short_run_makes_the_categorical_code_readable_from_the_images(tmp_path):
    """No label is read; after 100 steps Q reads back which of 4 codes made an image far better than chance."""
    config = load_config(None, ["model.name=infogan", *TINY_RUN, "model.width=0.125", "model.noise_dim=8",
                                "model.categories=4", "model.continuous=1", "train.steps=100", "train.batch_size=16",
                                "train.lr=2e-3", "train.discriminator_lr=2e-3", "train.beta1=0.5",
                                "train.sample_every=100", "train.checkpoint_every=100", "train.log_every=50",
                                f"run_dir={tmp_path / 'run'}"])
    trainer = Trainer(config, task=quadrant_task())
    infogan = trainer.model

    def cross_entropy() -> float:
        infogan.eval()
        with torch.no_grad():
            z = infogan.sample_latent(64, torch.Generator().manual_seed(5))
            value = infogan.info_loss(infogan.features(infogan.generate(z)), z)["info_categorical"].item()
        infogan.train()
        return value

    assert cross_entropy() == pytest.approx(math.log(4), abs=0.1)
    trainer.fit()
    assert cross_entropy() < 0.25 * math.log(4)
