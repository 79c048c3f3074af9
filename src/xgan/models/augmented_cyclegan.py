"""Augmented CycleGAN (Almahairi et al., ICML'18): CycleGAN between the augmented spaces A x Z_a and B x Z_b, so
that one image maps to many (one per latent code) and the cycles stay invertible.

    z_a, z_b ~ p(z) = N(0, I)  (style_dim each)
    G_AB: A x Z_b -> B,  G_BA: B x Z_a -> A     stochastic generators: z sets every conditional instance norm
    E_A: A x B -> Z_a,   E_B: A x B -> Z_b      latent encoders, given an (A image, B image) pair

  the cycle from (a, z_b):  b~ = G_AB(a, z_b),  z~_a = E_A(a, b~),  a' = G_BA(b~, z~_a),  z'_b = E_B(a, b~)
  the cycle from (b, z_a):  a~ = G_BA(b, z_a),  z~_b = E_B(a~, b),  b' = G_AB(a~, z~_b),  z'_a = E_A(a~, b)

    L_gan          = |D_A(a~) - 1|^2 + |D_B(b~) - 1|^2             images, least squares (LSGAN)
    L_gan_latent   = |D_Za(z~_a) - 1|^2 + |D_Zb(z~_b) - 1|^2       the codes inferred from real images vs the prior
    L_cycle        = |a' - a|_1 + |b' - b|_1                        the images of both augmented cycles
    L_cycle_latent = |z'_a - z_a|_1 + |z'_b - z_b|_1                their codes
    L_G = w_gan L_gan + w_gan_latent L_gan_latent + w_cycle L_cycle + w_cycle_latent L_cycle_latent
    L_D = (|D(real) - 1|^2 + |D(fake)|^2) / 2    for D_A, D_B (real images vs translations) and D_Za, D_Zb (prior
                                                 codes vs inferred ones)

From the official code (aalmah/augmented_cyclegan, edges2shoes_exp): the code size 16 (nlatent); the weights
(image and latent GANs 1, lambda_A = lambda_B = 1, lambda_z_B = 0.025); the latent GAN term on the encoders'
codes (z_gan=1) with deterministic encoders (stoch_enc=0: the code is the encoder's mean, no KL); encoders that see
both images (enc_A_B=1), concatenated in (A, B) order; LSGAN; no image pool; the generator (ngf 32: c7s1-32,
c3s1-64, c3s2-128, 3 residual blocks, up to 64, c3s1-32, c7-3, one stride-2 stage) whose norms are conditional
instance norms, scale and shift each ReLU(W z + c) (non-negative, as there); the residual block conv-CIN-ReLU-conv-
IN, then ReLU of the sum; the encoder (nef 32: k3 stride-2 convs 32-64-128-256 to 4x4 with batch norm, k4 to 1x1,
1x1 to the code); the latent discriminator (MLP ndf 64 x3, batch norm, LeakyReLU 0.2); the image discriminator
(ndf 64: k4 convs s2-s2-s1-s1 to 64-128-256-256, instance norm, then one score per patch); discriminators at lr/5
(the presets' train.discriminator_lr), Adam(beta1 0.5), linear decay over the second half.

Where this differs or the code is silent: the official code augments B only (G_BA deterministic, no E_A or D_Za:
its tasks are one-to-many); this is the paper's full many-to-many model, both sides built the same way. The
official edges domain uses a smaller whole-image discriminator; here both domains get the patch one. Networks use
PyTorch's default initialisation, as the other models here (not N(0, 0.02)); gradient-norm clipping at 500 is not
applied; the generator phase runs before the discriminators' (the official updates D first), as models/cyclegan.py.
The encoder has as many stride-2 stages as reach 4x4 (four at 64 px, as there; fewer at 32). translate() without a
style uses the zero code, the prior's mean, so a translation is a function of its input (evaluation, export);
sample_style draws codes for diverse outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel, other
from xgan.models.layers import downsamplings, gan_loss, make_norm, scaled


@dataclass
class AugmentedCycleGANWeights:
    gan: float = 1.0  # images
    gan_latent: float = 1.0  # codes (official z_gan, weight 1)
    cycle: float = 1.0  # lambda_A = lambda_B
    cycle_latent: float = 0.025  # lambda_z_B


@dataclass
class AugmentedCycleGANConfig:
    name: str = "augcgan"
    style_dim: int = 16  # nlatent: the size of z_a and z_b
    width: float = 1.0  # multiplies every channel count (1.0: ngf = nef = 32, ndf = 64, the official sizes)
    residual_blocks: int = 3
    weights: AugmentedCycleGANWeights = field(default_factory=AugmentedCycleGANWeights)

    def __post_init__(self) -> None:
        if self.style_dim < 1:
            raise ValueError(f"model.style_dim must be >= 1, not {self.style_dim}")


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose per-channel scale and shift are ReLU(W z + c) of the code z (the official code keeps both
    non-negative this way)."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.scale, self.shift = nn.Linear(style_dim, channels), nn.Linear(style_dim, channels)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        scale, shift = F.relu(self.scale(z))[:, :, None, None], F.relu(self.shift(z))[:, :, None, None]
        return F.instance_norm(x) * scale + shift


class Conditioned(nn.ModuleList):
    """Layers applied in order, the conditional ones also given the code z (a ModuleList, not a Sequential: the
    Trainer's train.compile compiles plain Sequentials, which take one input)."""

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, z) if isinstance(layer, (ConditionalInstanceNorm, ConditionalResidualBlock)) else layer(x)
        return x


