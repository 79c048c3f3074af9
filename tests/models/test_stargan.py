import math

import pytest
import torch
from torch import nn

from conftest import TINY_RUN, dark_and_bright_task
from xgan.config import load_config
from xgan.models.base import Batch
from xgan.models.stargan import Discriminator, StarGAN, StarGANConfig
from xgan.trainer import Trainer

SIZE = 16


def model(**kwargs) -> StarGAN:
    torch.manual_seed(0)
    return StarGAN(StarGANConfig(width=0.125, residual_blocks=1, **kwargs), SIZE)


def test_the_critic_goes_down_to_2x2_with_a_patch_score_and_the_domain_logits():
    d = Discriminator(128, domains=5, width=1.0)
    assert sum(isinstance(m, nn.Conv2d) for m in d.main) == 6  # the official repeat_num at 128 px
    source, domain = d(torch.zeros(2, 3, 128, 128))
    assert source.shape == (2, 1, 2, 2) and domain.shape == (2, 5)
    source, domain = Discriminator(32, domains=2, width=0.25)(torch.zeros(3, 3, 32, 32))
    assert source.shape == (3, 1, 2, 2) and domain.shape == (3, 2)


def test_one_generator_translates_into_the_domain_its_label_names():
    stargan = model()
    assert stargan.g.main[0].in_channels == 3 + 2  # the image and the target's one-hot, tiled
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    to_a, to_b = stargan.translate(x, "a"), stargan.translate(x, "b")
    assert to_a.shape == x.shape and not torch.allclose(to_a, to_b)


class Even(nn.Module):
    """A critic that scores every patch 0 and finds both domains equally likely."""

    def forward(self, x):
        return x[:, :1, :2, :2] * 0, x[:, :2, 0, 0] * 0


def test_the_losses_are_the_papers_on_a_known_critic():
    stargan = model()
    stargan.d = Even()
    a, b = torch.full((3, 3, SIZE, SIZE), -1.0), torch.ones(3, 3, SIZE, SIZE)
    d = stargan.losses("discriminator", Batch(a, b))
    assert d["d"][1].item() == 0  # E[D(fake)] - E[D(real)]
    assert d["classification"][1].item() == pytest.approx(math.log(2))
    assert d["gradient_penalty"][1].item() == pytest.approx(1.0, abs=1e-5)  # a flat critic: (0 - 1)^2
    assert sorted(stargan._target.tolist()) == [0, 0, 0, 1, 1, 1]  # the batch's own labels, shuffled
    g = stargan.losses("generator", Batch(a, b))
    assert g["gan"][1].item() == 0 and g["classification"][1].item() == pytest.approx(math.log(2))
    x, target = torch.cat([a, b]), stargan._target
    one_hot = nn.functional.one_hot
    back = stargan.g(stargan.g(x, one_hot(target, 2).float()), one_hot(torch.tensor([0, 0, 0, 1, 1, 1]), 2).float())
    assert g["reconstruction"][1].item() == pytest.approx((x - back).abs().mean().item(), rel=1e-5)
    weights = {name: weight for name, (weight, _) in {**d, **g}.items()}
    assert weights == {"d": 1.0, "classification": 1.0, "gradient_penalty": 10.0, "gan": 1.0, "reconstruction": 10.0}


def test_the_critic_trains_at_every_step_and_the_generator_at_every_n_critic_th():
    discriminator, generator = model(n_critic=5).phases()
    assert (discriminator.name, discriminator.critic, discriminator.every) == ("discriminator", True, 1)
    assert (generator.name, generator.every) == ("generator", 5)


def test_a_short_run_translates_into_the_domain_asked_for(tmp_path):
    """A: dark images, B: bright ones. After 100 steps, dark inputs asked for B come out bright, and asked for A
    stay dark: one generator, two targets."""
    task = dark_and_bright_task(SIZE)
    config = load_config(None, ["model.name=stargan", *TINY_RUN, "model.width=0.125", "model.residual_blocks=1",
                                "train.steps=100", "train.lr=1e-3", "train.discriminator_lr=1e-3",
                                "train.sample_every=100", "train.checkpoint_every=100", "train.log_every=50",
                                f"run_dir={tmp_path / 'run'}"])
    trainer = Trainer(config, task=task)
    trainer.fit()
    stargan = trainer.model.eval()
    x = task.test_a.images[:16].float() / 127.5 - 1  # mean about -0.8
    with torch.no_grad():
        assert stargan.translate(x, "b").mean() > 0
        assert stargan.translate(x, "a").mean() < -0.5
