"""MUNIT, multimodal unsupervised image-to-image translation (Huang, Liu, Belongie & Kautz, ECCV'18): each image is
a content code c, shared by the domains, and a style code s, particular to its domain; translation keeps the content
and draws the style of the target domain, so one input has many outputs.

    (c_d, s_d) = (E^c_d(x_d), E^s_d(x_d)),  x = G_d(c, s),  s ~ N(0, I) (style_dim values)
    x_ab = G_b(c_a, s_b), x_ba = G_a(c_b, s_a) for random s_a, s_b;  (c_a', s_b') = E_b(x_ab), (c_b', s_a') = E_a(x_ba)

    L_G = l_gan  (sum_s |D_a,s(x_ba) - 1|^2 + |D_b,s(x_ab) - 1|^2)
        + l_x    (|G_a(c_a, s_a(x_a)) - x_a|_1 + |G_b(c_b, s_b(x_b)) - x_b|_1)     images
        + l_s    (|s_b' - s_b|_1 + |s_a' - s_a|_1)                                 styles
        + l_c    (|c_a' - c_a|_1 + |c_b' - c_b|_1)                                 contents
        + l_cyc  (|G_a(c_a', s_a(x_a)) - x_a|_1 + |G_b(c_b', s_b(x_b)) - x_b|_1)   optional (0: off)
    L_D = l_gan sum_s (|D_s(x) - 1|^2 + |D_s(fake.detach())|^2), for D_a and D_b, with fresh random styles

Layers (the official code, NVlabs/MUNIT): E^c = c7s1-64, `downsamplings` 4x4 stride-2 convs doubling the channels,
`residual_blocks` residual blocks, instance norm, ReLU, reflection padding; E^s = c7s1-64 and `style_downsamplings`
(4) 4x4 stride-2 convs (channels doubling up to 256), no norm, global average pooling, a 1x1 conv to style_dim;
G = residual blocks with adaptive instance norm (AdaIN: instance norm, then gamma x + beta, gamma and beta of every
AdaIN layer from an MLP of s: style_dim -> 256 -> 256 -> 2 x channels per layer, beta first, as the official
code), then per upsampling nearest x2 and a 5x5 conv with layer norm, then c7s1-3 and tanh; D = multi-scale patch
critics (nets.MultiScaleDiscriminator), LSGAN summed over scales. Critics first, then the generators, each step;
Adam's weight decay 1e-4 as the loss term weight_decay/2 |theta|^2. Weights: the official configs' 1 / 10 / 1 / 1,
cycle 0 (edges2shoes/handbags; 10 in summer2winter). `translate` without a style uses s = 0, the prior's mean, so
evaluation and export are deterministic; `sample_style` draws styles for diverse outputs,
`style_of` reads a reference image's (reference-guided translation: G_b(c_a, E^s_b(y))).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel, other
from xgan.models.layers import conv_block as conv
from xgan.models.layers import multiscale_gan_loss as lsgan
from xgan.models.layers import scaled, squared_norm
from xgan.models.nets import MultiScaleDiscriminator, ResidualBlock


@dataclass
class MUNITWeights:
    gan: float = 1.0
    reconstruction: float = 10.0  # recon_x_w
    style: float = 1.0  # recon_s_w
    content: float = 1.0  # recon_c_w
    cycle: float = 0.0  # recon_x_cyc_w: 0 in the edges configs, 10 in summer2winter
    weight_decay: float = 1e-4  # the official Adam weight_decay, as a loss term; 0: off


@dataclass
class MUNITConfig:
    name: str = "munit"
    width: float = 1.0  # multiplies the encoders', decoders' and critics' channels (1.0: the official 64 first)
    downsamplings: int = 2  # of the content encoder
    residual_blocks: int = 4  # of the content encoder, and AdaIN blocks of the decoder
    style_dim: int = 8
    style_downsamplings: int = 4  # of the style encoder (the official code's fixed 4)
    mlp_dim: int = 256
    discriminator_layers: int = 4
    discriminator_scales: int = 3
    weights: MUNITWeights = field(default_factory=MUNITWeights)


class AdaINBlock(nn.Module):
    """A residual block whose two convs are each followed by AdaIN: x + AdaIN(conv(ReLU(AdaIN(conv(x)))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = (nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3))
                                  for _ in range(2))

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """params: (N, 4C), the (beta, gamma) of the first AdaIN, then of the second."""
        p1, p2 = params.chunk(2, dim=1)
        y = F.relu(adain(self.conv1(x), p1))
        return x + adain(self.conv2(y), p2)


