"""DualGAN (Yi, Zhang, Tan and Gong, ICCV'17): a primal and a dual GAN that close a loop between two domains.

    G_A: U -> V (g_ab), G_B: V -> U (g_ba); the critic D_A judges V (d_b here), D_B judges U (d_a here)
    l^d_A(u, v)  = D_A(G_A(u)) - D_A(v)                            WGAN critics, weights clipped to [-c, c]
    l^d_B(u, v)  = D_B(G_B(v)) - D_B(u)
    l^g(u, v)    = lambda_U |u - G_B(G_A(u))|_1 + lambda_V |v - G_A(G_B(v))|_1 - D_A(G_A(u)) - D_B(G_B(v))

Training follows the paper's Algorithm 1 (WGAN's): RMSProp for generators and critics, the critics updated at
every step and clipped after each update, the generators at every n_critic-th step (Phase(every=n_critic)); the
critic phase runs first and translates with the current generators itself, since the generators' phase does not
run at every step. Mean absolute error per pixel, as the official code (reduce_mean).

Networks, as the paper: generators are pix2pix's U-Net (skip connections between mirrored encoder and decoder
stages, down to 1x1: models/nets.py unet_generator); critics are the PatchGAN, without sigmoid (nets.py
patch_discriminator, 70x70 at 64 px and above, one layer fewer at 32 px). Instance norm in both: the official
code's `batch_norm` normalises each image over its own height and width, which is instance norm.

Defaults and where they come from: lambda_U = lambda_V = 500 (the official code's default; the paper: "typically
within [100, 1000]"); n_critic = 2 (the paper: 2 to 4; the official code's later default is 1); c = 0.01 (the
official default; the paper: in [0.01, 0.1]); the learning rate 5e-5 for both (the official default; in the
presets, train.lr and train.discriminator_lr), constant; dropout 0 (the official default; when > 0, on the three
innermost decoder stages, as the official code; pix2pix's sit one stage further out).

Options beyond the paper (the official code's later `GAN_type`, and shared with CycleGAN): `gan_mode` wgan (the
paper's) | wgan-gp (no clipping; Gulrajani et al.'s gradient penalty, weight 10, the official gamma) | lsgan |
vanilla (the official 'classic': sigmoid cross-entropy); `spectral_norm` on the critics' convs (Miyato et al.).
RMSProp and n_critic apply in every mode; clipping only with wgan, as in the official code.

Where this differs from the official code: 4x4 kernels (pix2pix's; the official code used 5x5, later 3x3); no
norm on the U-Net's 1x1 innermost stage (pix2pix; the official code's per-image norm there outputs a constant);
PyTorch's default initialisation (the official: N(0, 0.02)) and RMSprop's smoothing 0.99 (the official
TensorFlow decay: 0.9), as the Trainer builds every RMSprop phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import GAN_MODES, check_gan_mode, gan_loss, gradient_penalty
from xgan.models.nets import patch_discriminator, unet_generator


@dataclass
class DualGANWeights:
    gan: float = 1.0  # the generators' adversarial terms, -D_A(G_A(u)) - D_B(G_B(v))
    reconstruction_a: float = 500.0  # lambda_U: |u - G_B(G_A(u))|_1 (official lambda_A)
    reconstruction_b: float = 500.0  # lambda_V: |v - G_A(G_B(v))|_1 (official lambda_B)
    gradient_penalty: float = 10.0  # with gan_mode=wgan-gp only (the official gamma)


@dataclass
class DualGANConfig:
    name: str = "dualgan"
    width: float = 1.0  # multiplies every channel count (1.0: 64 filters in the first layer, the official gcn/dcn)
    norm: str = "instance"
    dropout: float = 0.0  # on the three innermost U-Net decoder stages
    gan_mode: str = "wgan"  # wgan (the paper's) | wgan-gp | lsgan | vanilla
    clip: float = 0.01  # c: the critics' weights are clamped to [-c, c] after each update (gan_mode=wgan only)
    n_critic: int = 2  # critic updates per generator update
    spectral_norm: bool = False  # on the critics' convs
    weights: DualGANWeights = field(default_factory=DualGANWeights)

    def __post_init__(self) -> None:
        check_gan_mode(self.gan_mode, tuple(GAN_MODES))
        if self.n_critic < 1:
            raise ValueError(f"model.n_critic must be >= 1, not {self.n_critic}")
        if not self.clip >= 0:
            raise ValueError(f"model.clip must be >= 0 (0: no clipping), not {self.clip}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"model.dropout must be in [0, 1), not {self.dropout}")


class DualGAN(TranslationModel):
    config_class = DualGANConfig

    def __init__(self, cfg: DualGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.kind = check_gan_mode(cfg.gan_mode)
        self.g_ab = unet_generator(image_size, cfg.width, cfg.norm, cfg.dropout)  # G_A: U -> V
        self.g_ba = unet_generator(image_size, cfg.width, cfg.norm, cfg.dropout)  # G_B: V -> U
        if not training:
            return  # translation needs the generators only
        # d_b judges domain B (V): the paper's D_A; d_a judges domain A (U): the paper's D_B
        self.d_a, self.d_b = (patch_discriminator(image_size, cfg.width, cfg.norm, cfg.spectral_norm) for _ in range(2))

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.g_ab(x) if to == "b" else self.g_ba(x)

    def phases(self) -> list[Phase]:
        clip = self.cfg.clip if self.cfg.gan_mode == "wgan" else 0.0
        return [Phase("critic", [*self.d_a.parameters(), *self.d_b.parameters()], critic=True, optimizer="rmsprop",
                      clip=clip),
                Phase("generator", [*self.g_ab.parameters(), *self.g_ba.parameters()], optimizer="rmsprop",
                      every=self.cfg.n_critic)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        if phase == "critic":
            return self.critic_losses(batch.a, batch.b)
        return self.generator_losses(batch.a, batch.b)

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        w = self.cfg.weights
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        return {
            "gan": (w.gan, gan_loss(self.d_b(fake_b), True, self.kind) + gan_loss(self.d_a(fake_a), True, self.kind)),
            "reconstruction_a": (w.reconstruction_a, F.l1_loss(self.g_ba(fake_b), a)),
            "reconstruction_b": (w.reconstruction_b, F.l1_loss(self.g_ab(fake_a), b)),
        }

    def critic_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        with torch.no_grad():  # the critics' own translations: the generators' phase runs only every n_critic steps
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        losses: Losses = {}
        for name, critic, real, fake in (("d_a", self.d_a, a, fake_a), ("d_b", self.d_b, b, fake_b)):
            losses[name] = (1.0, gan_loss(critic(real), True, self.kind) + gan_loss(critic(fake), False, self.kind))
            if self.cfg.gan_mode == "wgan-gp":
                losses[f"{name}_gp"] = (self.cfg.weights.gradient_penalty, gradient_penalty(critic, real, fake))
        return losses
