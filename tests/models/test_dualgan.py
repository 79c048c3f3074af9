import pytest
import torch
from torch import nn

from conftest import TINY_RUN, random_task
from xgan.cli import main
from xgan.config import load_config
from xgan.models.dualgan import DualGAN, DualGANConfig, DualGANWeights
from xgan.models.nets import unet_generator
from xgan.trainer import Trainer

SIZE = 16
TINY_DUALGAN = ["model.width=0.125"]


def model(**kwargs) -> DualGAN:
    torch.manual_seed(0)
    return DualGAN(DualGANConfig(width=0.125, **kwargs), SIZE)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE) * 2 - 1


class Negate(nn.Module):
    def forward(self, x):
        return -x


class Shift(nn.Module):
    def __init__(self, by: float) -> None:
        super().__init__()
        self.by = by

    def forward(self, x):
        return x + self.by


class MeanCritic(nn.Module):
    """Scores each image by its mean pixel: a known, differentiable critic."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3), keepdim=True)


def test_reconstruction_is_zero_for_an_exact_inverse_pair_and_weighted_by_lambda_u_and_lambda_v():
    a, b = images(), images()
    dual = model(weights=DualGANWeights(reconstruction_a=300.0, reconstruction_b=700.0))
    dual.g_ab, dual.g_ba = Shift(0.5), Shift(-0.5)  # each undoes the other, and neither is an identity
    losses = dual.generator_losses(a, b)
    assert (losses["reconstruction_a"][0], losses["reconstruction_b"][0]) == (300.0, 700.0)
    assert losses["reconstruction_a"][1].item() == pytest.approx(0.0, abs=1e-6)
    assert losses["reconstruction_b"][1].item() == pytest.approx(0.0, abs=1e-6)
    dual.g_ba = Shift(0.5)  # no longer an inverse: u comes back shifted by 1
    assert dual.generator_losses(a, b)["reconstruction_a"][1].item() == pytest.approx(1.0)


def test_wgan_losses_on_a_known_critic():
    """Critics minimise D(fake) - D(real); generators minimise -D(fake)."""
    a, b = images(), images()
    dual = model()
    dual.g_ab, dual.g_ba = Negate(), Negate()
    dual.d_a, dual.d_b = MeanCritic(), MeanCritic()
    critic = dual.critic_losses(a, b)
    assert critic["d_a"][1].item() == pytest.approx((-b).mean().item() - a.mean().item(), abs=1e-6)
    assert critic["d_b"][1].item() == pytest.approx((-a).mean().item() - b.mean().item(), abs=1e-6)
    assert "d_a_gp" not in critic
    gan = dual.generator_losses(a, b)["gan"][1].item()
    assert gan == pytest.approx(-(-a).mean().item() - (-b).mean().item(), abs=1e-6)


def test_wgan_gp_adds_a_weighted_gradient_penalty_and_turns_clipping_off():
    dual = model(gan_mode="wgan-gp")
    losses = dual.critic_losses(images(), images())
    assert losses["d_a_gp"][0] == 10.0 and losses["d_b_gp"][0] == 10.0
    assert losses["d_a_gp"][1].item() > 0
    losses["d_a_gp"][1].backward()  # the penalty trains the critic
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in dual.d_a.parameters())
    assert {p.name: p.clip for p in dual.phases()} == {"critic": 0.0, "generator": 0.0}


def test_critic_phase_first_with_rmsprop_and_clipping_and_the_generators_every_n_critic_steps():
    phases = {p.name: p for p in model(n_critic=3, clip=0.05).phases()}
    assert list(phases) == ["critic", "generator"]  # Algorithm 1: the critics, then the generators
    critic, generator = phases["critic"], phases["generator"]
    assert (critic.critic, critic.optimizer, critic.clip, critic.every) == (True, "rmsprop", 0.05, 1)
    assert (generator.critic, generator.optimizer, generator.clip, generator.every) == (False, "rmsprop", 0.0, 3)


def test_training_runs_the_generators_only_every_n_critic_steps_and_keeps_the_critics_clipped(tmp_path, monkeypatch):
    config = load_config(None, ["model.name=dualgan", *TINY_RUN, *TINY_DUALGAN, "model.n_critic=3", "train.steps=7",
                                "train.sample_every=100", "train.collapse_every=0", f"run_dir={tmp_path / 'run'}"])
    trainer = Trainer(config, task=random_task())
    calls: list[str] = []
    losses = trainer.model.losses
    monkeypatch.setattr(trainer.model, "losses", lambda phase, batch: calls.append(phase) or losses(phase, batch))
    g_before = [p.detach().clone() for p in trainer.model.g_ab.parameters()]
    trainer.fit()
    assert calls == ["critic", "generator", "critic", "critic", "critic", "generator", "critic", "critic",
                     "critic", "generator"]  # steps 0, 3 and 6 update the generators
    assert type(trainer.optimizers["critic"]) is torch.optim.RMSprop
    assert type(trainer.optimizers["generator"]) is torch.optim.RMSprop
    assert all(p.abs().max() <= 0.01 for p in trainer.model.d_a.parameters())  # instance norm's scales included
    assert any(not torch.equal(p, q) for p, q in zip(g_before, trainer.model.g_ab.parameters()))


def test_unet_has_a_skip_at_every_size_and_goes_down_to_one_by_one():
    generator = unet_generator(32, 0.25, "instance")
    sizes = []
    hook = lambda module, args, out: sizes.append(out.shape[-1])
    for m in generator.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(hook)
    assert generator(torch.zeros(2, 3, 32, 32)).shape == (2, 3, 32, 32)
    assert sizes == [16, 8, 4, 2, 1]
    transposed = [m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d)]
    # the innermost up-conv sees the bottleneck only; each outer one its inner output beside the skip
    assert [m.in_channels for m in transposed] == [128, 2 * 128, 2 * 64, 2 * 32, 2 * 16]  # innermost first


def test_unet_skips_carry_the_input_past_a_cut_bottleneck():
    """The skip connections carry the input: cut the 1x1 bottleneck and the output still depends on the input."""
    generator = unet_generator(16, 0.25, "instance").eval()
    innermost = generator
    while innermost.inner is not None:
        innermost = innermost.inner
    innermost.down = nn.Sequential(innermost.down, Zero())
    x, y = images(2), images(2)
    assert not torch.allclose(generator(x), generator(y))


class Zero(nn.Module):
    def forward(self, x):
        return torch.zeros_like(x)


def test_bad_options_are_refused():
    for bad in ({"gan_mode": "hinge"}, {"n_critic": 0}, {"clip": -1.0}, {"dropout": 1.0}):
        with pytest.raises(ValueError):
            DualGANConfig(**bad)


def test_inference_builds_the_generators_only():
    dual = DualGAN(DualGANConfig(width=0.125), SIZE, training=False)
    assert {name.split(".")[0] for name in dual.state_dict()} == {"g_ab", "g_ba"}


@pytest.mark.parametrize("options", [[], ["model.gan_mode=wgan-gp", "model.spectral_norm=true"]])
def test_train_and_translate_both_ways_end_to_end(options, tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    assert main(["train", "dualgan-digits", *TINY_DUALGAN, *TINY_RUN, "train.steps=2", *options,
                 "--out", str(run)]) == 0
    Image.new("RGB", (20, 20), "white").save(tmp_path / "x.png")
    for to in ("a", "b"):
        assert main(["translate", str(run), str(tmp_path / "x.png"), "--to", to, "--out", str(tmp_path / "out")]) == 0
        assert Image.open(tmp_path / "out" / f"x_to_{to}.png").size == (16, 16)
