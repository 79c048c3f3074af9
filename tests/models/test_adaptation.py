import math

import pytest
import torch
from torch import nn

from xgan.config import load_config
from xgan.models.adaptation import AdaptationConfig
from xgan.models.base import Batch
from xgan.models.deform import deform
from xgan.models.xgan import XGAN
from xgan_toys import Invertible, batch, tiny  # noqa: I001


def test_invariance_loss_measures_how_much_negating_the_source_changes_its_translation():
    x1 = batch(0)
    losses = Invertible(adaptation=AdaptationConfig(invariance=2.0)).losses("autoencoder", Batch(x1, batch(1)))
    assert losses["invariance"][0] == 2.0
    assert losses["invariance"][1].item() == pytest.approx((2 * x1).abs().mean().item())  # |(-x1) - x1|
    blind = Invertible(adaptation=AdaptationConfig(invariance=1.0))
    blind.e1 = nn.Sequential(nn.Flatten(), Absolute())  # a polarity-blind encoder translates x and -x alike
    assert blind.losses("autoencoder", Batch(x1, batch(1)))["invariance"][1].item() == 0
    assert "invariance" not in Invertible().losses("autoencoder", Batch(x1, batch(1)))


class Absolute(nn.Module):
    def forward(self, x):
        return x.abs()


def test_task_tower_is_cross_entropy_on_source_labels_and_information_maximisation_on_target_predictions():
    model = tiny(adaptation={"task_tower": 0.5, "target_entropy": 0.2, "target_diversity": 0.7})
    assert model.label_classes_a == 10 and tiny().label_classes_a == 0
    nn.init.zeros_(model.adaptation.task_tower.weight)
    nn.init.zeros_(model.adaptation.task_tower.bias)  # uniform predictions: both terms are log(10)
    labels = torch.tensor([0, 3, 9, 9])
    losses = model.losses("autoencoder", Batch(batch(0), batch(1), labels))
    assert losses["task_tower"][0] == 0.5 and losses["target_entropy"][0] == 0.2
    assert losses["task_tower"][1].item() == pytest.approx(math.log(10))
    assert losses["target_entropy"][1].item() == pytest.approx(math.log(10))
    assert losses["target_diversity"][0] == 0.7
    assert losses["target_diversity"][1].item() == pytest.approx(-math.log(10))  # all ten classes used: its minimum
    with torch.no_grad():
        model.adaptation.task_tower.bias[3] = 100.0  # certain of class 3 for every input
    losses = model.losses("autoencoder", Batch(batch(0), batch(1), labels))
    assert losses["target_entropy"][1].item() == pytest.approx(0, abs=1e-6)
    assert losses["target_diversity"][1].item() == pytest.approx(0, abs=1e-6)  # one class for the whole batch
    assert losses["task_tower"][1].item() == pytest.approx(3 * 100 / 4, rel=1e-4)  # 3 of 4 labels are not 3
    assert "task_tower" not in tiny().losses("autoencoder", Batch(batch(0), batch(1)))
    with pytest.raises(ValueError, match="labels"):
        model.losses("autoencoder", Batch(batch(0), batch(1)))


def test_target_terms_wait_for_the_warmup_steps_while_the_tower_trains_from_the_first():
    target_terms = {"target_entropy", "target_diversity", "target_pseudo_label"}
    model = tiny(adaptation={"task_tower": 1.0, **{name: 0.5 for name in target_terms}, "target_warmup_steps": 2})
    labels = torch.tensor([0, 3, 9, 9])
    for _ in range(2):
        losses = model.losses("autoencoder", Batch(batch(0), batch(1), labels))
        assert "task_tower" in losses and not target_terms & set(losses)
    losses = model.losses("autoencoder", Batch(batch(0), batch(1), labels))
    assert target_terms <= set(losses)


