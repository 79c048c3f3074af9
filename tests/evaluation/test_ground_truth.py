import json

import pytest
import torch
from torch import nn

from toys import IdentityTranslator, NoiseTranslator
from xgan.data import ImageSet, Task
from xgan.evaluation.evaluate import Evaluator
from xgan.evaluation.features import FeatureSpace
from xgan.evaluation.ground_truth import chance_retrieval, counterpart_ranks, counterparts, ssim
from xgan.metric_names import higher_is_better
from xgan.evaluation.report import write_report

COUNT = 120  # paired test images per domain


class InvertingTranslator(IdentityTranslator):
    """The paired toy's true map both ways: colour inversion."""

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return -x


def random_images(count: int, seed: int, size: int = 16) -> torch.Tensor:
    return torch.randint(0, 256, (count, 3, size, size), generator=torch.Generator().manual_seed(seed),
                         dtype=torch.uint8)


def inverted_pairs_task() -> Task:
    """B's test images are A's inverted, in another order, plus 10 B images without a counterpart; 5 A images
    have no id either."""
    a = random_images(COUNT, 0)
    order = torch.randperm(COUNT, generator=torch.Generator().manual_seed(1))
    ids_a = torch.arange(COUNT)
    ids_a[:5] = -1
    b = torch.cat([255 - a[order], random_images(10, 2)])
    ids_b = torch.cat([ids_a[order], torch.full((10,), -1)])
    train = ImageSet(random_images(16, 3))
    return Task(train, train, ImageSet(a, ids=ids_a), ImageSet(b, ids=ids_b))


@pytest.fixture(scope="module")
def evaluator():
    torch.manual_seed(0)
    projection = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 32))  # cheap, fixed, offline
    return Evaluator(inverted_pairs_task(), "toy", count=None, features=FeatureSpace("random-projection", projection))


def test_pairs_are_unique_shared_ids_and_skip_minus_one_and_ambiguous_ids():
    source = torch.tensor([7, -1, 3, 5, 9, 9])
    target = torch.tensor([5, 3, 3, 7, -1, 9, 4])
    i, j = counterparts(source, target)
    # 7 and 5 pair; 3 (twice in the target) and 9 (twice in the source) are ambiguous; -1 and 4 pair nothing
    assert list(zip(i.tolist(), j.tolist())) == [(0, 3), (3, 0)]
    empty_i, empty_j = counterparts(torch.tensor([1, 2]), torch.tensor([3, -1]))
    assert len(empty_i) == len(empty_j) == 0


def test_ranks_count_ties_against_the_query():
    gallery = torch.tensor([[0.0], [1.0], [2.0], [1.0]])
    queries = torch.tensor([[0.1], [1.0], [2.0]])
    assert counterpart_ranks(queries, gallery, torch.tensor([0, 1, 1])).tolist() == [1, 2, 3]


def test_ssim_matches_scikit_image_and_is_one_on_equal_images():
    i = torch.arange(24.0, dtype=torch.float64)
    x = torch.stack([torch.sin(i[:, None] * 0.5 + c) * torch.cos(i[None, :] * 0.3) for c in range(3)])
    y = (0.8 * x + 0.3 * torch.cos(i[:, None] * 1.7 + i[None, :] * 0.9)).clamp(-1, 1)
    # skimage.metrics.structural_similarity((x + 1) / 2, (y + 1) / 2, data_range=1, channel_axis=2,
    # gaussian_weights=True, sigma=1.5, use_sample_covariance=False) on these as HWC arrays, scikit-image 0.26.0
    x, y = x[None].float(), y[None].float()
    assert float(ssim(x, y)) == pytest.approx(0.7849089222720823, abs=1e-5)
    assert float(ssim(x, -x)) == pytest.approx(-0.8166923172189072, abs=1e-5)  # inverted: compared as intensities
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-6)


