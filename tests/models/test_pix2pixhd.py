import pytest
import torch
from torch import nn

from xgan.models.base import Batch
from xgan.models.pix2pixhd import Pix2PixHD, Pix2PixHDConfig, Pix2PixHDWeights

SIZE = 16


def model(**kwargs) -> Pix2PixHD:
    torch.manual_seed(0)
    return Pix2PixHD(Pix2PixHDConfig(width=0.125, global_blocks=1, local_blocks=1, **kwargs), SIZE)


def images(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_the_global_generator_sees_the_input_at_half_size_and_the_enhancer_at_full_size():
    hd = model()
    seen = {}
    hd.g.global_generator.register_forward_hook(lambda m, i, o: seen.update(global_in=i[0].shape, global_out=o.shape))
    hd.g.front.register_forward_hook(lambda m, i, o: seen.update(front_in=i[0].shape, front_out=o.shape))
    out = hd.translate(images(), "b")
    assert out.shape == (2, 3, SIZE, SIZE)
    assert seen["global_in"][-1] == SIZE // 2 and seen["front_in"][-1] == SIZE
    assert seen["global_out"] == seen["front_out"]  # G1's last features are added to G2's front-end's


def test_the_critics_judge_pairs_at_three_scales():
    hd = model()
    judged = hd.judge(images(), images(seed=1))
    assert len(judged) == 3
    sizes = [scores[0].shape[-1] for scores in judged]
    assert sizes[0] > sizes[1] > sizes[2]
    assert hd.critics.critics[0].blocks[0][0].in_channels == 6  # conditional: x beside y


def test_feature_matching_is_zero_when_the_generator_returns_the_true_target():
    hd = model(weights=Pix2PixHDWeights(feature_matching=7.0))
    x, y = images(), images(seed=1)

    class Returns(nn.Module):
        def forward(self, _):
            return y

    hd.g = Returns()
    losses = hd.losses("generator", Batch(x, y))
    assert losses["feature_matching"][0] == 7.0 and losses["feature_matching"][1].item() == pytest.approx(0.0)
    hd.g = type("Shifted", (nn.Module,), {"forward": lambda self, _: y + 0.5})()
    assert hd.losses("generator", Batch(x, y))["feature_matching"][1].item() > 0


def test_the_critics_loss_is_halved_least_squares_over_the_scales():
    hd = model()
    for critic in hd.critics.critics:  # every score 0: each scale's real term is (0 - 1)^2 = 1, its fake term 0
        nn.init.zeros_(critic.blocks[-1][0].weight)
        nn.init.zeros_(critic.blocks[-1][0].bias)
    x, y = images(), images(seed=1)
    hd.losses("generator", Batch(x, y))
    d = hd.losses("discriminators", Batch(x, y))["d"]
    assert d[0] == 0.5 and d[1].item() == pytest.approx(3.0)


def test_a_size_that_the_global_generator_cannot_halve_enough_is_refused():
    with pytest.raises(ValueError, match=r"must divide by .* = 8"):
        Pix2PixHD(Pix2PixHDConfig(global_downsamplings=2), 20)
