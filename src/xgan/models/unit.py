"""UNIT, unsupervised image-to-image translation networks (Liu, Breuel & Kautz, NeurIPS'17): two VAE-GANs whose
encoders end in shared layers and whose decoders begin with shared layers, so both domains map to one latent space.

    h_d = E_d(x_d) (the mean; the code's posterior is N(h_d, I)),  z_d = h_d + n, n ~ N(0, I)
    x_dd = G_d(z_d) (reconstruction),  x_ab = G_b(z_a), x_ba = G_a(z_b) (translation)
    x_aba = G_a(E_b(x_ab) + n'),  x_bab = G_b(E_a(x_ba) + n') (cycle)

    L_G = l_gan  (sum_s |D_a,s(x_ba) - 1|^2 + |D_b,s(x_ab) - 1|^2)
        + l_rec  (|x_aa - x_a|_1 + |x_bb - x_b|_1)           + l_kl  (mean h_a^2 + mean h_b^2)
        + l_cyc  (|x_aba - x_a|_1 + |x_bab - x_b|_1)          + l_kl_cyc (mean E_b(x_ab)^2 + mean E_a(x_ba)^2)
    L_D = l_gan sum_s (|D_s(x) - 1|^2 + |D_s(fake.detach())|^2), for D_a and D_b

mean h^2 is the KL divergence of N(h, I) from N(0, I) up to its constant and scale (the official code's term).
Each step updates the discriminators first, then the encoders and decoders, on the same batch; Adam's weight decay
(1e-4) is the loss term weight_decay/2 |theta|^2 of each phase's parameters.

Layers (the official code, mingyuliutw/UNIT and NVlabs/MUNIT): E = c7s1-64, `downsamplings` 4x4 stride-2 convs
doubling the channels, `residual_blocks` residual blocks, instance norm, ReLU, reflection padding; G = residual
blocks, then per upsampling nearest x2 and a 5x5 conv with layer norm, then c7s1-3 and tanh; D = multi-scale patch
critics (nets.MultiScaleDiscriminator), LSGAN summed over scales. The paper's weight sharing: the encoders' last
`shared_blocks` residual blocks and the decoders' first are one set of weights (the release code of the paper
shares one block each; the current official code, which otherwise we follow, shares none: `shared_blocks: 0`).
Weights: the official code's 1 / 10 / 0.01 / 10 / 0.01 (the paper's 10 / 100 / 0.1 / 100 / 0.1 scaled by 1/10).
The shared embedding (`encode`) is h flattened: C x (size / 2^downsamplings)^2 values.
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
class UNITWeights:
    gan: float = 1.0
    reconstruction: float = 10.0
    kl: float = 0.01
    cycle: float = 10.0
    kl_cycle: float = 0.01
    weight_decay: float = 1e-4  # the official Adam weight_decay, as a loss term; 0: off


@dataclass
class UNITConfig:
    name: str = "unit"
    width: float = 1.0  # multiplies every channel count (1.0: the official 64 filters first)
    downsamplings: int = 2
    residual_blocks: int = 4  # per encoder and per decoder, the shared ones included
    shared_blocks: int = 1  # the encoders' last and the decoders' first residual blocks, shared by both domains
    discriminator_layers: int = 4
    discriminator_scales: int = 3
    weights: UNITWeights = field(default_factory=UNITWeights)

    def __post_init__(self) -> None:
        if not 0 <= self.shared_blocks <= self.residual_blocks:
            raise ValueError(f"model.shared_blocks must be in [0, model.residual_blocks={self.residual_blocks}], "
                             f"not {self.shared_blocks}")


class UNIT(TranslationModel):
    config_class = UNITConfig

    def __init__(self, cfg: UNITConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        n, channels = cfg.downsamplings, [scaled(64 * 2 ** i, cfg.width) for i in range(cfg.downsamplings + 1)]
        self.latent_shape = (channels[-1], image_size // 2 ** n, image_size // 2 ** n)
        private = cfg.residual_blocks - cfg.shared_blocks

        def encoder() -> nn.Sequential:
            downs = [conv(channels[i], channels[i + 1], 4, 2, "instance") for i in range(n)]
            return nn.Sequential(conv(3, channels[0], 7, 1, "instance"), *downs,
                                 *[ResidualBlock(channels[-1], "instance") for _ in range(private)])

        def decoder() -> nn.Sequential:
            ups = [nn.Sequential(nn.Upsample(scale_factor=2), conv(channels[i + 1], channels[i], 5, 1, "layer"))
                   for i in reversed(range(n))]
            return nn.Sequential(*[ResidualBlock(channels[-1], "instance") for _ in range(private)], *ups,
                                 conv(channels[0], 3, 7, 1, "none", nn.Tanh()))

        self.enc_a, self.enc_b, self.dec_a, self.dec_b = encoder(), encoder(), decoder(), decoder()
        self.enc_shared, self.dec_shared = (nn.Sequential(*[ResidualBlock(channels[-1], "instance")
                                                            for _ in range(cfg.shared_blocks)]) for _ in range(2))
        if training:
            self.d_a, self.d_b = (MultiScaleDiscriminator(image_size, cfg.width, cfg.discriminator_layers,
                                                          cfg.discriminator_scales) for _ in range(2))

    def mean(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """h = E_d(x), the latent mean, (N, C, H', W')."""
        return self.enc_shared((self.enc_a if domain == "a" else self.enc_b)(x))

    def generate(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.dec_a if domain == "a" else self.dec_b)(self.dec_shared(z))

    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.mean(x, domain).flatten(1)

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return self.generate(z.view(len(z), *self.latent_shape), domain)

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.generate(self.mean(x, other(to)), to)

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.generate(self.mean(x, domain), domain)

    def generators(self) -> list[nn.Module]:
        return [self.enc_a, self.enc_b, self.enc_shared, self.dec_shared, self.dec_a, self.dec_b]

    def phases(self) -> list[Phase]:
        return [Phase("discriminator", [*self.d_a.parameters(), *self.d_b.parameters()], critic=True),
                Phase("generator", [p for g in self.generators() for p in g.parameters()])]

    def losses(self, phase: str, batch: Batch) -> Losses:
        w, a, b = self.cfg.weights, batch.a, batch.b
        if phase == "discriminator":
            with torch.no_grad():
                h_a, h_b = self.mean(a, "a"), self.mean(b, "b")
                fake_b, fake_a = self.generate(noisy(h_a), "b"), self.generate(noisy(h_b), "a")
            losses = {"d_a": (w.gan, lsgan(self.d_a(a), True) + lsgan(self.d_a(fake_a), False)),
                      "d_b": (w.gan, lsgan(self.d_b(b), True) + lsgan(self.d_b(fake_b), False))}
            params = [*self.d_a.parameters(), *self.d_b.parameters()]
        else:
            h_a, h_b = self.mean(a, "a"), self.mean(b, "b")
            z_a, z_b = noisy(h_a), noisy(h_b)
            fake_b, fake_a = self.generate(z_a, "b"), self.generate(z_b, "a")
            h_ab, h_ba = self.mean(fake_b, "b"), self.mean(fake_a, "a")  # a's code read back from its translation
            losses = {
                "gan": (w.gan, lsgan(self.d_b(fake_b), True) + lsgan(self.d_a(fake_a), True)),
                "reconstruction": (w.reconstruction, F.l1_loss(self.generate(z_a, "a"), a)
                                   + F.l1_loss(self.generate(z_b, "b"), b)),
                "kl": (w.kl, h_a.pow(2).mean() + h_b.pow(2).mean()),
                "cycle": (w.cycle, F.l1_loss(self.generate(noisy(h_ab), "a"), a)
                          + F.l1_loss(self.generate(noisy(h_ba), "b"), b)),
                "kl_cycle": (w.kl_cycle, h_ab.pow(2).mean() + h_ba.pow(2).mean()),
            }
            params = [p for g in self.generators() for p in g.parameters()]
        if w.weight_decay > 0:
            losses["weight_decay"] = (w.weight_decay / 2, squared_norm(params))
        return losses


def noisy(h: torch.Tensor) -> torch.Tensor:
    """A sample of N(h, I): the VAE's reparameterised code with the official code's fixed unit variance."""
    return h + torch.randn_like(h)