class ConditionalResidualBlock(nn.Module):
    """reflect-pad, conv3, CIN(z), ReLU, reflect-pad, conv3, IN; then ReLU(x + that), as the official block."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.body = Conditioned([
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), ConditionalInstanceNorm(channels, style_dim),
            nn.ReLU(inplace=True), nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3),
            make_norm("instance", channels)])

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return F.relu(x + self.body(x, z))


def stochastic_generator(style_dim: int, width: float, blocks: int) -> Conditioned:
    """The official CIN ResNet generator: one stride-2 stage, residual blocks at 4 ngf, every norm conditioned on z."""
    c1, c2, c3 = scaled(32, width), scaled(64, width), scaled(128, width)

    def cin(c: int) -> ConditionalInstanceNorm:
        return ConditionalInstanceNorm(c, style_dim)

    return Conditioned([
        nn.ReflectionPad2d(3), nn.Conv2d(3, c1, 7), cin(c1), nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, 3, 1, 1), cin(c2), nn.ReLU(inplace=True),
        nn.Conv2d(c2, c3, 3, 2, 1), cin(c3), nn.ReLU(inplace=True),
        *[ConditionalResidualBlock(c3, style_dim) for _ in range(blocks)],
        nn.ConvTranspose2d(c3, c2, 3, 2, 1, output_padding=1), cin(c2), nn.ReLU(inplace=True),
        nn.Conv2d(c2, c1, 3, 1, 1), cin(c1), nn.ReLU(inplace=True),
        nn.Conv2d(c1, 3, 7, padding=3), nn.Tanh()])


class LatentEncoder(nn.Module):
    """E(a, b) -> z: the pair concatenated (A first), k3 stride-2 convs to 4x4 (batch norm after the first), a k4 conv
    to 1x1 and a 1x1 conv to the code (the official encoder's mean; its log-variance serves only stoch_enc)."""

    def __init__(self, image_size: int, style_dim: int, width: float) -> None:
        super().__init__()
        nef = scaled(32, width)
        channels = [min(nef * 2 ** i, 8 * nef) for i in range(downsamplings(image_size))]
        layers: list[nn.Module] = [nn.Conv2d(6, channels[0], 3, 2, 1), nn.ReLU(inplace=True)]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        layers += [nn.Conv2d(channels[-1], 8 * nef, 4, bias=False), nn.BatchNorm2d(8 * nef), nn.ReLU(inplace=True),
                   nn.Conv2d(8 * nef, style_dim, 1), nn.Flatten()]
        self.net = nn.Sequential(*layers)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([a, b], dim=1))


def latent_discriminator(style_dim: int, width: float) -> nn.Sequential:
    """The official DiscriminatorLatent: three Linear-BatchNorm-LeakyReLU layers of ndf, then one score."""
    ndf = scaled(64, width)
    dims = [style_dim, ndf, ndf, ndf]
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims, dims[1:]):
        layers += [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers, nn.Linear(ndf, 1))