def test_identity_translator_scores_exactly_the_identity_baseline(evaluator):
    metrics = evaluator(IdentityTranslator()).metrics
    measured = [k for k in metrics if k.startswith("gt_") and "_identity_" not in k and "_mean_" not in k
                and "_chance_" not in k]
    assert len(measured) == 2 * 9
    for name in measured:
        baseline = name.replace("_ab", "_identity_ab").replace("_ba", "_identity_ba")
        assert metrics[name] == metrics[baseline], name


def test_perfect_translator_finds_every_counterpart_first(evaluator):
    metrics = evaluator(InvertingTranslator()).metrics
    assert evaluator.info["ground_truth"]["pairs"] == {"ab": COUNT - 5, "ba": COUNT - 5}
    for direction in ("ab", "ba"):
        for space in ("pixel", "feature"):
            assert metrics[f"gt_top1_{space}_{direction}"] == 1.0
            assert metrics[f"gt_top5_{space}_{direction}"] == 1.0
            assert metrics[f"gt_median_rank_{space}_{direction}"] == 1.0
        assert metrics[f"gt_l1_{direction}"] == pytest.approx(0, abs=1e-6)
        assert metrics[f"gt_ssim_{direction}"] == pytest.approx(1, abs=1e-5)
        assert metrics[f"gt_feature_distance_{direction}"] < 1e-3 * metrics[f"gt_feature_distance_mean_{direction}"]
        assert metrics[f"gt_l1_{direction}"] < metrics[f"gt_l1_identity_{direction}"]


def test_noise_scores_about_chance_and_chance_is_the_uniform_rank(evaluator):
    metrics = evaluator(NoiseTranslator()).metrics
    gallery = COUNT + 10  # every B test image is a candidate, paired or not
    assert metrics["gt_top1_pixel_chance_ab"] == pytest.approx(1 / gallery)
    assert metrics["gt_top5_pixel_chance_ab"] == pytest.approx(5 / gallery)
    assert metrics["gt_median_rank_pixel_chance_ab"] == chance_retrieval(gallery)["median_rank"] == (gallery + 1) / 2
    pairs = COUNT - 5
    for space in ("pixel", "feature"):
        assert metrics[f"gt_top1_{space}_ab"] <= 3 / pairs  # chance expects 115/130 ~ 0.9 hits of 115
        assert metrics[f"gt_top5_{space}_ab"] <= 0.1  # chance: 0.038
        assert metrics[f"gt_median_rank_{space}_ab"] == pytest.approx((gallery + 1) / 2, abs=0.2 * gallery)


def test_every_new_metric_knows_its_direction_and_the_report_explains_the_baselines(evaluator, tmp_path):
    record = write_report(InvertingTranslator(), inverted_pairs_task(), evaluator, tmp_path, {"checkpoint": "toy"})
    for name in record["metrics"]:
        higher_is_better(name)
    assert higher_is_better("gt_top1_pixel_ab") and not higher_is_better("gt_median_rank_feature_ba")
    assert higher_is_better("gt_ssim_ab") and not higher_is_better("gt_l1_ab")
    assert not higher_is_better("gt_feature_distance_ab") and higher_is_better("collapse_spread_ab")
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["metrics"]["gt_top1_pixel_ab"] == 1.0 and saved["ground_truth"]["pairs"]["ab"] == COUNT - 5
    report = (tmp_path / "report.md").read_text()
    assert "## Ground truth" in report and "identity" in report and "chance" in report
    assert "| top1_pixel | 1.0000 | " in report


@pytest.mark.parametrize("ids_b", [None, "none pair"])
def test_no_ids_or_no_pairs_no_ground_truth_metrics(ids_b):
    task = inverted_pairs_task()
    task.test_b.ids = None if ids_b is None else torch.full((len(task.test_b),), -1)
    evaluator = Evaluator(task, "toy", count=None, features=FeatureSpace("flat", nn.Flatten()))
    metrics = evaluator(IdentityTranslator()).metrics
    assert not any(k.startswith("gt_") for k in metrics) and "ground_truth" not in evaluator.info
