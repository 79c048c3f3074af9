"""DCGAN (Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", ICLR'16): images of one domain generated from noise, seed 001's first milestone.

    z ~ N(0, I_latent_dim),  x_fake = G(z)
    L_D = -E_x[log D(x)] - E_z[log(1 - D(G(z)))]
    L_G = -E_z[log D(G(z))]                               (the non-saturating generator loss, Goodfellow et al.)

The paper's architecture guidelines, as its Figure 1 and the PyTorch example that follows it: G projects z to
4x4 x 8k channels (a 4x4 transposed conv from 1x1), then fractionally-strided 4x4 convs halve the channels and
double the size up to the image, batch norm and ReLU after each but the last, tanh on the pixels (models/nets.py
decoder_layers with batch norm: XGAN's decoder is this stack); D mirrors it with stride-2 4x4 convs, batch norm on
all but the first, LeakyReLU(0.2), and a 4x4 conv to one logit. No pooling, no fully connected hidden layers.
Adam at 2e-4, beta1 0.5 (the presets' train.*); k = 64 x width.

It trains on one domain of a task (`domain`: B by default, MNIST on digits, Fluent Emoji Flat on emoji) and
translates nothing (directions = ()): `generate(z)` and `xgan sample RUN -n 64` give its images, and evaluation
reports KID and FID of 1,000 generated images (or as many as the real test split holds) against that split.

Where this differs: PyTorch's default initialisation (the paper: N(0, 0.02)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import down, downsamplings, gan_loss, scaled
from xgan.models.nets import decoder_layers


@dataclass
class DCGANConfig:
    name: str = "dcgan"
    width: float = 1.0  # multiplies every channel count (1.0: the paper's 64 x 2^i filters, 512 at 4x4 for 64 px)
    latent_dim: int = 100
    domain: str = "b"  # the task's domain it learns to generate

    def __post_init__(self) -> None:
        if self.domain not in ("a", "b"):
            raise ValueError(f"model.domain must be 'a' or 'b', not {self.domain!r}")
        if self.latent_dim < 1:
            raise ValueError(f"model.latent_dim must be >= 1, not {self.latent_dim}")


def dcgan_features(image_size: int, width: float) -> list[nn.Module]:
    """image -> stride-2 4x4 convs (64, 128, 256, 512 x width ... down to 4x4), batch norm on all but the first."""
    stages = downsamplings(image_size)
    channels = [scaled(512 // 2 ** (stages - 1 - i), width) for i in range(stages)]
    return [down(c_in, c_out, "batch", first=i == 0) for i, (c_in, c_out) in enumerate(zip([3, *channels], channels))]


def dcgan_discriminator(image_size: int, width: float, outputs: int = 1) -> nn.Sequential:
    """dcgan_features, then a 4x4 conv to `outputs` logits (1: real or fake; AC-GAN adds its classes')."""
    convs = dcgan_features(image_size, width)
    return nn.Sequential(*convs, nn.Conv2d(convs[-1][0].out_channels, outputs, 4), nn.Flatten())


class DCGAN(TranslationModel):
    config_class = DCGANConfig
    directions = ()

    def __init__(self, cfg: DCGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_dim, self.generated_domain = cfg.latent_dim, cfg.domain
        self.g = nn.Sequential(*decoder_layers(image_size, cfg.latent_dim, cfg.width, "batch"))
        if training:
            self.d = dcgan_discriminator(image_size, cfg.width)
        self._fake: torch.Tensor | None = None

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.g(z)

    def phases(self) -> list[Phase]:
        return [Phase("generator", list(self.g.parameters())),
                Phase("discriminator", list(self.d.parameters()), critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        real = batch.b if self.cfg.domain == "b" else batch.a
        if phase == "generator":
            fake = self.g(self.sample_latent(len(real)).to(real.device))
            self._fake = fake.detach()
            return {"gan": (1.0, gan_loss(self.d(fake), True, "bce"))}
        return {"d": (1.0, gan_loss(self.d(real), True, "bce") + gan_loss(self.d(self._fake), False, "bce"))}
