import pytest
import torch
from torch import nn

from conftest import TINY_RUN
from xgan.cli import main
from xgan.config import load_config
from xgan.models.augmented_cyclegan import (AugmentedCycleGAN, AugmentedCycleGANConfig, AugmentedCycleGANWeights,
                                            ConditionalInstanceNorm)

SIZE, CODE = 16, 4


def model(training: bool = True, **kwargs) -> AugmentedCycleGAN:
    torch.manual_seed(0)
    return AugmentedCycleGAN(AugmentedCycleGANConfig(style_dim=CODE, width=0.125, residual_blocks=1, **kwargs), SIZE,
                             training=training)


def exact(count: int, *shape: int, scale: int = 128) -> torch.Tensor:
    """Values on a grid of 1/scale: sums and differences of them are exact, so an exact inverse gives exactly 0."""
    return torch.randint(-scale, scale, (count, *shape)).float() / scale


class PlantCode(nn.Module):
    """G(x, z) = -x + P(z), P writing z into the first pixels of channel 0's first row: invertible given z."""

    def forward(self, x, z):
        planted = torch.zeros_like(x)
        planted[:, 0, 0, :CODE] = z
        return -x + planted


class ReadCode(nn.Module):
    """E(a, b) = (a + b) at the planted pixels: the code that took one image of the pair to the other."""

    def forward(self, a, b):
        return (a + b)[:, 0, 0, :CODE]


class Zero(nn.Module):
    def forward(self, a, b):
        return torch.zeros(len(a), CODE)


class Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full((len(x), 1), self.value)


def toy(encoder: type[nn.Module] = ReadCode) -> AugmentedCycleGAN:
    augmented = model()
    augmented.g_ab, augmented.g_ba = PlantCode(), PlantCode()
    augmented.e_a, augmented.e_b = encoder(), encoder()
    return augmented


def test_both_augmented_cycles_are_zero_for_an_exact_inverse():
    a, b = exact(3, 3, SIZE, SIZE), exact(3, 3, SIZE, SIZE)
    z_a, z_b = exact(3, CODE, scale=16), exact(3, CODE, scale=16)
    losses = toy().generator_losses(a, b, z_a, z_b)
    assert losses["cycle"][1].item() == 0
    assert losses["cycle_latent"][1].item() == 0


def test_latent_cycle_measures_how_far_the_inferred_code_is_from_the_drawn_one():
    a, b = exact(3, 3, SIZE, SIZE), exact(3, 3, SIZE, SIZE)
    z_a, z_b = exact(3, CODE, scale=16), exact(3, CODE, scale=16)
    losses = toy(Zero).generator_losses(a, b, z_a, z_b)  # an encoder that forgets the code
    assert losses["cycle_latent"][1].item() == pytest.approx(z_a.abs().mean().item() + z_b.abs().mean().item())
    assert losses["cycle"][1].item() > 0  # without z~ the image cycle cannot undo the planted code either


def test_official_weights_are_the_defaults():
    a, b = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    losses = model().generator_losses(a, b)
    assert {k: w for k, (w, _) in losses.items()} == {"gan": 1.0, "gan_latent": 1.0, "cycle": 1.0,
                                                        "cycle_latent": 0.025}
    weighted = model(weights=AugmentedCycleGANWeights(cycle_latent=0.5)).generator_losses(a, b)
    assert weighted["cycle_latent"][0] == 0.5


def test_least_squares_gan_losses_on_images_and_codes():
    a, b = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    augmented = model()
    augmented.d_za, augmented.d_zb = Constant(0.25), Constant(0.25)
    augmented.d_a, augmented.d_b = Constant(0.5), Constant(0.5)
    losses = augmented.generator_losses(a, b)
    assert losses["gan"][1].item() == pytest.approx(2 * 0.5 ** 2)  # (D - 1)^2 for each translation
    assert losses["gan_latent"][1].item() == pytest.approx(2 * 0.75 ** 2)  # and for each inferred code
    critics = augmented.discriminator_losses(a, b)
    assert set(critics) == {"d_a", "d_b", "d_za", "d_zb"}
    assert critics["d_za"] == (0.5, pytest.approx(torch.tensor(0.75 ** 2 + 0.25 ** 2)))


class Recorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, z):
        self.seen.append(z.detach().clone())
        return torch.zeros(len(z), 1)


def test_latent_discriminators_take_prior_codes_as_real_and_inferred_codes_as_fake():
    a, b = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    z_a, z_b = torch.randn(2, CODE), torch.randn(2, CODE)
    augmented = toy()
    augmented.d_a = augmented.d_b = Constant(0.0)
    augmented.d_za, augmented.d_zb = Recorder(), Recorder()
    augmented.generator_losses(a, b, z_a, z_b)
    augmented.discriminator_losses(a, b)
    code_a = augmented.e_a(a, augmented.g_ab(a, z_b))  # z~_a = E_A(a, b~): here, exactly z_b
    assert torch.equal(augmented.d_za.seen[0], code_a)  # the generator's term
    assert torch.equal(augmented.d_za.seen[1], z_a) and torch.equal(augmented.d_za.seen[2], code_a)  # real, fake
    assert torch.equal(augmented.d_zb.seen[1], z_b)