def test_pseudo_labels_train_the_tower_toward_its_own_confident_predictions_on_target():
    model = tiny(adaptation={"task_tower": 1.0, "target_pseudo_label": 0.4, "pseudo_label_threshold": 0.9})
    labels = torch.tensor([0, 3, 9, 9])
    nn.init.zeros_(model.adaptation.task_tower.weight)
    nn.init.zeros_(model.adaptation.task_tower.bias)  # uniform predictions: nothing is confident, the term is 0
    weight, value = model.losses("autoencoder", Batch(batch(0), batch(1), labels))["target_pseudo_label"]
    assert weight == 0.4 and value.item() == 0 and model.stats()["pseudo_label_fraction"] == 0
    with torch.no_grad():
        model.adaptation.task_tower.bias[3] = 5.0  # class 3 at probability e^5 / (e^5 + 9) = 0.943 for every input
    value = model.losses("autoencoder", Batch(batch(0), batch(1), labels))["target_pseudo_label"][1]
    assert value.item() == pytest.approx(-math.log(math.exp(5) / (math.exp(5) + 9)), rel=1e-4)
    assert model.stats()["pseudo_label_fraction"] == 1
    value.backward()
    assert model.adaptation.task_tower.bias.grad[3] < 0  # descending it raises the confident class further


def test_config_refuses_target_terms_without_the_tower():
    with pytest.raises(ValueError, match="task_tower"):
        load_config("digits", ["model.adaptation.task_tower=0", "model.adaptation.target_entropy=0.1"])
    with pytest.raises(ValueError, match="target_diversity > 0 needs the task tower"):
        load_config("digits", ["model.adaptation.task_tower=0", "model.adaptation.target_diversity=1"])
    with pytest.raises(ValueError, match="target_pseudo_label > 0 needs the task tower"):
        load_config("digits", ["model.adaptation.task_tower=0", "model.adaptation.target_pseudo_label=1"])


def test_a_deforming_tower_reads_deformed_copies_of_the_source_and_trains_the_encoder_through_them():
    labels = torch.tensor([0, 3, 9, 9])
    plain = tiny(adaptation={"task_tower": 1.0})
    deforming = tiny(adaptation={"task_tower": 1.0, "tower_deform": 2.0})
    torch.manual_seed(1)
    clean = plain.losses("autoencoder", Batch(batch(0), batch(1), labels))["task_tower"][1]
    torch.manual_seed(1)
    bent = deforming.losses("autoencoder", Batch(batch(0), batch(1), labels))["task_tower"][1]
    assert plain.state_dict().keys() == deforming.state_dict().keys()  # same parameters: only the input differs
    assert abs(bent.item() - clean.item()) > 1e-4
    torch.manual_seed(1)
    expected = deforming.adaptation.task_tower(deforming.e1(deform(batch(0), elastic=2.0)))
    assert bent.item() == pytest.approx(torch.nn.functional.cross_entropy(expected, labels).item(), rel=1e-5)
    bent.backward()
    assert next(deforming.e1.parameters()).grad.abs().sum() > 0
    with pytest.raises(ValueError, match="tower_deform"):
        load_config("digits", ["model.adaptation.tower_deform=-1"])


def test_a_tower_saved_under_its_old_name_loads_into_the_adaptation_module():
    saved = tiny(adaptation={"task_tower": 1.0}).state_dict()
    old = {k.replace("adaptation.task_tower.", "task_tower."): v for k, v in saved.items()}
    model = tiny(adaptation={"task_tower": 1.0})
    nn.init.zeros_(model.adaptation.task_tower.weight)
    model.load_state_dict(old)
    assert torch.equal(model.adaptation.task_tower.weight, saved["adaptation.task_tower.weight"])


def test_the_task_tower_is_the_models_classifier_of_either_domain_and_is_built_for_inference():
    """classify(x, d) = h(e_d(x)): on B's images, the domain-adaptation readout xgan eval reports."""
    model = tiny(adaptation={"task_tower": 1.0}).eval()
    x = batch(0)
    assert torch.equal(model.classify(x, "b"), model.adaptation.task_tower(model.encode(x, "b")))
    inference = XGAN(model.cfg, x.shape[-1], training=False)
    inference.load_state_dict(model.state_dict(), strict=False)
    assert torch.equal(inference.classify(x, "b"), model.classify(x, "b"))
    assert tiny().classify(x, "b") is None  # no tower, no readout
