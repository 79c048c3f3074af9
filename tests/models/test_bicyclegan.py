import pytest
import torch
from torch import nn

from xgan.models.base import Batch
from xgan.models.bicyclegan import BicycleGAN, BicycleGANConfig
from xgan.models.nets import UNetLevel

SIZE = 16


def model(**kwargs) -> BicycleGAN:
    torch.manual_seed(0)
    return BicycleGAN(BicycleGANConfig(width=0.125, nz=4, **kwargs), SIZE)


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class Recorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x)
        return [torch.zeros(len(x), 1, 1, 1)]


def test_the_kl_term_is_zero_at_the_prior_and_half_the_squared_mean_summed_otherwise():
    bicycle = model()

    class Fixed(nn.Module):
        def __init__(self, mu: float) -> None:
            super().__init__()
            self.mu, self.scale = mu, nn.Parameter(torch.ones(()))

        def forward(self, x):
            return torch.full((len(x), 4), self.mu) * self.scale, torch.zeros(len(x), 4)

    a, b = images(), images(seed=1)
    bicycle.e = Fixed(0.0)
    assert bicycle.losses("generator_encoder", Batch(a, b))["kl"][1].item() == pytest.approx(0.0, abs=1e-6)
    bicycle.e = Fixed(1.0)
    kl = bicycle.losses("generator_encoder", Batch(a, b))["kl"]
    assert kl[0] == 0.01 and kl[1].item() == pytest.approx(0.5 * 2 * 4)  # 1/2 sum mu^2: 2 encoded images x nz 4


def test_the_latent_term_trains_the_generator_and_not_the_encoder():
    bicycle = model()
    latent = bicycle.losses("generator_encoder", Batch(images(), images(seed=1)))["latent"][1]
    latent.backward()
    assert all(p.grad is None or not p.grad.any() for p in bicycle.e.parameters())
    assert any(p.grad is not None and p.grad.any() for p in bicycle.g.parameters())


def test_the_batch_is_split_between_the_two_cycles_as_the_official_code_splits_it():
    bicycle = model()
    bicycle.d, bicycle.d2 = Recorder(), Recorder()
    a, b = images(), images(seed=1)
    bicycle.losses("generator_encoder", Batch(a, b))
    bicycle.losses("discriminators", Batch(a, b))
    reals_d, reals_d2 = bicycle.d.seen[1], bicycle.d2.seen[1]
    assert torch.equal(reals_d, b[:2]) and torch.equal(reals_d2, b[2:])


@pytest.mark.parametrize("add_z, takers", [("all", 4), ("input", 1)])
def test_z_joins_every_unet_level_or_only_the_input(add_z, takers):
    bicycle = model(add_z=add_z)
    levels = [m for m in bicycle.g.modules() if isinstance(m, UNetLevel)]
    assert len(levels) == 4 and sum(level.takes_z for level in levels) == takers
    x = images(2)
    z = bicycle.sample_style(2, "b", torch.Generator().manual_seed(0))
    bicycle.eval()
    with torch.no_grad():
        assert not torch.allclose(bicycle.translate(x, "b", z), bicycle.translate(x, "b", -z))
        assert torch.equal(bicycle.translate(x, "b"), bicycle.translate(x, "b", torch.zeros(2, 4)))


def test_a_reference_image_gives_its_encoded_mean_as_the_style():
    bicycle = model().eval()
    b = images(3)
    with torch.no_grad():
        style = bicycle.style_of(b, "b")
        assert style.shape == (3, 4) and torch.equal(style, bicycle.e(b)[0])