def adain(x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
    """Instance norm of x, then gamma x + beta, with (N, 2C) params = (beta, gamma) per image."""
    beta, gamma = params[:, :, None, None].chunk(2, dim=1)
    return F.instance_norm(x) * gamma + beta


class AdaINDecoder(nn.Module):
    def __init__(self, channels: list[int], blocks: int, style_dim: int, mlp_dim: int) -> None:
        super().__init__()
        c = channels[-1]
        self.blocks = nn.ModuleList(AdaINBlock(c) for _ in range(blocks))
        self.mlp = nn.Sequential(nn.Linear(style_dim, mlp_dim), nn.ReLU(inplace=True), nn.Linear(mlp_dim, mlp_dim),
                                 nn.ReLU(inplace=True), nn.Linear(mlp_dim, 4 * c * blocks))
        ups = [nn.Sequential(nn.Upsample(scale_factor=2), conv(channels[i + 1], channels[i], 5, 1, "layer"))
               for i in reversed(range(len(channels) - 1))]
        self.to_image = nn.Sequential(*ups, conv(channels[0], 3, 7, 1, "none", nn.Tanh()))

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.mlp(style).chunk(len(self.blocks), dim=1)
        x = content
        for block, p in zip(self.blocks, params):
            x = block(x, p)
        return self.to_image(x)


class MUNIT(TranslationModel):
    config_class = MUNITConfig

    def __init__(self, cfg: MUNITConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.style_dim = cfg.style_dim
        n = cfg.downsamplings
        channels = [scaled(64 * 2 ** i, cfg.width) for i in range(n + 1)]
        halvings = min(cfg.style_downsamplings, image_size.bit_length() - 1)  # as many as fit, down to 1x1
        style_channels = [scaled(min(64 * 2 ** i, 256), cfg.width) for i in range(halvings + 1)]

        def content_encoder() -> nn.Sequential:
            downs = [conv(channels[i], channels[i + 1], 4, 2, "instance") for i in range(n)]
            return nn.Sequential(conv(3, channels[0], 7, 1, "instance"), *downs,
                                 *[ResidualBlock(channels[-1], "instance") for _ in range(cfg.residual_blocks)])

        def style_encoder() -> nn.Sequential:
            downs = [conv(c_in, c_out, 4, 2, "none") for c_in, c_out in zip(style_channels, style_channels[1:])]
            return nn.Sequential(conv(3, style_channels[0], 7, 1, "none"), *downs, nn.AdaptiveAvgPool2d(1),
                                 nn.Conv2d(style_channels[-1], cfg.style_dim, 1), nn.Flatten())

        self.content_a, self.content_b = content_encoder(), content_encoder()
        self.style_a, self.style_b = style_encoder(), style_encoder()
        self.dec_a, self.dec_b = (AdaINDecoder(channels, cfg.residual_blocks, cfg.style_dim, cfg.mlp_dim)
                                  for _ in range(2))
        if training:
            self.d_a, self.d_b = (MultiScaleDiscriminator(image_size, cfg.width, cfg.discriminator_layers,
                                                          cfg.discriminator_scales) for _ in range(2))

    def content(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.content_a if domain == "a" else self.content_b)(x)

    def style(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.style_a if domain == "a" else self.style_b)(x)

    def style_of(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.style(x, domain)

    def generate(self, content: torch.Tensor, style: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.dec_a if domain == "a" else self.dec_b)(content, style)

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            style = x.new_zeros(len(x), self.style_dim)
        return self.generate(self.content(x, other(to)), style, to)

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.generate(self.content(x, domain), self.style(x, domain), domain)

    def sample_style(self, count: int, domain: str, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(count, self.style_dim, generator=generator)

    def generators(self) -> list[nn.Module]:
        return [self.content_a, self.content_b, self.style_a, self.style_b, self.dec_a, self.dec_b]

    def phases(self) -> list[Phase]:
        return [Phase("discriminator", [*self.d_a.parameters(), *self.d_b.parameters()], critic=True),
                Phase("generator", [p for g in self.generators() for p in g.parameters()])]

    def losses(self, phase: str, batch: Batch) -> Losses:
        w, a, b = self.cfg.weights, batch.a, batch.b
        s_a, s_b = (torch.randn(len(x), self.style_dim, device=x.device, dtype=x.dtype) for x in (a, b))
        if phase == "discriminator":
            with torch.no_grad():
                fake_b = self.generate(self.content(a, "a"), s_b, "b")
                fake_a = self.generate(self.content(b, "b"), s_a, "a")
            losses = {"d_a": (w.gan, lsgan(self.d_a(a), True) + lsgan(self.d_a(fake_a), False)),
                      "d_b": (w.gan, lsgan(self.d_b(b), True) + lsgan(self.d_b(fake_b), False))}
            params = [*self.d_a.parameters(), *self.d_b.parameters()]
        else:
            c_a, c_b = self.content(a, "a"), self.content(b, "b")
            own_a, own_b = self.style(a, "a"), self.style(b, "b")
            fake_b, fake_a = self.generate(c_a, s_b, "b"), self.generate(c_b, s_a, "a")
            c_a_back, s_b_back = self.content(fake_b, "b"), self.style(fake_b, "b")
            c_b_back, s_a_back = self.content(fake_a, "a"), self.style(fake_a, "a")
            losses = {
                "gan": (w.gan, lsgan(self.d_b(fake_b), True) + lsgan(self.d_a(fake_a), True)),
                "reconstruction": (w.reconstruction, F.l1_loss(self.generate(c_a, own_a, "a"), a)
                                   + F.l1_loss(self.generate(c_b, own_b, "b"), b)),
                "style": (w.style, F.l1_loss(s_b_back, s_b) + F.l1_loss(s_a_back, s_a)),
                "content": (w.content, F.l1_loss(c_a_back, c_a) + F.l1_loss(c_b_back, c_b)),
            }
            if w.cycle > 0:
                losses["cycle"] = (w.cycle, F.l1_loss(self.generate(c_a_back, own_a, "a"), a)
                                   + F.l1_loss(self.generate(c_b_back, own_b, "b"), b))
            params = [p for g in self.generators() for p in g.parameters()]
        if w.weight_decay > 0:
            losses["weight_decay"] = (w.weight_decay / 2, squared_norm(params))
        return losses
