import pytest
import torch

from toys import IdentityTranslator, NoiseTranslator, mirrored_task
from xgan.evaluation.evaluate import Evaluator
from xgan.evaluation.metrics import fid, kid, semantic_distances


@pytest.fixture(scope="module")
def evaluator():
    return Evaluator(mirrored_task(), "toy", count=None)


def test_perfect_translator_keeps_every_class_and_matches_the_target_distribution(evaluator):
    metrics = evaluator(IdentityTranslator()).metrics
    assert metrics["classifier_ceiling_b"] > 0.9
    assert metrics["class_preservation_ab"] == pytest.approx(metrics["classifier_ceiling_b"], abs=0.02)
    assert metrics["class_preservation_ba"] == pytest.approx(metrics["classifier_ceiling_a"], abs=0.02)
    noise = evaluator(NoiseTranslator()).metrics
    assert abs(metrics["kid_ab"]) < 0.05 * noise["kid_ab"]  # ~0 on the scale of these features
    assert metrics["fid_ab"] < 0.01 * noise["fid_ab"]


def test_noise_translator_scores_chance_and_a_large_distance(evaluator):
    perfect, noise = evaluator(IdentityTranslator()).metrics, evaluator(NoiseTranslator()).metrics
    assert noise["class_preservation_ab"] < 0.25  # ten balanced classes: chance is 0.1
    assert noise["semantic_distance"] == perfect["semantic_distance"]  # same encoders: the embedding is untouched


def test_semantic_distance_is_zero_when_decoders_invert_encoders_exactly(evaluator):
    model = IdentityTranslator()
    distances = semantic_distances(model, evaluator.images["a"], "a")
    assert distances.shape == (len(evaluator.images["a"]),)
    assert distances.abs().max() < 1e-6
    assert evaluator(model).metrics["semantic_distance"] < 1e-6


def test_kid_and_fid_of_shifted_gaussians():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 8, generator=g)
    y = torch.randn(2000, 8, generator=g)
    assert abs(kid(x, y)) < 0.01 and fid(x, y) < 0.05
    shifted = y + torch.tensor([2.0] + [0.0] * 7)
    assert fid(x, shifted) == pytest.approx(4.0, abs=0.15)  # same covariance: FID is ||mu_x - mu_y||^2
    assert kid(x, shifted) > 0.1