def image_discriminator(width: float) -> nn.Sequential:
    """The official image discriminator (its D_B): k4 convs, stride 2, 2, 1, 1 at ndf x (1, 2, 4, 4), instance norm
    after all but the first, then one score per patch."""
    c = [scaled(64 * m, width) for m in (1, 2, 4, 4)]
    layers: list[nn.Module] = [nn.Conv2d(3, c[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    for c_in, c_out, stride in zip(c, c[1:], (2, 1, 1)):
        layers += [nn.Conv2d(c_in, c_out, 4, stride, 1), make_norm("instance", c_out), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers, nn.Conv2d(c[-1], 1, 4, 1, 1))


class AugmentedCycleGAN(TranslationModel):
    config_class = AugmentedCycleGANConfig

    def __init__(self, cfg: AugmentedCycleGANConfig, image_size: int, training: bool = True,
                 pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.style_dim = cfg.style_dim
        self.g_ab = stochastic_generator(cfg.style_dim, cfg.width, cfg.residual_blocks)  # A x Z_b -> B
        self.g_ba = stochastic_generator(cfg.style_dim, cfg.width, cfg.residual_blocks)  # B x Z_a -> A
        self._cached: tuple[torch.Tensor, ...] | None = None
        if not training:
            return  # translation needs the generators only
        self.e_a = LatentEncoder(image_size, cfg.style_dim, cfg.width)
        self.e_b = LatentEncoder(image_size, cfg.style_dim, cfg.width)
        self.d_a, self.d_b = image_discriminator(cfg.width), image_discriminator(cfg.width)
        self.d_za = latent_discriminator(cfg.style_dim, cfg.width)
        self.d_zb = latent_discriminator(cfg.style_dim, cfg.width)

    def sample_style(self, count: int, domain: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """count codes z ~ N(0, I) of `domain` (z_b: translate(x, to='b', style=...) is G_AB(x, z_b)), on the CPU."""
        other(domain)
        return torch.randn(count, self.style_dim, generator=generator)

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        """G_AB(x, style) for to='b', G_BA(x, style) for to='a'. style: (n, style_dim), or one code (style_dim,) or
        (1, style_dim) for all n; None: the zero code, the prior's mean, so that a translation without a style is a
        function of x (evaluation and export depend on that); several codes from sample_style give several outputs."""
        other(to)  # refuses anything but 'a' and 'b'
        generator = self.g_ab if to == "b" else self.g_ba
        if style is None:
            z = x.new_zeros(x.shape[0], self.style_dim)
        else:
            z = style.to(x.device, x.dtype).reshape(-1, self.style_dim).expand(x.shape[0], -1)  # one code broadcasts
        return generator(x, z)

    def phases(self) -> list[Phase]:
        # one optimiser for generators and encoders: the official G_A and G_B optimisers step on the same loss
        return [Phase("generator", [*self.g_ab.parameters(), *self.g_ba.parameters(), *self.e_a.parameters(),
                                    *self.e_b.parameters()]),
                Phase("discriminator", [*self.d_a.parameters(), *self.d_b.parameters(), *self.d_za.parameters(),
                                        *self.d_zb.parameters()], critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        if phase == "generator":
            return self.generator_losses(batch.a, batch.b)
        return self.discriminator_losses(batch.a, batch.b)

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor,
                         z_a: torch.Tensor | None = None, z_b: torch.Tensor | None = None) -> Losses:
        """The two augmented cycles on this batch; z_a, z_b: the prior codes (drawn when None)."""
        w = self.cfg.weights
        z_a = self.sample_style(len(b), "a").to(b.device) if z_a is None else z_a
        z_b = self.sample_style(len(a), "b").to(a.device) if z_b is None else z_b
        fake_b, fake_a = self.g_ab(a, z_b), self.g_ba(b, z_a)
        code_a, code_b = self.e_a(a, fake_b), self.e_b(fake_a, b)  # z~: the codes of the real images
        rec_a, rec_b = self.g_ba(fake_b, code_a), self.g_ab(fake_a, code_b)
        rec_z_b, rec_z_a = self.e_b(a, fake_b), self.e_a(fake_a, b)
        self._cached = (fake_a.detach(), fake_b.detach(), code_a.detach(), code_b.detach(), z_a, z_b)
        return {
            "gan": (w.gan, gan_loss(self.d_a(fake_a), True, "lsgan") + gan_loss(self.d_b(fake_b), True, "lsgan")),
            "gan_latent": (w.gan_latent, gan_loss(self.d_za(code_a), True, "lsgan")
                           + gan_loss(self.d_zb(code_b), True, "lsgan")),
            "cycle": (w.cycle, F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)),
            "cycle_latent": (w.cycle_latent, F.l1_loss(rec_z_a, z_a) + F.l1_loss(rec_z_b, z_b)),
        }

    def discriminator_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        """Real images vs this step's translations; the prior codes it drew vs the codes the encoders inferred."""
        if self._cached is None:
            return {}
        fake_a, fake_b, code_a, code_b, z_a, z_b = self._cached
        losses: Losses = {}
        for name, judge, real, fake in (("d_a", self.d_a, a, fake_a), ("d_b", self.d_b, b, fake_b),
                                        ("d_za", self.d_za, z_a, code_a), ("d_zb", self.d_zb, z_b, code_b)):
            losses[name] = (0.5, gan_loss(judge(real), True, "lsgan") + gan_loss(judge(fake), False, "lsgan"))
        return losses
