import pytest
import torch
from torch import nn

from conftest import TINY_RUN
from xgan.cli import main
from xgan.config import load_config
from xgan.models.base import Batch
from xgan.models.distancegan import (DistanceGAN, DistanceGANConfig, DistanceGANWeights, pairwise_distances,
                                     self_distances)

SIZE = 16


def model(training: bool = True, **kwargs) -> DistanceGAN:
    torch.manual_seed(0)
    return DistanceGAN(DistanceGANConfig(width=0.125, **kwargs), SIZE, training=training)


def images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class Map(nn.Module):
    def __init__(self, f) -> None:
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def with_moments(gan: DistanceGAN, mu_a: float, sigma_a: float, mu_b: float, sigma_b: float) -> DistanceGAN:
    """Set the buffers so that (mu, sigma) of each domain are the given ones (count 1: sum = mu, sum^2 = mu^2 + s^2)."""
    gan.distance_sums.copy_(torch.tensor([[1.0, mu_a, mu_a ** 2 + sigma_a ** 2], [1.0, mu_b, mu_b ** 2 + sigma_b ** 2]]))
    for domain, (mu, sigma) in (("a", (mu_a, sigma_a)), ("b", (mu_b, sigma_b))):
        got = gan.distance_moments(domain)
        assert got[0].item() == pytest.approx(mu) and got[1].item() == pytest.approx(sigma, rel=1e-4)
    return gan


def test_pairwise_distances_are_the_mean_absolute_difference_on_the_0_1_scale():
    x = images(4)
    d = pairwise_distances(x)
    assert d.shape == (6,)
    assert d[0].item() == pytest.approx(((x[0] - x[1]).abs().mean() / 2).item(), rel=1e-4)  # pair (0, 1)
    assert d[-1].item() == pytest.approx(((x[2] - x[3]).abs().mean() / 2).item(), rel=1e-4)  # pair (2, 3)


def test_the_distance_loss_is_zero_for_maps_that_keep_normalised_distances():
    x = images()
    gan = with_moments(model(), 0.3, 0.05, 0.3, 0.05)  # the same statistics in both domains
    assert gan.distance_loss(x, x, "a").item() == 0  # the identity
    pixels = torch.randperm(3 * SIZE * SIZE, generator=torch.Generator().manual_seed(1))
    shuffled = x.flatten(1)[:, pixels].view_as(x)  # the same pixel permutation for every image: an L1 isometry
    assert gan.distance_loss(x, shuffled, "a").item() == pytest.approx(0, abs=1e-4)
    # B's distances are twice A's: a map that doubles every distance keeps the normalised ones
    gan = with_moments(model(), 0.15, 0.025, 0.3, 0.05)
    assert gan.distance_loss(x, 2 * x, "a").item() == pytest.approx(0, abs=1e-4)
    assert gan.distance_loss(x, x, "a").item() > 1  # the identity does not: its distances are B's "small" ones


def test_the_distance_loss_is_positive_for_a_map_that_scrambles_distances():
    x = images()
    gan = with_moments(model(), 0.3, 0.05, 0.3, 0.05)
    noisy = x + torch.randn(x.shape, generator=torch.Generator().manual_seed(2)) * torch.arange(6.0).view(6, 1, 1, 1)
    assert gan.distance_loss(x, noisy, "a").item() > 0.5
    swapped = torch.cat([x[:1], x[:1], x[2:]])  # the map sends image 1 where image 0 goes: d(G(x0), G(x1)) = 0
    assert gan.distance_loss(x, swapped, "a").item() > 0


