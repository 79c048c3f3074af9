import pytest
import torch
from torch import nn

from conftest import TINY_MODEL, TINY_RUN
from xgan.cli import main
from xgan.models.dtn import DTN, FAKE_FROM_SOURCE, FAKE_FROM_TARGET, REAL_TARGET, DTNConfig, DTNWeights, total_variation

SIZE = 16


def batch(value: float, n: int = 4) -> torch.Tensor:
    return torch.full((n, 3, SIZE, SIZE), float(value))


def model(**kwargs) -> DTN:
    torch.manual_seed(0)
    return DTN(DTNConfig(encoder="xgan.models.teachers:coarse_colours", width=0.125, **kwargs), SIZE)


class Oracle(nn.Module):
    """A discriminator that knows the truth from the pixel value: -1 fake-from-source, 0 fake-from-target, 1 real."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3))
        return 50 * torch.stack([(mean + 1).abs() < 0.5, mean.abs() < 0.5, (mean - 1).abs() < 0.5], 1).float()


def test_the_discriminator_is_three_way_with_the_papers_classes():
    dtn = model()
    assert dtn.discriminator[-1].out_features == 3
    dtn.discriminator = Oracle()
    dtn._fakes = (batch(-1), batch(0))  # g(f(source)), g(f(target))
    assert dtn.discriminator_losses(batch(1))["d"][1].item() == pytest.approx(0, abs=1e-6)
    dtn._fakes = (batch(0), batch(-1))  # swapped: the labels must say which fake came from where
    assert dtn.discriminator_losses(batch(1))["d"][1].item() > 10
    assert (FAKE_FROM_SOURCE, FAKE_FROM_TARGET, REAL_TARGET) == (0, 1, 2)


def test_generator_is_scored_against_the_real_target_class():
    dtn = model()
    dtn.discriminator = Oracle()
    class Constant(nn.Module):
        def __init__(self, value):
            super().__init__()
            self.value = value

        def forward(self, z):
            return torch.full((len(z), 3, SIZE, SIZE), self.value)

    dtn.g = Constant(1.0)  # every output looks like a real target image to the oracle: nothing left to fool
    assert dtn.generator_losses(batch(0.3), batch(0.7))["gan"][1].item() == pytest.approx(0, abs=1e-6)
    dtn.g = Constant(-1.0)
    assert dtn.generator_losses(batch(0.3), batch(0.7))["gan"][1].item() > 10


def test_const_and_tid_vanish_when_g_inverts_f_and_tv_measures_edges():
    dtn = model()
    dtn.f, dtn.g = nn.Flatten(), nn.Unflatten(1, (3, SIZE, SIZE))  # g(f(x)) = x
    x_s, x_t = torch.rand(4, 3, SIZE, SIZE), torch.rand(4, 3, SIZE, SIZE)
    losses = dtn.generator_losses(x_s, x_t)
    assert losses["const"][1].item() == 0 and losses["tid"][1].item() == 0
    step = torch.zeros(1, 1, 4, 4)
    step[..., 2:] = 1.0  # one vertical edge of height 1
    assert total_variation(step).item() == pytest.approx(1 / 3)  # 4 of 12 horizontal differences; no vertical ones


def test_weights_and_the_fixed_encoder():
    dtn = model(weights=DTNWeights(const=15, tid=15, tv=0))
    losses = dtn.generator_losses(torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE))
    assert {k: w for k, (w, _) in losses.items()} == {"gan": 1.0, "const": 15, "tid": 15, "tv": 0}
    assert dtn.directions == ("b",)
    with pytest.raises(ValueError, match="only"):
        dtn.translate(torch.rand(1, 3, SIZE, SIZE), to="a")


def test_fixed_f_stays_fixed_and_fine_tuned_f_trains(tmp_path):
    from xgan.config import load_config
    from xgan.trainer import Trainer

    for finetune in (False, True):
        config = load_config("dtn-digits", [*TINY_MODEL["dtn"], *TINY_RUN, f"model.finetune_encoder={finetune}",
                                            "train.steps=2", f"run_dir={tmp_path / str(finetune)}"])
        trainer = Trainer(config)
        before = [p.detach().clone() for p in trainer.model.f.parameters()]
        trainer.fit()
        changed = any(not torch.equal(b, p) for b, p in zip(before, trainer.model.f.parameters()))
        assert changed == finetune
        assert set(trainer.optimizers) == {"generator", "discriminator"}


@pytest.mark.parametrize("preset", ["dtn-digits", "dtn-finetuned-digits"])
def test_train_and_translate_end_to_end(preset, tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    assert main(["train", preset, *TINY_MODEL["dtn"], *TINY_RUN, "train.steps=2", "--out", str(run)]) == 0
    Image.new("RGB", (20, 20), "white").save(tmp_path / "x.png")
    assert main(["translate", str(run), str(tmp_path / "x.png"), "--to", "b", "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "x_to_b.png").size == (16, 16)
    assert main(["translate", str(run), str(tmp_path / "x.png"), "--to", "a", "--out", str(tmp_path / "out")]) == 1
