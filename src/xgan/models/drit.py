"""DRIT++, diverse image-to-image translation via disentangled representations (Lee, Tseng, Mao, Huang, Lu & Yang,
ECCV'18 and IJCV'20): each image is a content code c in a space the domains share (enforced by a content
discriminator) and an attribute code z of its own domain (a Gaussian); translation swaps the attributes.

    c_d = E^c_d(x_d) (+ N(0, I) while training),  (mu_d, logvar_d) = E^z_d(x_d),  z_d = mu_d + e exp(logvar_d / 2)
    u = G_a(c_b, z_a), v = G_b(c_a, z_b)                    first cross translation (the encoded half of the batch)
    x_a^cc = G_a(E^c_b(v), E^z_b(u)), x_b^cc = G_b(E^c_a(u), E^z_a(v))    second: back to the inputs (DRIT's eq. 3)
    x^r_a = G_a(c_b, z_1), x^r'_a = G_a(c_b, z_2) for z_1, z_2 ~ N(0, I)   (and likewise into B)

    L_EG = l_adv^c  (BCE(D^c(c_a), 1/2) + BCE(D^c(c_b), 1/2))          content codes D^c cannot tell apart
         + l_adv    (BCE(D_a(u), 1) + BCE(D_b(v), 1))                      domain GANs on encoded attributes
         + l_cc     (|x_a^cc - x_a|_1 + |x_b^cc - x_b|_1)                  cross-cycle consistency
         + l_recon  (|G_a(c_a, z_a) - x_a|_1 + |G_b(c_b, z_b) - x_b|_1)    self-reconstruction
         + l_kl     (KL(N(mu_d, exp logvar_d) | N(0, I)), per image)     + l_kl^c mean c_d^2
         + l_adv    (BCE(D'_a(x^r_a), 1) + BCE(D'_a(x^r'_a), 1) + ...)     second critics, random attributes
         + l_lat    (|mu(E^z_a(x^r_a)) - z_1|_1 + ...)                     latent regression, E^z held fixed
         + l_ms     (1 / (mean|x^r - x^r'| / mean|z_1 - z_2| + 1e-5))     mode seeking (DRIT++), per direction
    L_D  = BCE(D(x), 1) + BCE(D(fake.detach()), 0) for D_a, D_b (encoded half) and D'_a, D'_b (the other half,
           against both random-attribute translations);  L_D^c = BCE(D^c(c_b), 1) + BCE(D^c(c_a), 0)

Layers and schedule (the official code, HsinYingLee/DRIT, its concat generator and attribute encoder, the
DRIT++ default): E^c = c7s1-64 (LeakyReLU), `downsamplings` 3x3 stride-2 convs with instance norm, `residual_blocks`
residual blocks, then one residual block shared by both domains and the training noise; E^z = 4x4 stride-2 conv,
three residual down-blocks (64-128-192-256, no norm, LeakyReLU 0.2, average pooling), global average pooling and two
linear heads (mu, logvar); G = one residual block shared by both domains, then z tiled and concatenated before
`residual_blocks` residual blocks, before each 3x3 stride-2 transposed conv (layer norm, ReLU) and before the 1x1
output conv (tanh); D, D' = multi-scale patch critics (nets.MultiScaleDiscriminator, 3 scales), sigmoid
cross-entropy; D^c = 4x4 stride-2 LeakyReLU convs down to 4x4 (the official three 7x7 ones bring its 54 px codes
there), a 4x4 conv to 1x1 and a 1x1 conv to one logit per image. D^c learns at lr / 2.5 with its gradient norm
clipped to 5, every step; the other critics and the generator update every `content_critic_steps`-th step (d_iter,
3). Adam(1e-4, 0.5, 0.999) with weight decay 1e-4 (the loss term weight_decay / 2 |theta|^2). The official code
updates E^c, E^z, G on the terms above but l_lat and the second critics' and mode-seeking terms, then E^c, G on
those; here one Adam step takes both sums, E^z held out of l_lat by reading the regression with detached weights.
The official KL sums over the batch it draws, of 1 image; here it is the per-image sum, averaged over the batch.
Weights: the official 1 / 1 / 10 / 10 / 0.01 / 0.01 / 1 / 10 / 1. `translate` without an attribute uses z = 0,
the prior's mean; `style_of` reads a reference image's mu (reference-guided translation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from xgan.models.base import Batch, Losses, Phase, TranslationModel, other
from xgan.models.layers import conv_block as conv
from xgan.models.layers import make_norm, scaled, squared_norm
from xgan.models.nets import MultiScaleDiscriminator, ResidualBlock


@dataclass
class DRITWeights:
    content_gan: float = 1.0
    gan: float = 1.0  # D_a, D_b on encoded-attribute translations
    cross_cycle: float = 10.0
    reconstruction: float = 10.0
    kl: float = 0.01  # of the attribute codes
    kl_content: float = 0.01
    gan_random: float = 1.0  # D'_a, D'_b on random-attribute translations
    latent: float = 10.0
    mode_seeking: float = 1.0  # DRIT++'s; 0: DRIT
    weight_decay: float = 1e-4  # the official Adam weight_decay, as a loss term; 0: off


@dataclass
class DRITConfig:
    name: str = "drit"
    width: float = 1.0  # multiplies every channel count (1.0: the official 64 filters first)
    downsamplings: int = 2
    residual_blocks: int = 3  # private ones of each content encoder, and of each generator after its z concat
    style_dim: int = 8  # the attribute code's size (nz)
    discriminator_layers: int = 4
    discriminator_scales: int = 3
    content_critic_steps: int = 3  # d_iter: D^c alone for d_iter - 1 steps, then every network
    content_lr: float = 4e-5  # D^c's: the official lr / 2.5
    content_grad_clip: float = 5.0
    weights: DRITWeights = field(default_factory=DRITWeights)


class TrainingNoise(nn.Module):
    """Adds N(0, I) to the content code while training (the official GaussianNoiseLayer); identity in eval()."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.randn_like(x) if self.training else x


