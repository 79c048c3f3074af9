"""MUNIT: AdaIN on known statistics, styles that change the output and content that does not, the loss terms."""

import pytest
import torch

from xgan.models.base import Batch
from xgan.models.munit import MUNIT, MUNITConfig, MUNITWeights, adain

SIZE = 16


def model(**kwargs) -> MUNIT:
    torch.manual_seed(0)
    defaults = {"width": 0.125, "residual_blocks": 1, "mlp_dim": 16, "discriminator_layers": 2,
                "discriminator_scales": 2}
    return MUNIT(MUNITConfig(**(defaults | kwargs)), SIZE)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE) * 2 - 1


def test_adain_gives_each_channel_the_style_mean_and_scale():
    x = torch.randn(2, 3, 8, 8) * 5 + 2
    beta, gamma = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]]), torch.tensor([[2.0, 0.5, 1.0], [1.0, 1.0, 4.0]])
    y = adain(x, torch.cat([beta, gamma], 1))
    assert torch.allclose(y.mean(dim=(2, 3)), beta, atol=1e-4)
    assert torch.allclose(y.var(dim=(2, 3), unbiased=False).sqrt(), gamma, atol=1e-3)


def test_the_style_changes_a_translation_and_its_content_code_is_kept():
    net, a = model(), images(2)
    s1, s2 = net.sample_style(2, "b", torch.Generator().manual_seed(1)), net.sample_style(2, "b", torch.Generator().manual_seed(2))
    assert s1.shape == (2, 8) and torch.equal(s1, net.sample_style(2, "b", torch.Generator().manual_seed(1)))
    one, two = net.translate(a, "b", s1), net.translate(a, "b", s2)
    assert one.shape == a.shape and not torch.allclose(one, two)
    assert torch.equal(net.translate(a, "b"), net.translate(a, "b", torch.zeros(2, 8)))  # the default: s = 0
    c = net.content(a, "a")
    assert torch.equal(net.generate(c, s1, "b"), one)  # the style enters only the decoder
    reference = images(2)
    assert torch.equal(net.translate(a, "b", net.style_of(reference, "b")),
                       net.generate(c, net.style_b(reference), "b"))  # reference-guided: E^s_b of the reference


def test_the_loss_terms_and_their_weights_and_the_optional_cycle():
    a, b = images(), images()
    terms = model().losses("generator", Batch(a, b))
    assert {k: w for k, (w, _) in terms.items()} == {"gan": 1.0, "reconstruction": 10.0, "style": 1.0, "content": 1.0,
                                                     "weight_decay": 5e-5}
    with_cycle = model(weights=MUNITWeights(cycle=10.0)).losses("generator", Batch(a, b))
    assert with_cycle["cycle"][0] == 10.0 and with_cycle["cycle"][1].item() > 0


class Fixed(torch.nn.Module):
    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value


def test_style_reconstruction_is_zero_when_the_style_encoders_read_back_the_styles_drawn():
    net, a, b = model(), images(), images()
    torch.manual_seed(5)
    s_a, s_b = torch.randn(4, 8), torch.randn(4, 8)  # what losses() draws next from the same seed
    net.style_a, net.style_b = Fixed(s_a), Fixed(s_b)
    torch.manual_seed(5)
    assert net.losses("generator", Batch(a, b))["style"][1].item() == 0.0
    net.style_b = Fixed(s_b + 1)
    torch.manual_seed(5)
    assert net.losses("generator", Batch(a, b))["style"][1].item() == pytest.approx(1.0)


def test_the_critics_phase_trains_the_critics_only():
    net = model()
    losses = net.losses("discriminator", Batch(images(), images()))
    sum(w * v for w, v in losses.values()).backward()
    assert all(p.grad is None for g in net.generators() for p in g.parameters())
    assert all(p.grad is not None for p in net.d_b.parameters())
