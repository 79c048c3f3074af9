import pytest
import torch

from xgan.models.layers import GradientReversal, ImagePool, downsamplings, gan_loss, shared_pair


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