class DownBlock(nn.Module):
    """The attribute encoder's residual down-block: LReLU, conv3x3, LReLU, conv3x3, avg-pool; plus pool, conv1x1."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.LeakyReLU(0.2), nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_in, 3),
                                  nn.LeakyReLU(0.2), nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3), nn.AvgPool2d(2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class AttributeEncoder(nn.Module):
    def __init__(self, width: float, style_dim: int) -> None:
        super().__init__()
        c = [scaled(k, width) for k in (64, 128, 192, 256)]
        self.body = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(3, c[0], 4, 2),
                                  *[DownBlock(i, o) for i, o in zip(c, c[1:])],
                                  nn.LeakyReLU(0.2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.mu, self.logvar = nn.Linear(c[-1], style_dim), nn.Linear(c[-1], style_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)


def with_code(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """x with z tiled over its positions as extra channels."""
    return torch.cat([x, z[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)


class ConcatGenerator(nn.Module):
    """G_d after the shared block: z joins before the residual blocks, each upsampling and the output conv."""

    def __init__(self, channels: int, blocks: int, upsamplings: int, style_dim: int) -> None:
        super().__init__()
        c = channels + style_dim
        self.blocks = nn.Sequential(*[ResidualBlock(c, "instance") for _ in range(blocks)])
        self.ups = nn.ModuleList()
        for _ in range(upsamplings):
            c_in, c = c + style_dim, (c + style_dim) // 2
            self.ups.append(nn.Sequential(nn.ConvTranspose2d(c_in, c, 3, 2, 1, output_padding=1),
                                          make_norm("layer", c), nn.ReLU(inplace=True)))
        self.to_image = nn.Sequential(nn.ConvTranspose2d(c + style_dim, 3, 1), nn.Tanh())

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.blocks(with_code(x, z))
        for up in self.ups:
            x = up(with_code(x, z))
        return self.to_image(with_code(x, z))


class ContentDiscriminator(nn.Module):
    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        halvings = max(0, (size // 4).bit_length() - 1)
        stack = []
        for _ in range(halvings):
            stack += [nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 4, 2), nn.LeakyReLU(0.01)]
        kernel = max(1, size // 2 ** halvings)
        self.body = nn.Sequential(*stack, nn.Conv2d(channels, channels, kernel), nn.LeakyReLU(0.01),
                                  nn.Conv2d(channels, 1, 1), nn.Flatten())

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        """One logit per code: is it domain B's?"""
        return self.body(c).mean(1)


def bce(logits: torch.Tensor | list[torch.Tensor], target: float) -> torch.Tensor:
    """Sigmoid cross-entropy to a constant target (the official code's sigmoid + BCE), summed over a critic's scales."""
    maps = logits if isinstance(logits, list) else [logits]
    return sum(F.binary_cross_entropy_with_logits(m, torch.full_like(m, target)) for m in maps)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp logvar) | N(0, I)), summed over the code, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(1).mean()


