import math

import pytest
import torch
from torch import nn

from xgan.config import load_config
from xgan.models.base import Batch
from xgan.models.xgan import XGAN, XGANConfig, XGANWeights
from xgan_toys import SIZE, Invertible, batch, tiny  # noqa: I001


def test_seed_layer_table_at_64_px():
    model = XGAN(XGANConfig(), 64)
    shapes = []
    x = torch.zeros(2, 3, 64, 64)
    for layer in model.e1:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(32, 32, 32), (64, 16, 16), (128, 8, 8), (256, 4, 4), (1024,), (1024,)]
    shapes = []
    for layer in model.d1:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]
    model = XGAN(XGANConfig(weights=XGANWeights(gan=1.0)), 64)
    x = torch.zeros(2, 3, 64, 64)
    shapes = []
    for layer in model.discriminator2:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert [s for s in shapes if len(s) == 3] == [(16, 32, 32), (32, 16, 16), (32, 8, 8), (32, 4, 4)]
    assert shapes[-1] == (1,)


def shared_positions(first: nn.Sequential, second: nn.Sequential) -> list[bool]:
    return [a is b for a, b in zip(first, second)]


def test_partial_sharing_shares_the_seed_table_layers():
    model = tiny(sharing="partial")  # 16 px: conv, conv, FC, FC in the encoder
    assert shared_positions(model.e1, model.e2) == [False, True, True, True]
    assert shared_positions(model.d1, model.d2) == [True, True, False]
    model64 = XGAN(XGANConfig(width=0.125, embedding_dim=16), 64)
    assert shared_positions(model64.e1, model64.e2) == [False, False, True, True, True, True]
    assert shared_positions(model64.d1, model64.d2) == [True, True, False, False, False]


def test_full_sharing_shares_the_whole_encoder_and_none_shares_nothing():
    full, none = tiny(sharing="full"), tiny(sharing="none")
    assert all(shared_positions(full.e1, full.e2))
    assert shared_positions(full.d1, full.d2) == [True, True, False]
    assert not any(shared_positions(none.e1, none.e2) + shared_positions(none.d1, none.d2))
    counts = [sum(p.numel() for p in m.parameters()) for m in (full, tiny(sharing="partial"), none)]
    assert counts[0] < counts[1] < counts[2]


@pytest.mark.parametrize("sharing", ["none", "partial"])
def test_decoding_into_both_domains_at_once_equals_the_two_decoders(sharing):
    model = tiny(sharing=sharing)
    z = torch.randn(3, 16)
    both = model.decode_both(z)
    assert torch.allclose(both[0], model.d1(z), atol=1e-6) and torch.allclose(both[1], model.d2(z), atol=1e-6)


def test_the_transposed_conv_from_the_embedding_is_computed_exactly_as_a_matrix_product():
    project = tiny().d1[0][1]
    z = torch.randn(5, 16, 1, 1)
    assert torch.allclose(project(z), nn.functional.conv_transpose2d(z, project.weight, project.bias), atol=1e-6)


def test_shared_parameters_are_one_object_and_optimised_once():
    model = tiny(sharing="partial")
    assert model.e1[-1].weight is model.e2[-1].weight
    params = model.phases()[0].parameters
    assert len(params) == len({id(p) for p in params})


@pytest.mark.parametrize("distance", ["l1", "l2", "cosine"])
def test_reconstruction_and_semantic_losses_vanish_for_exact_inverses(distance):
    losses = Invertible(semantic_distance=distance).losses("autoencoder", Batch(batch(0), batch(1)))
    assert losses["rec"][1].item() == 0
    assert losses["semantic"][1].item() == pytest.approx(0, abs=1e-6)


def test_reconstruction_and_semantic_losses_are_positive_when_a_decoder_is_off():
    model = Invertible()
    model.d2 = nn.Sequential(nn.Unflatten(1, (3, SIZE, SIZE)), nn.Tanh())
    losses = model.losses("autoencoder", Batch(batch(0), batch(1)))
    assert losses["rec"][1].item() > 0 and losses["semantic"][1].item() > 0


@pytest.mark.parametrize("classes", [2, 4])
def test_dann_loss_of_an_uninformed_classifier_is_log_classes(classes):
    model = tiny(dann_classes=classes)
    last = model.domain_classifier[-1]
    nn.init.zeros_(last.weight), nn.init.zeros_(last.bias)
    dann = model.losses("autoencoder", Batch(batch(0), batch(1)))["dann"][1]
    assert dann.item() == pytest.approx(math.log(classes), rel=1e-5)


