import pytest
import torch
from torch import nn

from conftest import TINY_MODEL, TINY_RUN
from xgan.cli import main
from xgan.models.base import Batch
from xgan.models.cyclegan import (CycleGAN, CycleGANConfig, CycleGANWeights, encoder_decoder_generator,
                                  patch_discriminator, resnet_generator)

SIZE = 16


def model(**kwargs) -> CycleGAN:
    torch.manual_seed(0)
    return CycleGAN(CycleGANConfig(width=0.125, residual_blocks=1, **kwargs), SIZE)


class Negate(nn.Module):
    def forward(self, x):
        return -x


class Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full((len(x), 1, 2, 2), self.value)


def test_cycle_and_identity_losses_on_known_generators():
    a, b = torch.rand(4, 3, SIZE, SIZE) * 2 - 1, torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    cyclegan = model()
    cyclegan.g_ab, cyclegan.g_ba = Negate(), Negate()  # each undoes the other, and neither is an identity
    losses = cyclegan.generator_losses(a, b)
    assert losses["cycle"][1].item() == 0
    assert losses["identity"][1].item() == pytest.approx((2 * b).abs().mean().item() + (2 * a).abs().mean().item(), rel=1e-5)
    assert losses["cycle"][0] == 10.0 and losses["identity"][0] == 5.0  # lambda, lambda * lambda_idt
    assert "identity" not in model(weights=CycleGANWeights(identity=0)).generator_losses(a, b)


def test_least_squares_gan_losses_on_constant_discriminators():
    a, b = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    cyclegan = model(pool_size=0)
    cyclegan.d_a, cyclegan.d_b = Constant(0.25), Constant(0.25)
    losses = cyclegan.generator_losses(a, b)
    assert losses["gan"][1].item() == pytest.approx(2 * 0.75 ** 2)  # (D - 1)^2 for each generator
    d = cyclegan.discriminator_losses(a, b)
    assert d["d_a"] == (0.5, pytest.approx(torch.tensor(0.75 ** 2 + 0.25 ** 2)))


def test_discriminators_see_translations_through_the_history_pool():
    cyclegan = model(pool_size=3)
    a, b = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    cyclegan.generator_losses(a, b)
    cyclegan.discriminator_losses(a, b)
    assert int(cyclegan.pool_a.count) == 2 and int(cyclegan.pool_b.count) == 2
    assert torch.equal(cyclegan.pool_b.images[:2], cyclegan._fakes[1])


@pytest.mark.parametrize("size, blocks", [(32, 6), (64, 6), (128, 6), (256, 9)])
def test_resnet_generator_keeps_the_size_and_has_the_references_block_count(size, blocks):
    generator = resnet_generator(size, 0.125, 0, "instance")
    assert sum(type(m).__name__ == "ResidualBlock" for m in generator) == blocks
    assert generator(torch.zeros(1, 3, size, size)).shape == (1, 3, size, size)


@pytest.mark.parametrize("size, patches", [(32, 6), (64, 6), (128, 14), (256, 30)])
def test_patch_discriminator_scores_overlapping_patches(size, patches):
    """30x30 scores at 256 px: the reference's 70x70 PatchGAN."""
    assert patch_discriminator(size, 0.125, "instance")(torch.zeros(1, 3, size, size)).shape == (1, 1, patches, patches)


def test_discogan_generator_goes_down_to_four_by_four_and_back():
    generator = encoder_decoder_generator(64, 1.0, "instance")
    channels = [m.out_channels for m in generator.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    assert channels == [64, 128, 256, 512, 256, 128, 64, 3]
    assert generator(torch.zeros(2, 3, 64, 64)).shape == (2, 3, 64, 64)


def test_bad_generator_is_refused():
    with pytest.raises(ValueError, match="generator"):
        CycleGANConfig(generator="unet")


@pytest.mark.parametrize("generator", ["resnet", "encoder_decoder"])
def test_train_and_translate_both_ways_end_to_end(generator, tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    assert main(["train", "cyclegan-digits", *TINY_MODEL["cyclegan"], *TINY_RUN, "train.steps=2",
                 f"model.generator={generator}", "--out", str(run)]) == 0
    Image.new("RGB", (20, 20), "white").save(tmp_path / "x.png")
    for to in ("a", "b"):
        assert main(["translate", str(run), str(tmp_path / "x.png"), "--to", to, "--out", str(tmp_path / "out")]) == 0
        assert Image.open(tmp_path / "out" / f"x_to_{to}.png").size == (16, 16)


def test_wgan_gp_mode_scores_with_the_critic_and_adds_the_gradient_penalty():
    a, b = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    cyclegan = model(pool_size=0, gan_mode="wgan-gp")
    cyclegan.d_a, cyclegan.d_b = Constant(0.25), Constant(0.25)
    assert cyclegan.generator_losses(a, b)["gan"][1].item() == pytest.approx(-0.5)  # -D(fake) for each generator
    cyclegan.d_a, cyclegan.d_b = (patch_discriminator(SIZE, 0.125, "instance") for _ in range(2))
    d = cyclegan.discriminator_losses(a, b)
    assert set(d) == {"d_a", "d_b", "d_a_gp", "d_b_gp"} and d["d_a_gp"][0] == 10.0 and d["d_a_gp"][1].item() > 0


def test_spectral_norm_and_gan_mode_options_and_weight_clipping_wgan_refused():
    assert any("parametrizations" in k for k in model(spectral_norm=True).d_a.state_dict())
    assert not any("parametrizations" in k for k in model().d_a.state_dict())  # the default: the paper's
    with pytest.raises(ValueError, match="gan_mode"):
        CycleGANConfig(gan_mode="wgan")


class SignClassifier(nn.Module):
    """Two classes by the sign of the image's mean, decided with a wide margin."""

    def forward(self, x):
        m = x.mean((1, 2, 3))
        return torch.stack([100 * m, -100 * m], dim=1)


def test_cycadas_semantic_loss_keeps_the_classifiers_decision_through_each_translation():
    net = CycleGAN(CycleGANConfig(width=0.125, residual_blocks=1, weights=CycleGANWeights(semantic=1.0)), SIZE,
                   pretrained=False)
    assert net.reads_labels_a and not model().reads_labels_a  # its f is the printed-digit LeNet
    net.semantic = SignClassifier()
    a = torch.rand(4, 3, SIZE, SIZE) * 0.5 + 0.2  # positive means: class 0
    b = -a
    net.g_ab = net.g_ba = nn.Identity()
    kept = net.losses("generator", Batch(a, b))
    assert kept["semantic"][0] == 1.0 and kept["semantic"][1].item() < 1e-6
    net.g_ab = net.g_ba = Negate()  # every translation flips the decision
    flipped = net.losses("generator", Batch(a, b))["semantic"][1].item()
    assert flipped == pytest.approx(2 * 200 * a.mean((1, 2, 3)).mean().item(), rel=1e-3)
    assert "semantic" not in model().losses("generator", Batch(a, b))


def test_the_semantic_classifier_is_frozen_and_its_gradient_reaches_the_generators():
    net = CycleGAN(CycleGANConfig(width=0.125, residual_blocks=1, weights=CycleGANWeights(semantic=1.0)), SIZE,
                   pretrained=False)
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    net.losses("generator", Batch(x, x))["semantic"][1].backward()
    assert all(not p.requires_grad for p in net.semantic.parameters())
    assert all(p.grad is not None for p in net.g_ab.parameters() if p.requires_grad)
    assert not any(p in set(net.semantic.parameters()) for phase in net.phases() for p in phase.parameters)