class CrossTranslations(NamedTuple):
    c_a: torch.Tensor
    c_b: torch.Tensor
    posterior_a: tuple[torch.Tensor, torch.Tensor]  # (mu, logvar) of E^z_a(a)
    posterior_b: tuple[torch.Tensor, torch.Tensor]
    z_a: torch.Tensor
    z_b: torch.Tensor
    z1: torch.Tensor  # random attributes
    z2: torch.Tensor
    u: torch.Tensor  # G_a(c_b, z_a)
    v: torch.Tensor  # G_b(c_a, z_b)
    random_a: list[torch.Tensor]  # G_a(c_b, z1) (and z2 with mode seeking)
    random_b: list[torch.Tensor]


class DRIT(TranslationModel):
    config_class = DRITConfig

    def __init__(self, cfg: DRITConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        if cfg.content_critic_steps < 1:
            raise ValueError(f"model.content_critic_steps must be >= 1, not {cfg.content_critic_steps}")
        self.cfg, self.style_dim = cfg, cfg.style_dim
        n = cfg.downsamplings
        channels = [scaled(64 * 2 ** i, cfg.width) for i in range(n + 1)]

        def content_encoder() -> nn.Sequential:
            downs = [conv(channels[i], channels[i + 1], 3, 2, "instance") for i in range(n)]
            return nn.Sequential(conv(3, channels[0], 7, 1, "none", nn.LeakyReLU()), *downs,
                                 *[ResidualBlock(channels[-1], "instance") for _ in range(cfg.residual_blocks)])

        self.content_a, self.content_b = content_encoder(), content_encoder()
        self.content_shared = nn.Sequential(ResidualBlock(channels[-1], "instance"), TrainingNoise())
        self.attribute_a, self.attribute_b = (AttributeEncoder(cfg.width, cfg.style_dim) for _ in range(2))
        self.gen_shared = ResidualBlock(channels[-1], "instance")
        self.gen_a, self.gen_b = (ConcatGenerator(channels[-1], cfg.residual_blocks, n, cfg.style_dim)
                                  for _ in range(2))
        if training:
            self.d_a, self.d_b, self.d_a2, self.d_b2 = (
                MultiScaleDiscriminator(image_size, cfg.width, cfg.discriminator_layers, cfg.discriminator_scales)
                for _ in range(4))
            self.d_content = ContentDiscriminator(channels[-1], image_size // 2 ** n)

    def content(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.content_shared((self.content_a if domain == "a" else self.content_b)(x))

    def attribute(self, x: torch.Tensor, domain: str) -> tuple[torch.Tensor, torch.Tensor]:
        return (self.attribute_a if domain == "a" else self.attribute_b)(x)

    def generate(self, c: torch.Tensor, z: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.gen_a if domain == "a" else self.gen_b)(self.gen_shared(c), z)

    def style_of(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.attribute(x, domain)[0]

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            style = x.new_zeros(len(x), self.style_dim)
        return self.generate(self.content(x, other(to)), style, to)

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.generate(self.content(x, domain), self.style_of(x, domain), domain)

    def sample_style(self, count: int, domain: str, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(count, self.style_dim, generator=generator)

    def generators(self) -> list[nn.Module]:
        return [self.content_a, self.content_b, self.content_shared, self.attribute_a, self.attribute_b,
                self.gen_shared, self.gen_a, self.gen_b]

    def critics(self) -> list[nn.Module]:
        return [self.d_a, self.d_b, self.d_a2, self.d_b2]

    def phases(self) -> list[Phase]:
        every = self.cfg.content_critic_steps
        return [Phase("content_critic", list(self.d_content.parameters()), critic=True, lr=self.cfg.content_lr,
                      max_grad_norm=self.cfg.content_grad_clip),
                Phase("discriminator", [p for d in self.critics() for p in d.parameters()], critic=True, every=every),
                Phase("generator", [p for g in self.generators() for p in g.parameters()], every=every)]

    def regress(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """mu of E^z(x) through detached weights: the latent regression trains G and E^c, not E^z (official)."""
        encoder = self.attribute_a if domain == "a" else self.attribute_b
        return functional_call(encoder, {k: v.detach() for k, v in encoder.named_parameters()}, (x,))[0]

    def cross_translations(self, a: torch.Tensor, b: torch.Tensor) -> CrossTranslations:
        """What the critics' and the generator's phases both start from: the codes of the encoded halves, the first
        cross translation, and translations under random attributes (DRIT's D' sees one, DRIT++'s two)."""
        c_a, c_b = self.content(a, "a"), self.content(b, "b")
        posterior_a, posterior_b = self.attribute(a, "a"), self.attribute(b, "b")
        z_a, z_b = reparameterise(*posterior_a), reparameterise(*posterior_b)
        z1, z2 = (torch.randn_like(z_a) for _ in range(2))
        randoms = (z1, z2) if self.cfg.weights.mode_seeking > 0 else (z1,)
        return CrossTranslations(c_a, c_b, posterior_a, posterior_b, z_a, z_b, z1, z2,
                                 u=self.generate(c_b, z_a, "a"), v=self.generate(c_a, z_b, "b"),  # B's content in A
                                 random_a=[self.generate(c_b, z, "a") for z in randoms],
                                 random_b=[self.generate(c_a, z, "b") for z in randoms])

    def losses(self, phase: str, batch: Batch) -> Losses:
        w = self.cfg.weights
        half = max(1, len(batch.a) // 2)  # the encoded half, and the other for D' (the official batch of 2)
        a, b = batch.a[:half], batch.b[:half]
        a_other, b_other = (x[half:] if len(x) > half else x for x in (batch.a, batch.b))
        if phase == "content_critic":
            with torch.no_grad():
                c_a, c_b = self.content(a, "a"), self.content(b, "b")
            losses = {"d_content": (1.0, bce(self.d_content(c_b), 1.0) + bce(self.d_content(c_a), 0.0))}
            params = list(self.d_content.parameters())
        elif phase == "discriminator":
            with torch.no_grad():
                t = self.cross_translations(a, b)
            losses = {
                "d_a": (w.gan, bce(self.d_a(a), 1.0) + bce(self.d_a(t.u), 0.0)),
                "d_b": (w.gan, bce(self.d_b(b), 1.0) + bce(self.d_b(t.v), 0.0)),
                "d_a2": (w.gan_random, sum(bce(self.d_a2(a_other), 1.0) + bce(self.d_a2(f), 0.0) for f in t.random_a)),
                "d_b2": (w.gan_random, sum(bce(self.d_b2(b_other), 1.0) + bce(self.d_b2(f), 0.0) for f in t.random_b)),
            }
            params = [p for d in self.critics() for p in d.parameters()]
        else:
            t = self.cross_translations(a, b)
            c_a, c_b, u, v, z1, z2 = t.c_a, t.c_b, t.u, t.v, t.z1, t.z2
            back_a = self.generate(self.content(v, "b"), reparameterise(*self.attribute(u, "a")), "a")
            back_b = self.generate(self.content(u, "a"), reparameterise(*self.attribute(v, "b")), "b")
            losses = {
                "content_gan": (w.content_gan, bce(self.d_content(c_a), 0.5) + bce(self.d_content(c_b), 0.5)),
                "gan": (w.gan, bce(self.d_a(u), 1.0) + bce(self.d_b(v), 1.0)),
                "cross_cycle": (w.cross_cycle, F.l1_loss(back_a, a) + F.l1_loss(back_b, b)),
                "reconstruction": (w.reconstruction, F.l1_loss(self.generate(c_a, t.z_a, "a"), a)
                                   + F.l1_loss(self.generate(c_b, t.z_b, "b"), b)),
                "kl": (w.kl, kl_divergence(*t.posterior_a) + kl_divergence(*t.posterior_b)),
                "kl_content": (w.kl_content, c_a.pow(2).mean() + c_b.pow(2).mean()),
                "gan_random": (w.gan_random, sum(bce(self.d_a2(f), 1.0) for f in t.random_a)
                               + sum(bce(self.d_b2(f), 1.0) for f in t.random_b)),
                "latent": (w.latent, F.l1_loss(self.regress(t.random_a[0], "a"), z1)
                           + F.l1_loss(self.regress(t.random_b[0], "b"), z1)),
            }
            if w.mode_seeking > 0:
                losses["mode_seeking"] = (w.mode_seeking, mode_seeking(*t.random_a, z1, z2)
                                          + mode_seeking(*t.random_b, z1, z2))
            params = [p for g in self.generators() for p in g.parameters()]
        if w.weight_decay > 0:
            losses["weight_decay"] = (w.weight_decay / 2, squared_norm(params))
        return losses


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * (0.5 * logvar).exp()


def mode_seeking(x1: torch.Tensor, x2: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """DRIT++'s (Mao et al.'s) regulariser: small when outputs move at least as much as their codes do."""
    return 1 / ((x1 - x2).abs().mean() / (z1 - z2).abs().mean() + 1e-5)