def test_dann_trains_the_classifier_and_reverses_the_encoders_gradient():
    model = tiny()
    losses = model.losses("autoencoder", Batch(batch(0), batch(1)))
    losses["dann"][1].backward()
    classifier_grad = model.domain_classifier[-1].weight.grad
    encoder_grad = model.e1[-1].weight.grad
    assert classifier_grad is not None and classifier_grad.abs().sum() > 0
    # the encoder's gradient through the reversal layer is the negative of the plain one
    plain = tiny()
    plain.reversal_strength = lambda: -1.0  # -(-1) = +1: the reversal undone
    plain.losses("autoencoder", Batch(batch(0), batch(1)))["dann"][1].backward()
    assert torch.allclose(encoder_grad, -plain.e1[-1].weight.grad, atol=1e-7)


def test_gan_terms_and_discriminator_threshold():
    model = tiny(weights={"gan": 1.0}, gan_both_directions=True, discriminator_threshold=1.01)
    losses = model.losses("autoencoder", Batch(batch(0), batch(1)))
    assert losses["gan"][1].item() > 0
    d = model.losses("discriminator", Batch(batch(0), batch(1)))
    assert set(d) == {"gan_d1", "gan_d2"} and all(v.item() > 0 for _, v in d.values())
    assert [(p.name, p.critic) for p in model.phases()] == [("autoencoder", False), ("discriminator", True)]
    model.cfg.discriminator_threshold = 0.0  # any accuracy is at or above it: no update
    assert model.losses("discriminator", Batch(batch(0), batch(1))) == {}
    assert 0 <= model.stats()["gan_d2_accuracy"] <= 1


def test_the_discriminators_have_their_own_width_else_the_models():
    def channels(model):
        return [m.out_channels for m in model.discriminator2.modules() if isinstance(m, nn.Conv2d)]

    model, wider = tiny(weights={"gan": 1.0}), tiny(weights={"gan": 1.0}, discriminator_width=2 * tiny().cfg.width)
    assert [2 * c for c in channels(model)] == channels(wider)
    assert [m.out_channels for m in model.e1.modules() if isinstance(m, nn.Conv2d)] == \
        [m.out_channels for m in wider.e1.modules() if isinstance(m, nn.Conv2d)]


def test_no_gan_means_no_discriminator_phase():
    model = tiny()
    assert [p.name for p in model.phases()] == ["autoencoder"]
    assert "gan" not in model.losses("autoencoder", Batch(batch(0), batch(1)))


def test_teacher_loss_uses_a_frozen_extractor_from_the_config():
    model = tiny(teacher="xgan.models.teachers:coarse_colours", weights={"teacher": 0.5})
    losses = model.losses("autoencoder", Batch(batch(0), batch(1)))
    weight, value = losses["teacher"]
    assert weight == 0.5 and value.item() > 0
    assert not any(p.requires_grad for p in model.teacher.parameters())
    assert all(p.requires_grad for p in model.to_teacher.parameters())


def test_config_refuses_bad_model_values():
    with pytest.raises(ValueError, match="sharing"):
        load_config("digits", ["model.sharing=some"])
    with pytest.raises(ValueError, match="teacher"):
        load_config("digits", ["model.teacher=", "model.weights.teacher=1"])


def test_reversal_strength_ramps_from_zero_to_one_and_counts_training_steps_only():
    model = tiny(dann_ramp_steps=10)
    assert model.reversal_strength() == 0.0
    for _ in range(5):
        model.losses("autoencoder", Batch(batch(0), batch(1)))
    assert int(model.steps_done) == 5 and 0.9 < model.reversal_strength() < 1.0
    model.eval().losses("autoencoder", Batch(batch(0), batch(1)))
    assert int(model.steps_done) == 5
    model.steps_done.fill_(10)
    assert model.reversal_strength() == pytest.approx(1.0, abs=1e-4)
    assert tiny().reversal_strength() == 1.0  # no ramp




def test_a_model_built_for_inference_has_only_its_encoders_and_decoders():
    full = tiny(weights={"gan": 1.0, "teacher": 1.0}, teacher="xgan.models.teachers:coarse_colours")
    assert {"domain_classifier", "discriminator2", "pool12", "teacher"} <= {name for name, _ in full.named_children()}
    inference = XGAN(full.cfg, SIZE, training=False)
    assert {name for name, _ in inference.named_children()} == {"e1", "e2", "d1", "d2"}
    assert set(inference.state_dict()) < set(full.state_dict())
    inference.load_state_dict(full.state_dict(), strict=False)
    x = batch(0)
    assert torch.equal(inference.translate(x, "b"), full.translate(x, "b"))
