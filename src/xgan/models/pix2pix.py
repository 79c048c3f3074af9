"""pix2pix (Isola, Zhu, Zhou and Efros, "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR'17): a conditional GAN trained on pairs (x, y), x of domain A and y its counterpart in B.

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_x[log(1 - D(x, G(x)))]
    L_L1(G)      = E_{x,y}[|y - G(x)|_1]
    G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G),     lambda = 100

D sees the input beside the image in channels (6 channels: conditional, unlike CycleGAN's critics) and is a
PatchGAN: one score per N x N patch (N = 1: PixelGAN, 16, 34, 70 (the paper's choice), 142, 286 for 1x1, 1, 2,
3, 4, 5 layers: `discriminator_layers`, seed 002's comparison of receptive fields). At 32 and 64 px a 70x70
PatchGAN already sees the whole image, so the paper's 286x286 "ImageGAN" is the 3-layer one here; 1 layer (16x16)
and 0 (PixelGAN) are the local critics. As the paper: the generator maximises log D(x, G(x)) (the non-saturating
loss, `gan_mode` vanilla) and D's objective is halved ("divide the objective by 2 while optimizing D").

Networks, as the official code (junyanz/pytorch-CycleGAN-and-pix2pix, models/pix2pix_model.py, networks.py): G is
the U-Net (models/nets.py unet_generator: 4x4 stride-2 convs down to 1x1, skip connections, batch norm, dropout 0.5
on the decoder's three stages above the innermost as the paper's only noise); D the PatchGAN with batch norm.
Adam at 2e-4, beta1 0.5, constant for half the run then linearly to 0 (the presets' train.*).

Where this differs: the generator's phase runs before the critic's, which then judges the same (detached) outputs
(the official code updates D first on one forward pass, then G; one forward serves both either way); dropout is
off at inference (module.eval(); the paper keeps it at test time, which `xgan translate` would make random);
the official U-Net builds num_downs - 5 dropout blocks (3 at 256 px, none at 32 px), here always three; PyTorch's
default initialisation (the official: N(0, 0.02)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import check_gan_mode, gan_loss
from xgan.models.nets import patch_discriminator, unet_generator


@dataclass
class Pix2PixWeights:
    gan: float = 1.0
    l1: float = 100.0  # lambda


@dataclass
class Pix2PixConfig:
    name: str = "pix2pix"
    width: float = 1.0  # multiplies every channel count (1.0: the official ngf = ndf = 64)
    norm: str = "batch"
    dropout: float = 0.5
    discriminator_layers: int = 3  # 0: PixelGAN (1x1); 1, 2, 3: 16, 34, 70 px patches
    gan_mode: str = "vanilla"  # vanilla (the paper's cross-entropy) | lsgan
    weights: Pix2PixWeights = field(default_factory=Pix2PixWeights)


class Pix2Pix(TranslationModel):
    config_class = Pix2PixConfig
    directions = ("b",)
    paired = True

    def __init__(self, cfg: Pix2PixConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.kind = check_gan_mode(cfg.gan_mode, ("vanilla", "lsgan"))
        self.g = unet_generator(image_size, cfg.width, cfg.norm, cfg.dropout, dropout_innermost=False)
        if training:
            self.d = patch_discriminator(image_size, cfg.width, cfg.norm, layers=cfg.discriminator_layers,
                                         in_channels=6)
        self._fake: torch.Tensor | None = None

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if to != "b":
            raise ValueError("pix2pix translates A -> B only (train a second model on the task's B -> A)")
        return self.g(x)

    def phases(self) -> list[Phase]:
        return [Phase("generator", list(self.g.parameters())),
                Phase("discriminator", list(self.d.parameters()), critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        x, y, w = batch.a, batch.b, self.cfg.weights
        if phase == "generator":
            fake = self.g(x)
            self._fake = fake.detach()
            return {"gan": (w.gan, gan_loss(self.d(torch.cat([x, fake], 1)), True, self.kind)),
                    "l1": (w.l1, F.l1_loss(fake, y))}
        real = gan_loss(self.d(torch.cat([x, y], 1)), True, self.kind)
        fake = gan_loss(self.d(torch.cat([x, self._fake], 1)), False, self.kind)
        return {"d": (0.5, real + fake)}
