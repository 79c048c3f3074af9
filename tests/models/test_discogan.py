import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import TINY_RUN
from xgan.cli import main
from xgan.config import load_config
from xgan.models.base import Batch
from xgan.models.discogan import DiscoGAN, DiscoGANConfig, DiscoGANWeights, feature_matching
from xgan.models.nets import DiscoGANDiscriminator

SIZE = 16


def model(**kwargs) -> DiscoGAN:
    torch.manual_seed(0)
    return DiscoGAN(DiscoGANConfig(width=0.125, **kwargs), SIZE)


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class Negate(nn.Module):
    def forward(self, x):
        return -x


class Constant(nn.Module):
    """A discriminator that says the same logit for every image and has fixed features."""

    def __init__(self, logit: float) -> None:
        super().__init__()
        self.logit = logit
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return torch.full((len(x),), self.logit) + 0 * self.p, [torch.ones(len(x), 2, 2, 2)]


def test_reconstruction_is_zero_for_an_exact_inverse_pair_and_positive_otherwise():
    a, b = images(seed=1), images(seed=2)
    disco = model()
    disco.g_ab, disco.g_ba = Negate(), Negate()  # each undoes the other, and neither is an identity
    fake = {"b": disco.g_ab(a), "a": disco.g_ba(b)}
    assert disco.constraint_losses({"a": a, "b": b}, fake)["reconstruction"][1].item() == 0
    disco.g_ba = nn.Identity()  # G_BA(G_AB(a)) = -a: the error is (2a)^2 on [-1, 1], a^2 on the official [0, 1]
    fake = {"b": disco.g_ab(a), "a": disco.g_ba(b)}
    expected = (a ** 2).mean() + (b ** 2).mean()
    assert disco.constraint_losses({"a": a, "b": b}, fake)["reconstruction"][1].item() == pytest.approx(expected.item(), rel=1e-5)


def test_feature_matching_compares_batch_means_and_leaves_the_real_side_fixed():
    real = [torch.randn(4, 3, 2, 2), torch.randn(4, 5)]
    assert feature_matching(real, [r.clone() for r in real]).item() == 0
    shuffled = [r[torch.randperm(4)].requires_grad_() for r in real]  # other order, the same batch means
    assert feature_matching(real, shuffled).item() == pytest.approx(0, abs=1e-6)
    real[0].requires_grad_()
    shifted = [r.detach() + 1 for r in real]
    for f in shifted:
        f.requires_grad_()
    loss = feature_matching(real, shifted)
    assert loss.item() == pytest.approx(2.0)  # mean of 1^2 per layer, two layers
    loss.backward()
    assert real[0].grad is None and shifted[0].grad is not None


def test_the_gan_curriculum_weighs_reconstruction_little_then_half():
    disco = model(gan_curriculum=2, update_interval=2)
    a, b = images(seed=1), images(seed=2)
    weights = []
    for _ in range(4):
        for phase in ("discriminator", "generator"):
            losses = disco.losses(phase, Batch(a, b))
            if phase == "generator" and losses:
                weights.append({k: w for k, (w, _) in losses.items()})
    early, late = weights  # generator steps 1 and 3
    assert early["reconstruction"] == 0.01 and early["gan"] == pytest.approx(0.99 * 0.1)
    assert early["feature_matching"] == pytest.approx(0.99 * 0.9)
    assert late["reconstruction"] == 0.5 and late["gan"] == pytest.approx(0.05) and late["feature_matching"] == pytest.approx(0.45)


def test_discriminators_update_every_third_step_and_generators_at_the_others():
    disco = model()
    a, b = images(seed=1), images(seed=2)
    turns = []
    for _ in range(6):
        turns.append(tuple(phase for phase in ("discriminator", "generator") if disco.losses(phase, Batch(a, b))))
    assert turns == [("discriminator",), ("generator",), ("generator",)] * 2
    assert int(disco.steps_done) == 6
    every_step = model(update_interval=1)
    assert all(every_step.losses(phase, Batch(a, b)) for phase in ("discriminator", "generator"))


def test_binary_cross_entropy_on_constant_discriminators():
    disco = model(weights=DiscoGANWeights(weight_decay=0))
    disco.d_a, disco.d_b = Constant(0.5), Constant(0.5)
    a, b = images(seed=1), images(seed=2)
    generator = disco.generator_losses(Batch(a, b))
    assert generator["gan"][1].item() == pytest.approx(2 * F.softplus(torch.tensor(-0.5)).item())  # -log sigmoid
    assert generator["feature_matching"][1].item() == 0  # equal features
    critic = disco.discriminator_losses(Batch(a, b))
    both = (F.softplus(torch.tensor(-0.5)) + F.softplus(torch.tensor(0.5))).item()
    assert critic["d_a"][0] == 0.5 and critic["d_a"][1].item() == pytest.approx(both)
    assert "weight_decay" not in critic


def test_the_weight_decay_term_has_adams_coupled_gradient():
    disco = model()
    critic = disco.discriminator_losses(Batch(images(seed=1), images(seed=2)))
    weight, value = critic["weight_decay"]
    (weight * value).backward()
    p = next(disco.d_a.parameters())
    assert torch.allclose(p.grad, 1e-5 * p.detach())


def test_the_discriminator_is_the_official_stack_and_returns_the_matched_features():
    judge = DiscoGANDiscriminator(64, 1.0, "batch")
    logits, features = judge(torch.zeros(2, 3, 64, 64))
    convs = [m.out_channels for m in judge.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [64, 128, 256, 512, 1]
    assert logits.shape == (2,)
    assert [f.shape[1:] for f in features] == [(128, 16, 16), (256, 8, 8), (512, 4, 4)]  # relu2..relu4


def test_inference_builds_the_generators_only():
    disco = DiscoGAN(DiscoGANConfig(width=0.125), SIZE, training=False)
    assert {name.split(".")[0] for name in disco.state_dict()} == {"g_ab", "g_ba"}
    assert disco.translate(images(), "a").shape == (4, 3, SIZE, SIZE)


@pytest.mark.parametrize("preset, size", [("discogan-digits", 32), ("discogan-emoji", 64)])
def test_presets(preset, size):
    config = load_config(preset)
    assert config.model.name == "discogan" and config.data.image_size == size


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="update_interval"):
        DiscoGANConfig(update_interval=0)
    with pytest.raises(ValueError, match="default_rate"):
        DiscoGANConfig(default_rate=1.5)


def test_train_and_translate_both_ways_end_to_end(tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    assert main(["train", "discogan-digits", "model.width=0.125", *TINY_RUN, "train.steps=3", "--out", str(run)]) == 0
    Image.new("RGB", (20, 20), "white").save(tmp_path / "x.png")
    for to in ("a", "b"):
        assert main(["translate", str(run), str(tmp_path / "x.png"), "--to", to, "--out", str(tmp_path / "out")]) == 0
        assert Image.open(tmp_path / "out" / f"x_to_{to}.png").size == (16, 16)
