"""CycleGAN (Zhu et al., ICCV'17): two generators and two discriminators, pixel-level cycle consistency.

    G: A -> B, F: B -> A
    L_GAN   = |D_B(G(a)) - 1|^2 + |D_A(F(b)) - 1|^2                 least squares (LSGAN)
    L_cycle = lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
    L_idt   = lambda * lambda_idt (|G(b) - b|_1 + |F(a) - a|_1)     optional
    L_D     = (|D(real) - 1|^2 + |D(pool(fake))|^2) / 2, for D_A and D_B

Generators: 'resnet' (Johnson et al.: c7s1-64, d128, d256, residual blocks at 256 channels, u128, u64, c7s1-3;
6 blocks up to 128 px, 9 at 256 px), or 'encoder_decoder', DiscoGAN's 4x4 conv stack down to 4x4 and back
(seed 002's "DiscoGAN based", for 64 px). Discriminator: the PatchGAN (C64-C128-C256-C512, then one channel
per overlapping patch), one layer fewer at 32 px. Instance norm throughout, as in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Losses, TranslationModel
from xgan.models.layers import ImagePool, down, downsamplings, gan_loss, make_norm, scaled, up

GENERATORS = ("resnet", "encoder_decoder")


@dataclass
class CycleGANWeights:
    gan: float = 1.0
    cycle: float = 10.0  # lambda
    identity: float = 0.5  # lambda_idt, a fraction of lambda; 0 switches the identity loss off


@dataclass
class CycleGANConfig:
    name: str = "cyclegan"
    generator: str = "resnet"  # resnet | encoder_decoder (DiscoGAN)
    width: float = 1.0  # multiplies every channel count (1.0: 64 filters in the first layer)
    residual_blocks: int = 0  # 0: 6 up to 128 px, 9 above
    norm: str = "instance"
    pool_size: int = 50
    weights: CycleGANWeights = field(default_factory=CycleGANWeights)

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ValueError(f"model.generator must be one of {GENERATORS}, not '{self.generator}'")


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), make_norm(norm, channels), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), make_norm(norm, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def resnet_generator(image_size: int, width: float, blocks: int, norm: str) -> nn.Sequential:
    c1, c2, c3 = scaled(64, width), scaled(128, width), scaled(256, width)
    blocks = blocks or (9 if image_size >= 256 else 6)
    return nn.Sequential(
        nn.ReflectionPad2d(3), nn.Conv2d(3, c1, 7), make_norm(norm, c1), nn.ReLU(inplace=True),
        nn.Conv2d(c1, c2, 3, 2, 1), make_norm(norm, c2), nn.ReLU(inplace=True),
        nn.Conv2d(c2, c3, 3, 2, 1), make_norm(norm, c3), nn.ReLU(inplace=True),
        *[ResidualBlock(c3, norm) for _ in range(blocks)],
        nn.ConvTranspose2d(c3, c2, 3, 2, 1, output_padding=1), make_norm(norm, c2), nn.ReLU(inplace=True),
        nn.ConvTranspose2d(c2, c1, 3, 2, 1, output_padding=1), make_norm(norm, c1), nn.ReLU(inplace=True),
        nn.ReflectionPad2d(3), nn.Conv2d(c1, 3, 7), nn.Tanh())


def encoder_decoder_generator(image_size: int, width: float, norm: str) -> nn.Sequential:
    """DiscoGAN: 4x4 stride-2 convs 64-128-256-512 down to 4x4 (at 64 px), transposed convs back up to pixels."""
    stages = downsamplings(image_size)
    channels = [scaled(min(64 * 2 ** i, 512), width) for i in range(stages)]
    encoder = [down(c_in, c_out, norm, first=i == 0) for i, (c_in, c_out) in enumerate(zip([3, *channels], channels))]
    decoder = [up(c_in, c_out, norm, last=c_out == 3) for c_in, c_out in zip(channels[::-1], [*channels[-2::-1], 3])]
    return nn.Sequential(*encoder, *decoder)


def patch_discriminator(image_size: int, width: float, norm: str) -> nn.Sequential:
    """PatchGAN: 4x4 convs, stride 2 then 1, one real/fake score per receptive field (70x70 at 3 layers)."""
    layers = 3 if image_size >= 64 else 2
    channels = [scaled(64 * 2 ** i, width) for i in range(layers + 1)]
    stack = [nn.Conv2d(3, channels[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
    for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
        stride = 2 if i < layers - 1 else 1
        stack += [nn.Conv2d(c_in, c_out, 4, stride, 1), make_norm(norm, c_out), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*stack, nn.Conv2d(channels[-1], 1, 4, 1, 1))


class CycleGAN(TranslationModel):
    config_class = CycleGANConfig

    def __init__(self, cfg: CycleGANConfig, image_size: int, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg

        def generator() -> nn.Sequential:
            if cfg.generator == "resnet":
                return resnet_generator(image_size, cfg.width, cfg.residual_blocks, cfg.norm)
            return encoder_decoder_generator(image_size, cfg.width, cfg.norm)

        self.g_ab, self.g_ba = generator(), generator()
        self.d_a, self.d_b = (patch_discriminator(image_size, cfg.width, cfg.norm) for _ in range(2))
        shape = (3, image_size, image_size)
        self.pool_a, self.pool_b = ImagePool(cfg.pool_size, shape), ImagePool(cfg.pool_size, shape)
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return self.g_ab(x) if to == "b" else self.g_ba(x)

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"generator": [*self.g_ab.parameters(), *self.g_ba.parameters()],
                "discriminator": [*self.d_a.parameters(), *self.d_b.parameters()]}

    def losses(self, phase: str, a: torch.Tensor, b: torch.Tensor, labels_a: torch.Tensor | None = None) -> Losses:
        return self.generator_losses(a, b) if phase == "generator" else self.discriminator_losses(a, b)

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        w = self.cfg.weights
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        self._fakes = (fake_a.detach(), fake_b.detach())
        losses: Losses = {
            "gan": (w.gan, gan_loss(self.d_b(fake_b), True, "lsgan") + gan_loss(self.d_a(fake_a), True, "lsgan")),
            "cycle": (w.cycle, F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b)),
        }
        if w.identity > 0:
            losses["identity"] = (w.cycle * w.identity, F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a))
        return losses

    def discriminator_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        if self._fakes is None:
            return {}
        fake_a, fake_b = self._fakes
        losses: Losses = {}
        for name, judge, pool, real, fake in (("d_a", self.d_a, self.pool_a, a, fake_a),
                                              ("d_b", self.d_b, self.pool_b, b, fake_b)):
            losses[name] = (0.5, gan_loss(judge(real), True, "lsgan") + gan_loss(judge(pool.query(fake)), False, "lsgan"))
        return losses
