"""DRIT++: the KL of the prior, cross-cycle and self-reconstruction on an exact inverse, mode seeking, the latent
regression that leaves the attribute encoders alone, attributes that change only the output, and the phases."""

import pytest
import torch
from torch import nn

from xgan.models.base import Batch
from xgan.models.drit import DRIT, DRITConfig, DRITWeights, kl_divergence, mode_seeking

SIZE = 16


def model(**kwargs) -> DRIT:
    torch.manual_seed(0)
    defaults = {"width": 0.125, "residual_blocks": 1, "discriminator_layers": 2, "discriminator_scales": 2}
    return DRIT(DRITConfig(**(defaults | kwargs)), SIZE)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE) * 2 - 1


def test_the_kl_of_the_prior_is_zero_and_grows_away_from_it():
    zeros = torch.zeros(3, 8)
    assert kl_divergence(zeros, zeros).item() == 0.0
    assert kl_divergence(zeros + 1, zeros).item() == pytest.approx(4.0)  # 8 x mu^2 / 2 per image
    assert kl_divergence(zeros, zeros + 1).item() == pytest.approx(8 * (torch.e - 2) / 2, rel=1e-5)


def test_mode_seeking_is_the_inverse_of_how_far_outputs_move_per_unit_of_code():
    z1, z2 = torch.zeros(2, 8), torch.ones(2, 8)
    x1 = torch.zeros(2, 3, 4, 4)
    assert mode_seeking(x1, x1 + 2, z1, z2).item() == pytest.approx(1 / (2 + 1e-5))
    assert mode_seeking(x1, x1, z1, z2).item() == pytest.approx(1e5)  # identical outputs: the largest penalty


class ContentIsTheImage(nn.Module):
    def forward(self, c: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return c


def test_cross_cycle_and_self_reconstruction_are_zero_on_an_exact_inverse():
    """Encoders that keep the image as its content and generators that draw it back: swapping twice returns
    each input, so both L1 terms vanish; swapping the domains of one generator breaks it."""
    net, a, b = model(), images(), images()
    net.content_a = net.content_b = net.content_shared = net.gen_shared = nn.Identity()
    net.gen_a = net.gen_b = ContentIsTheImage()
    net.d_content = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 1), nn.Flatten(0))
    terms = net.losses("generator", Batch(a, b))
    assert terms["cross_cycle"][1].item() == 0.0 and terms["reconstruction"][1].item() == 0.0
    net.generate = lambda c, z, domain: c + 0.5  # a generator that does not invert its encoder
    assert net.losses("generator", Batch(a, b))["cross_cycle"][1].item() > 0


def test_the_loss_terms_and_weights_and_drit_without_mode_seeking():
    a, b = images(), images()
    terms = model().losses("generator", Batch(a, b))
    assert {k: w for k, (w, _) in terms.items()} == {
        "content_gan": 1.0, "gan": 1.0, "cross_cycle": 10.0, "reconstruction": 10.0, "kl": 0.01, "kl_content": 0.01,
        "gan_random": 1.0, "latent": 10.0, "mode_seeking": 1.0, "weight_decay": 5e-5}
    assert "mode_seeking" not in model(weights=DRITWeights(mode_seeking=0.0)).losses("generator", Batch(a, b))


def test_the_latent_regression_trains_the_generators_and_not_the_attribute_encoders():
    net = model()
    net.losses("generator", Batch(images(), images()))["latent"][1].backward()
    assert all(p.grad is None or not p.grad.any() for p in net.attribute_a.parameters())
    assert any(p.grad is not None and p.grad.any() for p in net.gen_a.parameters())
    assert any(p.grad is not None and p.grad.any() for p in net.content_b.parameters())  # c_b -> G_a


def test_the_attribute_changes_the_translation_and_the_content_code_does_not_see_it():
    net, a = model().eval(), images(2)
    z1, z2 = (net.sample_style(2, "b", torch.Generator().manual_seed(s)) for s in (1, 2))
    assert z1.shape == (2, 8) and torch.equal(z1, net.sample_style(2, "b", torch.Generator().manual_seed(1)))
    one, two = net.translate(a, "b", z1), net.translate(a, "b", z2)
    assert one.shape == a.shape and not torch.allclose(one, two)
    assert torch.equal(net.translate(a, "b"), net.translate(a, "b", torch.zeros(2, 8)))  # default: the prior's mean
    reference = images(2)
    assert torch.equal(net.translate(a, "b", net.style_of(reference, "b")),
                       net.generate(net.content(a, "a"), net.attribute_b(reference)[0], "b"))  # mu of E^z_b


def test_the_content_code_is_noisy_while_training_only():
    net, a = model(), images(2)
    assert not torch.equal(net.content(a, "a"), net.content(a, "a"))
    net.eval()
    assert torch.equal(net.content(a, "a"), net.content(a, "a"))


def test_the_phases_the_content_critic_every_step_at_its_rate_and_clip_the_rest_every_d_iter():
    net = model(content_critic_steps=3, content_lr=4e-5, content_grad_clip=5.0)
    phases = {p.name: p for p in net.phases()}
    assert list(phases) == ["content_critic", "discriminator", "generator"]
    assert (phases["content_critic"].every, phases["content_critic"].lr, phases["content_critic"].max_grad_norm) == (1, 4e-5, 5.0)
    assert phases["discriminator"].every == phases["generator"].every == 3
    for name, trained in (("content_critic", [net.d_content]), ("discriminator", net.critics())):
        net.zero_grad(set_to_none=True)
        losses = net.losses(name, Batch(images(), images()))
        sum(w * v for w, v in losses.values()).backward()
        assert all(p.grad is not None for m in trained for p in m.parameters())
        assert all(p.grad is None for g in net.generators() for p in g.parameters())
    with pytest.raises(ValueError, match="content_critic_steps"):
        model(content_critic_steps=0)
