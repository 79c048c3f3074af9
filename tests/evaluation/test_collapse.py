import math

import pytest
import torch

from conftest import TINY, random_task
from toys import IdentityTranslator
from xgan.config import load_config
from xgan.data.task import to_model_range
from xgan.evaluation.collapse import SPREAD_THRESHOLD, collapse_measures, collapsed, spread_ratio
from xgan.models.base import TranslationModel
from xgan.models import build_model


class ConstantDecoder(IdentityTranslator):
    """Whatever the input, the same image out of every decoder: the collapse the alarm is for."""

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return torch.full((len(z), 3, self.size, self.size), 0.3)

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return self.decode(self.encode(x, to), to)

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.decode(self.encode(x, domain), domain)


class HealthyAutoEncoder(IdentityTranslator):
    """Reconstructs exactly and translates by inverting colours: outputs as varied as the inputs."""

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return -x

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.decode(self.encode(x, domain), domain)


class TranslateOnly(TranslationModel):
    directions = ("b",)

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return x.flip(-1)


def batches(count: int = 32, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images and their inversions, so a healthy translator lands on distinct real targets."""
    a = torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    return a, -a


def test_a_constant_decoder_collapses_everything():
    measures = collapse_measures(ConstantDecoder(), *batches())
    assert set(measures) == {"spread_ab", "spread_ba", "distinct_ab", "distinct_ba", "spread_rec_a", "spread_rec_b"}
    assert all(measures[k] == 0 for k in measures if k.startswith("spread"))
    assert measures["distinct_ab"] == measures["distinct_ba"] == 1 / 32  # one neighbour for all
    assert sorted(collapsed(measures)) == ["spread_ab", "spread_ba", "spread_rec_a", "spread_rec_b"]


def test_a_healthy_auto_encoder_is_not_collapsed():
    measures = collapse_measures(HealthyAutoEncoder(), *batches())
    assert measures["spread_rec_a"] == pytest.approx(1) and measures["spread_rec_b"] == pytest.approx(1)
    assert measures["spread_ab"] == pytest.approx(1) and measures["spread_ba"] == pytest.approx(1)
    assert measures["distinct_ab"] == measures["distinct_ba"] == 1
    assert collapsed(measures) == []


def test_a_model_without_reconstruction_is_measured_on_its_translations():
    measures = collapse_measures(TranslateOnly(), *batches())
    assert set(measures) == {"spread_ab", "distinct_ab"}


def test_an_untrained_xgan_stays_above_the_threshold():
    """The alarm must not fire at a run's first check: an untrained model still reads its input (0.29-0.34 at
    this width, 0.14-1.9 on digits at 16-64 px and widths 0.125-1)."""
    config = load_config("digits", [*TINY, "model.teacher=''", "model.weights.teacher=0"])  # no teacher to train
    task = random_task(count=32)
    a, b = (to_model_range(s.images) for s in (task.test_a, task.test_b))
    for seed in range(3):
        torch.manual_seed(seed)
        model = build_model(config)
        model.train()
        measures = collapse_measures(model, a, b)
        assert model.training  # restored after the inference-mode measurement
        assert min(v for k, v in measures.items() if k.startswith("spread")) > 2 * SPREAD_THRESHOLD, measures
        assert collapsed(measures) == []


def test_no_variety_in_the_real_images_gives_no_verdict():
    assert math.isnan(spread_ratio(torch.rand(4, 3, 8, 8), torch.zeros(4, 3, 8, 8)))
    assert collapsed({"spread_ab": math.nan}) == []