def test_self_distance_is_zero_for_maps_that_keep_the_halves_distance_and_positive_otherwise():
    x = images()
    gan = with_moments(model(self_distance=True), 0.3, 0.05, 0.3, 0.05)
    assert gan.distance_loss(x, x, "a").item() == 0
    assert gan.distance_loss(x, x.flip(-1), "a").item() == pytest.approx(0, abs=1e-4)  # a mirror swaps the halves
    left = x[..., :SIZE // 2]
    mirrored = torch.cat([left, left], dim=-1)  # both halves the same: every self-distance becomes 0
    assert gan.distance_loss(x, mirrored, "a").item() > 1


def test_the_halves_are_left_and_right_by_default_and_top_and_bottom_as_the_official_code():
    x = torch.zeros(1, 3, 4, 4)
    x[..., :, :2] = 1.0  # left half white, right half black; top and bottom alike
    assert self_distances(x, "left_right").item() == 0.5
    assert self_distances(x, "top_bottom").item() == 0
    with pytest.raises(ValueError, match="halves"):
        DistanceGANConfig(halves="diagonal")


@pytest.mark.parametrize("self_distance", [False, True])
def test_mu_and_sigma_come_from_the_first_max_items_training_images(self_distance):
    gan = model(max_items=10, self_distance=self_distance)
    batches = [Batch(images(6, seed=s), images(6, seed=10 + s)) for s in range(3)]
    for batch in batches:
        gan.losses("discriminator", batch)
    assert gan.images_seen.tolist() == [10, 10]  # 6, then 4 of the second batch, then none
    for row, domain in enumerate(("a", "b")):
        parts = [(b.a if domain == "a" else b.b) for b in batches]
        distances = torch.cat([gan.distances(parts[0]), gan.distances(parts[1][:4])])
        mu, sigma = gan.distance_moments(domain)
        assert mu.item() == pytest.approx(distances.mean().item(), rel=1e-4)
        assert sigma.item() == pytest.approx(distances.std(unbiased=False).item(), rel=1e-3)  # population std
    # buffers: the estimate is checkpointed with the weights
    assert {"distance_sums", "images_seen", "steps_done"} <= set(gan.state_dict())


def test_unnormalised_distances_are_compared_as_they_are():
    x = images()
    gan = model(normalize=False)
    gan.losses("discriminator", Batch(x, x))
    assert gan.images_seen.tolist() == [0, 0]
    expected = (pairwise_distances(x) - pairwise_distances(2 * x)).abs().mean()
    assert gan.distance_loss(x, 2 * x, "a").item() == pytest.approx(expected.item(), rel=1e-5)


def test_a_one_sided_model_translates_only_to_b_and_builds_only_that_direction():
    gan = model()
    assert gan.directions == ("b",) and gan.g_ba is None and gan.d_a is None
    trained = {id(p) for phase in gan.phases() for p in phase.parameters}
    assert trained == {id(p) for m in (gan.g_ab, gan.d_b) for p in m.parameters()}
    assert gan.translate(images(), "b").shape == (6, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match="one-sided"):
        gan.translate(images(), "a")
    with_moments(gan, 0.3, 0.05, 0.3, 0.05)
    losses = gan.generator_losses(Batch(images(seed=1), images(seed=2)))
    assert set(losses) == {"gan", "feature_matching", "distance", "weight_decay"}
    assert losses["distance"][0] == 0.01  # rate, during the GAN curriculum


def test_both_ways_translates_both_directions_with_a_distance_term_each():
    gan = model(both_ways=True)
    assert gan.directions == ("a", "b") and gan.d_a is not None
    gan.g_ab, gan.g_ba = nn.Identity(), nn.Identity()
    with_moments(gan, 0.3, 0.05, 0.3, 0.05)
    a, b = images(seed=1), images(seed=2)
    assert gan.constraint_losses({"a": a, "b": b}, {"b": a, "a": b})["distance"][1].item() == 0
    assert gan.constraint_losses({"a": a, "b": b}, {"b": a, "a": 3 * b})["distance"][1].item() > 0  # B -> A counts


def test_distance_plus_cycle_trains_g_ba_through_the_cycle_only():
    gan = model(weights=DistanceGANWeights(cycle=1.0))
    assert gan.g_ba is not None and gan.d_a is None and gan.directions == ("b",)
    gan.g_ab, gan.g_ba = Map(lambda x: -x), Map(lambda x: -x)
    a = images(seed=1)
    terms = gan.constraint_losses({"a": a, "b": images(seed=2)}, {"b": -a})
    assert terms["cycle"][0] == 1.0 and terms["cycle"][1].item() == 0
    assert "g_ba.0.0.weight" not in model(training=False, weights=DistanceGANWeights(cycle=1.0)).state_dict()


def test_inference_builds_only_the_generator():
    gan = model(training=False)
    assert {name.split(".")[0] for name in gan.state_dict()} == {"g_ab"}


@pytest.mark.parametrize("preset, size", [("distancegan-digits", 32), ("distancegan-emoji", 64)])
def test_presets(preset, size):
    config = load_config(preset)
    assert config.model.name == "distancegan" and config.data.image_size == size and not config.model.both_ways


def test_options_train_end_to_end(tmp_path):
    """Both ways, self-distance and cycle together: the registry test trains the defaults."""
    run = tmp_path / "run"
    assert main(["train", "distancegan-digits", "model.width=0.125", *TINY_RUN, "train.steps=3", "model.both_ways=true",
                 "model.self_distance=true", "model.weights.cycle=1", "--out", str(run)]) == 0
