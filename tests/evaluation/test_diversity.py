import torch
from toys import Styled

from xgan.evaluation.diversity import diversity


def flat(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)


def test_outputs_that_ignore_the_style_score_zero_and_the_distance_grows_with_the_style_effect():
    images, targets = torch.rand(30, 3, 4, 4), torch.rand(40, 3, 4, 4)
    still = diversity(Styled(0.0), images, "b", targets, flat(targets), flat, inputs=10, samples=5)
    assert still["feature"] == 0.0 and still["pixel"] == 0.0
    small, large = (diversity(Styled(g), images, "b", targets, flat(targets), flat, inputs=10, samples=5)
                    for g in (0.1, 1.0))
    assert 0 < small["pixel"] < large["pixel"] and 0 < small["feature"] < large["feature"]
    # |g (s1 - s2)| per pixel, halved: E|s1 - s2| = 2/sqrt(pi) for two standard normals
    assert abs(large["pixel"] - 0.5 * 2 / torch.pi ** 0.5) < 0.15


def test_the_real_spread_is_the_targets_own_and_does_not_depend_on_the_model():
    images, targets = torch.rand(30, 3, 4, 4), torch.rand(40, 3, 4, 4)
    one, other = (diversity(Styled(g), images, "b", targets, flat(targets), flat) for g in (0.0, 1.0))
    assert one["real_pixel"] == other["real_pixel"] > 0
    wider = Styled(1.0)
    wider.style_dim = 7  # more random numbers drawn for the styles: the real pairs stay the same
    assert diversity(wider, images, "b", targets, flat(targets), flat)["real_feature"] == one["real_feature"]
    same = targets[:1].expand(40, 3, 4, 4)
    assert diversity(Styled(0.0), images, "b", same, flat(same), flat)["real_pixel"] == 0
