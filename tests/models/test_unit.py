"""UNIT: the shared layers, the VAE terms and the cycle on known cases, the multi-scale critics."""

import pytest
import torch
from torch import nn

import xgan.models.unit as unit
from xgan.models.base import Batch
from xgan.models.layers import multiscale_gan_loss
from xgan.models.nets import MultiScaleDiscriminator
from xgan.models.unit import UNIT, UNITConfig, UNITWeights

SIZE = 16


def model(**kwargs) -> UNIT:
    torch.manual_seed(0)
    defaults = {"width": 0.125, "residual_blocks": 2, "discriminator_layers": 2, "discriminator_scales": 2}
    return UNIT(UNITConfig(**(defaults | kwargs)), SIZE)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE) * 2 - 1


def test_the_encoders_end_and_the_decoders_begin_in_one_set_of_shared_weights():
    net = model(shared_blocks=1)
    assert len(net.enc_shared) == len(net.dec_shared) == 1
    a = images()
    z = net.encode(a, "a")
    assert z.shape == (4, 32 * (SIZE // 4) ** 2)  # 8 * 2^2 channels at a quarter of the size, flattened
    assert net.decode(z, "b").shape == a.shape and net.translate(a, "b").shape == a.shape
    # the shared block transforms both domains' codes: perturbing it changes both translations
    before = net.translate(a, "b"), net.translate(a, "a")
    with torch.no_grad():
        for p in net.enc_shared.parameters():
            p.add_(0.5)
    assert not torch.allclose(before[0], net.translate(a, "b")) and not torch.allclose(before[1], net.translate(a, "a"))
    assert len(model(shared_blocks=0).enc_shared) == 0  # the current official code: no sharing
    with pytest.raises(ValueError, match="shared_blocks"):
        UNITConfig(residual_blocks=1, shared_blocks=2)


def test_with_identity_networks_and_no_noise_reconstruction_and_cycle_vanish_and_kl_is_the_mean_square(monkeypatch):
    net = model(weights=UNITWeights(weight_decay=0.0))
    monkeypatch.setattr(unit, "noisy", lambda h: h)
    for name in ("enc_a", "enc_b", "enc_shared", "dec_shared", "dec_a", "dec_b"):
        setattr(net, name, nn.Identity())
    a, b = images(), images()
    losses = net.losses("generator", Batch(a, b))
    assert losses["reconstruction"][1].item() == 0.0 and losses["cycle"][1].item() == 0.0
    assert losses["kl"][1].item() == pytest.approx((a.pow(2).mean() + b.pow(2).mean()).item())
    assert losses["kl_cycle"][1].item() == pytest.approx(losses["kl"][1].item())  # x_ab = x_a: the same codes
    assert {k: w for k, (w, _) in losses.items()} == {"gan": 1.0, "reconstruction": 10.0, "kl": 0.01, "cycle": 10.0,
                                                      "kl_cycle": 0.01}


def test_the_code_is_sampled_around_the_mean_with_unit_variance():
    h = torch.zeros(20000)
    z = unit.noisy(h)
    assert abs(z.mean().item()) < 0.05 and z.std().item() == pytest.approx(1.0, abs=0.05)


def test_multi_scale_critics_see_the_image_halved_at_each_scale_and_lsgan_sums_over_scales():
    d = MultiScaleDiscriminator(32, width=0.125, layers=2, scales=3)
    maps = d(torch.zeros(2, 3, 32, 32))
    assert [m.shape[-1] for m in maps] == [8, 4, 2]
    small = MultiScaleDiscriminator(16, width=0.125, layers=4, scales=3)  # 16, 8, 4 px: 4, 3 and 2 halvings
    assert [m.shape[-1] for m in small(torch.zeros(1, 3, 16, 16))] == [1, 1, 1]
    assert len({id(c) for c in d.critics}) == 3 and not torch.equal(d.critics[0][1].weight, d.critics[1][1].weight)
    ones = [torch.ones(2, 1, 4, 4), torch.ones(2, 1, 2, 2)]
    assert multiscale_gan_loss(ones, True).item() == 0.0 and multiscale_gan_loss(ones, False).item() == 2.0  # 1 per scale


def test_the_critics_phase_trains_the_critics_only_and_weight_decay_is_adams():
    net, a, b = model(), images(), images()
    losses = net.losses("discriminator", Batch(a, b))
    sum(w * v for w, v in losses.values()).backward()
    assert all(p.grad is None for g in net.generators() for p in g.parameters())
    assert all(p.grad is not None for p in net.d_a.parameters())
    net.zero_grad()
    decay = net.losses("generator", Batch(a, b))["weight_decay"]
    (decay[0] * decay[1]).backward()
    p = next(net.enc_a.parameters())
    assert torch.allclose(p.grad, 1e-4 * p.detach())  # Adam's coupled weight decay: wd * theta
