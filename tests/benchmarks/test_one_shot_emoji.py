import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from one_shot import scores, table  # noqa: E402


def test_a_translation_equal_to_its_counterpart_ranks_first_with_no_error_and_full_ssim():
    gallery = torch.rand(5, 3, 16, 16) * 2 - 1
    assert scores(gallery[3:4], 3, gallery) == {"rank": 1, "l1": 0.0, "ssim": pytest.approx(1.0)}
    far = -gallery[3:4]  # the negative image: nearer to any other than to the counterpart
    got = scores(far, 3, gallery)
    assert got["rank"] > 1 and got["l1"] > 0 and got["ssim"] < 0.5


def test_the_table_shows_each_image_beside_its_baselines():
    row = {"index": 7, "codepoint": "1f600", "steps": 10, "train_cpu_min": 1.0, "gallery": 238,
           "ost": {"rank": 3, "l1": 0.1, "ssim": 0.5}, "identity": {"rank": 9, "l1": 0.2, "ssim": 0.4},
           "mean_target": {"l1": 0.3, "ssim": 0.6}}
    text = table([row], "cmd")
    assert "| 7 | 1f600 | 3 (9) | 0.100 (0.200, 0.300) | 0.500 (0.400, 0.600) | 10 | 1.0 |" in text
    assert "238 Fluent test images" in text
