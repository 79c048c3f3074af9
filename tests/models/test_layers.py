import pytest
import torch

from torch import nn

from xgan.models.layers import (GradientReversal, ImagePool, check_gan_mode, downsamplings, gan_loss, gradient_penalty,
                                shared_pair)
from xgan.models.nets import patch_discriminator


def test_gradient_reversal_is_identity_forward_and_flips_the_gradient():
    x = torch.randn(5, 3, requires_grad=True)
    weights = torch.randn(5, 3)
    y = GradientReversal(scale=0.5)(x)
    assert torch.equal(y, x)
    (y * weights).sum().backward()
    assert torch.allclose(x.grad, -0.5 * weights)


def test_image_pool_fills_then_mixes_history_and_keeps_its_content_in_the_state_dict():
    torch.manual_seed(0)
    pool = ImagePool(capacity=4, image_shape=(1, 2, 2))
    first = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 2, 2)
    assert torch.equal(pool.query(first), first)  # while filling, images pass through
    assert int(pool.count) == 4 and torch.equal(pool.images, first)
    new = torch.full((64, 1, 2, 2), 9.0)
    out = pool.query(new)
    from_history = (out != 9.0).flatten(1).all(1)
    assert 0 < from_history.sum() < 64  # about half come from the history
    assert set(out[from_history][:, 0, 0, 0].tolist()) <= {0.0, 1.0, 2.0, 3.0, 9.0}
    assert {"images", "count"} <= set(pool.state_dict())


def sequential_pool(stored: list, batch: list, coins: list, slots: list) -> list:
    """The pool's rule one image at a time, as CycleGAN states it, with given coin flips and slot draws."""
    out, draws = [], iter(zip(coins, slots))
    for image in batch:
        if len(stored) < 4:
            stored.append(image)
            out.append(image)
            continue
        coin, slot = next(draws)
        if coin < 0.5:
            out.append(stored[slot])
            stored[slot] = image
        else:
            out.append(image)
    return out


def test_image_pool_matches_the_one_image_at_a_time_rule_also_when_a_slot_is_drawn_twice():
    pool = ImagePool(capacity=4, image_shape=(1, 1, 1))
    pool.query(torch.arange(2.0).view(2, 1, 1, 1))  # half full: the next batch first fills, then swaps
    batch = torch.arange(10.0, 40.0).view(30, 1, 1, 1)
    torch.manual_seed(3)
    coins, slots = torch.rand(28).tolist(), torch.randint(4, (28,)).tolist()
    assert len(set(s for c, s in zip(coins, slots) if c < 0.5)) < sum(c < 0.5 for c in coins)  # repeats happen
    stored = [0.0, 1.0]
    expected = sequential_pool(stored, batch.flatten().tolist(), coins, slots)
    torch.manual_seed(3)
    assert pool.query(batch).flatten().tolist() == expected
    assert pool.images.flatten().tolist() == stored and int(pool.count) == 4


def test_pool_of_capacity_zero_returns_its_input():
    batch = torch.randn(3, 3, 4, 4)
    assert torch.equal(ImagePool(0, (3, 4, 4)).query(batch), batch)


def test_shared_pair_shares_exactly_the_named_positions():
    first, second = shared_pair(lambda: [torch.nn.Linear(2, 2) for _ in range(4)], shared=[1, 3])
    assert [first[i] is second[i] for i in range(4)] == [False, True, False, True]


@pytest.mark.parametrize("size, stages", [(8, 1), (32, 3), (64, 4), (128, 5)])
def test_downsamplings_reach_four_by_four(size, stages):
    assert downsamplings(size) == stages


@pytest.mark.parametrize("size", [4, 48, 100])
def test_image_sizes_that_are_not_powers_of_two_are_refused(size):
    with pytest.raises(ValueError, match="power of two"):
        downsamplings(size)


@pytest.mark.parametrize("kind", ["bce", "lsgan"])
def test_gan_loss_is_lower_for_the_right_answer(kind):
    confident_real = torch.full((4, 1), 5.0 if kind == "bce" else 1.0)
    assert gan_loss(confident_real, True, kind) < gan_loss(confident_real, False, kind)
    if kind == "lsgan":
        assert gan_loss(confident_real, True, kind) == 0


def wgan_critic_loss(critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return gan_loss(critic(real), True, "wgan") + gan_loss(critic(fake), False, "wgan")


def test_wgan_critic_loss_is_lower_for_a_critic_that_scores_real_higher():
    real, fake = torch.full((4, 3, 8, 8), 0.5), torch.full((4, 3, 8, 8), -0.5)
    right = lambda x: x.mean(dim=(1, 2, 3))  # scores real (0.5) above fake (-0.5)
    wrong = lambda x: -x.mean(dim=(1, 2, 3))
    assert wgan_critic_loss(right, real, fake) < 0 < wgan_critic_loss(wrong, real, fake)
    assert wgan_critic_loss(right, real, fake).item() == pytest.approx(-1.0)  # -E[D(real)] + E[D(fake)]
    scores = torch.randn(4, 1, 3, 3)
    assert gan_loss(scores, True, "wgan") == -scores.mean()  # the generator's: -E[D(fake)]


def test_gan_modes_map_to_loss_kinds_and_unsupported_ones_are_refused():
    assert [check_gan_mode(m) for m in ("lsgan", "vanilla", "wgan", "wgan-gp")] == ["lsgan", "bce", "wgan", "wgan"]
    with pytest.raises(ValueError, match="gan_mode"):
        check_gan_mode("wgan", ("lsgan", "wgan-gp"))


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_positive_otherwise():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 3, 4, 4), torch.randn(6, 3, 4, 4)
    direction = torch.randn(3 * 4 * 4)

    def linear(scale: float):
        weight = direction / direction.norm() * scale  # the critic's gradient is this weight, at every point
        return lambda x: x.flatten(1) @ weight

    assert gradient_penalty(linear(1.0), real, fake).item() == pytest.approx(0.0, abs=1e-6)
    assert gradient_penalty(linear(3.0), real, fake).item() == pytest.approx(4.0, rel=1e-4)  # (3 - 1)^2
    assert gradient_penalty(linear(0.5), real, fake).item() == pytest.approx(0.25, rel=1e-4)


def test_gradient_penalty_reaches_the_critics_parameters():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))
    gradient_penalty(critic, torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)).backward()
    weights = [m.weight for m in critic if isinstance(m, nn.Linear)]  # the last bias has no say in the gradient
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in weights)


def largest_singular_values(net: nn.Module) -> list[float]:
    return [torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2).item()
            for m in net.modules() if isinstance(m, nn.Conv2d)]


def test_spectral_norm_bounds_the_largest_singular_value_of_every_conv():
    torch.manual_seed(0)
    plain, normalised = (patch_discriminator(32, 0.25, "instance", spectral_norm=sn) for sn in (False, True))
    with torch.no_grad():  # make every weight large: only the normalisation can bring it back to 1
        for net in (plain, normalised):
            for name, p in net.named_parameters():
                if "weight" in name and p.dim() == 4:
                    p.mul_(10)
    for _ in range(20):  # one power iteration per training forward
        normalised(torch.randn(2, 3, 32, 32))
    assert max(largest_singular_values(plain)) > 2
    assert all(0.95 < s < 1.05 for s in largest_singular_values(normalised))
    assert any("parametrizations" in name for name in normalised.state_dict())
    assert not any("parametrizations" in name for name in plain.state_dict())