def test_different_codes_give_different_translations_and_the_same_code_the_same():
    augmented = model(training=False).eval()
    x = (torch.rand(1, 3, SIZE, SIZE) * 2 - 1).expand(3, -1, -1, -1)
    for to in ("a", "b"):
        codes = augmented.sample_style(3, to)
        with torch.no_grad():
            y = augmented.translate(x, to, codes)
            again = augmented.translate(x, to, codes)
        assert torch.equal(y, again)
        assert (y[0] - y[1]).abs().max() > 1e-3 and (y[1] - y[2]).abs().max() > 1e-3
        # one code is shared by the whole batch
        assert torch.allclose(augmented.translate(x[:1], to, codes[1]), y[1:2], atol=1e-6)


def test_translation_without_a_style_uses_the_priors_mean():
    augmented = model(training=False).eval()
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    with torch.no_grad():
        default = augmented.translate(x, "b")
        assert torch.equal(default, augmented.translate(x, "b", torch.zeros(2, CODE)))
        assert torch.equal(default, augmented.translate(x, "b"))  # deterministic: evaluation and export rely on it


def test_sample_style_draws_standard_gaussian_codes():
    torch.manual_seed(0)
    augmented = model(training=False)
    assert augmented.style_dim == CODE
    codes = augmented.sample_style(20000, "a")
    assert codes.shape == (20000, CODE)
    assert codes.mean().abs() < 0.02 and (codes.std() - 1).abs() < 0.02
    assert not torch.equal(augmented.sample_style(2, "b"), augmented.sample_style(2, "b"))
    with pytest.raises(ValueError, match="domain"):
        augmented.sample_style(2, "c")


def test_conditional_instance_norm_sets_each_channels_mean_and_deviation_from_the_code():
    norm = ConditionalInstanceNorm(2, CODE)
    with torch.no_grad():
        for linear, target in ((norm.scale, (2.0, -1.0)), (norm.shift, (3.0, 0.5))):
            linear.weight.zero_(), linear.bias.zero_()
            linear.weight[:, 0] = torch.tensor(target)  # the first code entry times target
    z = torch.tensor([[1.0, 0, 0, 0], [2.0, 0, 0, 0]])
    out = norm(torch.randn(2, 2, 8, 8) * 5 + 7, z)
    mean, std = out.mean((2, 3)), out.std((2, 3), unbiased=False)
    # ReLU(W z + c): the second channel's scale is negative before the ReLU, so it is flattened to its shift
    assert torch.allclose(mean, torch.tensor([[3.0, 0.5], [6.0, 1.0]]), atol=1e-4)
    assert torch.allclose(std, torch.tensor([[2.0, 0.0], [4.0, 0.0]]), atol=1e-3)


def test_inference_builds_only_the_generators_and_training_optimises_everything():
    inference = model(training=False)
    assert {name for name, _ in inference.named_children()} == {"g_ab", "g_ba"}
    whole = model()
    phases = whole.phases()
    assert [(p.name, p.critic) for p in phases] == [("generator", False), ("discriminator", True)]
    assert sum(len(p.parameters) for p in phases) == len(list(whole.parameters()))
    encoders = {id(p) for p in [*whole.e_a.parameters(), *whole.e_b.parameters()]}
    assert encoders <= {id(p) for p in phases[0].parameters}


def test_bad_style_dim_is_refused():
    with pytest.raises(ValueError, match="style_dim"):
        AugmentedCycleGANConfig(style_dim=0)


@pytest.mark.parametrize("preset, size", [("augcgan-digits", 32), ("augcgan-emoji", 64)])
def test_presets_load_with_the_official_settings(preset, size):
    config = load_config(preset, [])
    assert config.model.name == "augcgan" and config.data.image_size == size
    assert config.model.style_dim == 16 and config.model.weights.cycle_latent == 0.025
    assert config.train.discriminator_lr == pytest.approx(config.train.lr / 5)


def test_train_and_translate_both_ways_end_to_end(tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    assert main(["train", "augcgan-digits", "model.width=0.125", "model.residual_blocks=1", *TINY_RUN,
                 "train.steps=2", "--out", str(run)]) == 0
    Image.new("RGB", (20, 20), "white").save(tmp_path / "x.png")
    for to in ("a", "b"):
        assert main(["translate", str(run), str(tmp_path / "x.png"), "--to", to, "--out", str(tmp_path / "out")]) == 0
        assert Image.open(tmp_path / "out" / f"x_to_{to}.png").size == (16, 16)
