"""BicycleGAN (Zhu, Zhang, Pathak, Darrell, Efros, Wang and Shechtman, "Toward Multimodal Image-to-Image
Translation", NeurIPS'17): pix2pix with a latent code z, so one input has many outputs, trained on pairs (A, B).

Two cycles share the generator G(A, z) and the encoder E(B) = (mu, log sigma^2):

    cVAE-GAN (B -> z -> B'):   z = mu + sigma * eps,  (mu, log sigma^2) = E(B),  B' = G(A, z)
        L_GAN^VAE = E[log D(B)] + E[log(1 - D(G(A, z)))]
        L_1^VAE   = |B - G(A, z)|_1
        L_KL      = D_KL(N(mu, sigma^2) || N(0, I)) = -1/2 sum(1 + log sigma^2 - mu^2 - sigma^2)
    cLR-GAN (z -> B' -> z'):   z ~ N(0, I),  B' = G(A, z)
        L_GAN     = E[log D2(B)] + E[log(1 - D2(G(A, z)))]
        L_1^latent = |z - mu(E(G(A, z)))|_1
    G*, E* = arg min max  L_GAN^VAE + L_GAN + lambda L_1^VAE + lambda_latent L_1^latent + lambda_KL L_KL
    with lambda = 10, lambda_latent = 0.5, lambda_KL = 0.01 (the official defaults; the paper's lambda_latent and
    lambda_KL are the same). L_1^latent trains G alone: "we only update G and not E" (section 3.4), which here
    means E's weights are read detached in that term (torch.func.functional_call), the official two-step update
    in one. The KL is summed over the batch and z's dimensions, as the official code.

Each step splits the batch as the official code: the first half feeds the cVAE-GAN (its B encoded), the second
half's B are D2's real images, and both fakes take the first half's A. D and D2 are least-squares critics
(`gan_mode` lsgan, the official default), each two PatchGANs (70x70 with 3 layers, the second on the image
average-pooled by 2 with half the filters: the official basic_256_multi, num_Ds 2), unconditional (they see B
only: the official conditional_D is off). G is pix2pix's U-Net with z tiled and concatenated to the input of
every level (the official where_add 'all'; 'input' as an option), instance norm, no dropout; E is the official
E_ResNet: a 4x4 stride-2 conv, residual blocks that halve the size (norm, ReLU, 3x3 conv, norm, ReLU, 3x3 conv,
2x2 average pool, beside a pooled 1x1 shortcut; channels 64 x min(n, 4)) down to 8x8 (one block at 32 px, four
at 256 as resnet_256), ReLU, the 8x8 average, and two linear heads for mu and log sigma^2. nz = 8.

Translation: translate(a, "b", z) with z from sample_style (N(0, I): the diverse outputs) or style_of(b) (mu of
E(b): the output in the style of a reference B); without z, the prior's mean z = 0 (deterministic).
Where this differs: PyTorch's default initialisation (the official: Xavier); batch 2 there, the presets' 32 here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import check_gan_mode, make_norm, multiscale_gan_loss, scaled
from xgan.models.nets import PyramidCritics, patch_discriminator, unet_generator


@dataclass
class BicycleGANWeights:
    gan: float = 1.0  # lambda_GAN: D on G(A, E(B))
    gan_random: float = 1.0  # lambda_GAN2: D2 on G(A, z ~ N(0, I))
    l1: float = 10.0  # lambda
    latent: float = 0.5  # lambda_latent (official lambda_z)
    kl: float = 0.01  # lambda_KL


@dataclass
class BicycleGANConfig:
    name: str = "bicyclegan"
    width: float = 1.0  # multiplies every channel count (1.0: the official ngf = ndf = nef = 64)
    nz: int = 8
    add_z: str = "all"  # where z joins G: every U-Net level ("all", the official default) or its input only
    norm: str = "instance"
    discriminator_layers: int = 3  # per scale, as many as leave an output (at 32 px: 3 on the image, 2 at 16 px)
    discriminator_scales: int = 2  # the official num_Ds
    gan_mode: str = "lsgan"  # lsgan (the official default) | vanilla
    weights: BicycleGANWeights = field(default_factory=BicycleGANWeights)


class ResidualDown(nn.Module):
    """E_ResNet's block: norm, ReLU, 3x3 conv, norm, ReLU, 3x3 conv, 2x2 average pool, plus a pooled 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(make_norm(norm, c_in), nn.ReLU(), nn.Conv2d(c_in, c_in, 3, 1, 1),
                                  make_norm(norm, c_in), nn.ReLU(), nn.Conv2d(c_in, c_out, 3, 1, 1), nn.AvgPool2d(2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class LatentEncoder(nn.Module):
    """B image -> (mu, log sigma^2), each (N, nz)."""

    def __init__(self, image_size: int, width: float, nz: int, norm: str) -> None:
        super().__init__()
        blocks = max(0, (image_size // 2).bit_length() - 4)  # halvings from image_size / 2 down to 8x8
        channels = [scaled(64 * min(n, 4), width) for n in range(1, blocks + 2)]
        stack = [nn.Conv2d(3, channels[0], 4, 2, 1)]
        stack += [ResidualDown(c_in, c_out, norm) for c_in, c_out in zip(channels, channels[1:])]
        self.body = nn.Sequential(*stack, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.mu, self.logvar = nn.Linear(channels[-1], nz), nn.Linear(channels[-1], nz)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)


def two_scale_critic(image_size: int, width: float, norm: str, layers: int, scales: int) -> PyramidCritics:
    """`scales` PatchGANs, the s-th on the image average-pooled s times with 1/2^s of the filters (the official
    D_NLayersMulti). A scale too small for `layers` stride-2 convs has as many as leave an output (the official
    code would fail)."""
    sizes = [-(-image_size // 2 ** s) for s in range(scales)]
    fit = [min(layers, max(0, (size // 3).bit_length() - 1)) for size in sizes]  # as many layers as have output
    return PyramidCritics([patch_discriminator(size, width / 2 ** s, norm, layers=n)
                           for s, (size, n) in enumerate(zip(sizes, fit))])


class BicycleGAN(TranslationModel):
    config_class = BicycleGANConfig
    directions = ("b",)
    paired = True

    def __init__(self, cfg: BicycleGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg, self.style_dim = cfg, cfg.nz
        self.kind = check_gan_mode(cfg.gan_mode, ("lsgan", "vanilla"))
        self.g = unet_generator(image_size, cfg.width, cfg.norm, nz=cfg.nz, add_z=cfg.add_z)
        self.e = LatentEncoder(image_size, cfg.width, cfg.nz, cfg.norm)  # also inference's reference styles
        if training:
            self.d, self.d2 = (two_scale_critic(image_size, cfg.width, cfg.norm, cfg.discriminator_layers,
                                                cfg.discriminator_scales) for _ in range(2))
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if to != "b":
            raise ValueError("BicycleGAN translates A -> B only")
        z = style if style is not None else x.new_zeros(len(x), self.cfg.nz)
        return self.g(x, z.to(x.dtype))

    def sample_style(self, count: int, domain: str, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(count, self.cfg.nz, generator=generator)

    def style_of(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.e(x)[0]

    def phases(self) -> list[Phase]:
        return [Phase("generator_encoder", [*self.g.parameters(), *self.e.parameters()]),
                Phase("discriminators", [*self.d.parameters(), *self.d2.parameters()], critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        half = len(batch.a) // 2
        a, b_encoded, b_random = batch.a[:half], batch.b[:half], batch.b[half:2 * half]
        w = self.cfg.weights
        if phase == "generator_encoder":
            mu, logvar = self.e(b_encoded)
            z_encoded = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            z_random = torch.randn_like(mu)
            fake_encoded, fake_random = self.g(a, z_encoded), self.g(a, z_random)
            self._fakes = fake_encoded.detach(), fake_random.detach()
            frozen_e = {name: p.detach() for name, p in self.e.named_parameters()}
            mu_back = functional_call(self.e, frozen_e, (fake_random,))[0]  # L_1^latent trains G, not E
            return {"gan": (w.gan, multiscale_gan_loss(self.d(fake_encoded), True, self.kind)),
                    "gan_random": (w.gan_random, multiscale_gan_loss(self.d2(fake_random), True, self.kind)),
                    "l1": (w.l1, F.l1_loss(fake_encoded, b_encoded)),
                    "latent": (w.latent, F.l1_loss(mu_back, z_random)),
                    "kl": (w.kl, -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum())}
        fake_encoded, fake_random = self._fakes
        return {"d": (1.0, multiscale_gan_loss(self.d(b_encoded), True, self.kind)
                      + multiscale_gan_loss(self.d(fake_encoded), False, self.kind)),
                "d2": (1.0, multiscale_gan_loss(self.d2(b_random), True, self.kind)
                       + multiscale_gan_loss(self.d2(fake_random), False, self.kind))}
