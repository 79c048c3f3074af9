"""pix2pixHD (Wang, Liu, Zhu, Tao, Kautz and Catanzaro, "High-Resolution Image Synthesis and Semantic
Manipulation with Conditional GANs", CVPR'18): pix2pix made coarse-to-fine, trained on pairs (x, y).

    G = {G1, G2}: the global generator G1 works on x downsampled by 2; the local enhancer G2 adds its own
        front-end's features of x to G1's last feature map and finishes at full size
    D_1, D_2, D_3: identical conditional PatchGANs on (x, y) at full size and downsampled by 2 and 4
    L_GAN(G, D_k)   least squares (the official default): D_k minimises 1/2 [(D_k(x, y) - 1)^2 + D_k(x, G(x))^2]
    L_FM(G, D_k)    = sum_i 1/N_i |D_k^(i)(x, y) - D_k^(i)(x, G(x))|_1 over D_k's T intermediate layers
    min_G ( (max_{D_1,D_2,D_3} sum_k L_GAN(G, D_k)) + lambda sum_k L_FM(G, D_k) ),   lambda = 10

As the official code (NVIDIA/pix2pixHD, models/networks.py and pix2pixHD_model.py): each L_FM layer term is an
L1 mean weighted 4 / (n_layers + 1) and each scale 1 / num_D; G1 is a 7x7 conv, `global_downsamplings` stride-2
3x3 convs doubling the channels, `global_blocks` residual blocks, as many stride-2 transposed convs back, (and, in
G1 alone, a 7x7 conv to tanh pixels); G2 is a 7x7 conv and one stride-2 3x3 conv on the full-size input, whose
output is added to G1's last features, then `local_blocks` residual blocks, a transposed conv up, a 7x7 conv to
tanh; instance norm, reflection padding; G1 has twice G2's filters (64 x width in G2's first layer). The critics
are the official NLayerDiscriminator: 4x4 convs with padding 2, `discriminator_layers` stride-2 ones, one
stride-1, then one to a score map, LeakyReLU(0.2), instance norm on all but the first; x beside y in channels.
The scales' inputs are average-pooled (3x3, stride 2). Adam at 2e-4, beta1 0.5; constant, then linearly to 0.

Scaled down for images of 32-64 px (the paper: 2048x1024 street scenes): 2 downsamplings and 6 residual blocks
in G1 (the official 4 and 9 at 1024 px would take its 16 px input below 1x1), G1 and G2 trained together from
the first step (the official niter_fix_global is 0 too, but the paper pre-trains G1 at half resolution first; at
these sizes the two-stage schedule buys little and costs a second run). Left out: the VGG perceptual loss
(ImageNet VGG weights cannot be had offline), instance-boundary maps and the feature encoder (our tasks have no
instance maps), and the official N(0, 0.02) initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import gan_loss, make_norm, scaled
from xgan.models.nets import PyramidCritics, ResidualBlock


@dataclass
class Pix2PixHDWeights:
    gan: float = 1.0
    feature_matching: float = 10.0  # lambda (official lambda_feat)


@dataclass
class Pix2PixHDConfig:
    name: str = "pix2pixhd"
    width: float = 1.0  # multiplies every channel count (1.0: the official ngf = ndf = 64; G1 has 2 x ngf)
    norm: str = "instance"
    global_downsamplings: int = 2  # official n_downsample_global: 4 (at 1024 px)
    global_blocks: int = 6  # official n_blocks_global: 9
    local_blocks: int = 3  # official n_blocks_local
    discriminator_layers: int = 3
    discriminator_scales: int = 3  # official num_D
    weights: Pix2PixHDWeights = field(default_factory=Pix2PixHDWeights)


def conv7(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.ReflectionPad2d(3), nn.Conv2d(c_in, c_out, 7)]


class CoarseToFineGenerator(nn.Module):
    """G1 (global, on the input downsampled by 2) and G2 (local enhancer, full size): G2(x) = up(front(x) + G1(x/2))."""

    def __init__(self, width: float, norm: str, downsamplings: int, global_blocks: int, local_blocks: int) -> None:
        super().__init__()
        ngf, g1 = scaled(64, width), scaled(128, width)
        stack = [*conv7(3, g1), make_norm(norm, g1), nn.ReLU(True)]
        for i in range(downsamplings):
            stack += [nn.Conv2d(g1 * 2 ** i, g1 * 2 ** (i + 1), 3, 2, 1), make_norm(norm, g1 * 2 ** (i + 1)), nn.ReLU(True)]
        stack += [ResidualBlock(g1 * 2 ** downsamplings, norm) for _ in range(global_blocks)]
        for i in reversed(range(downsamplings)):
            stack += [nn.ConvTranspose2d(g1 * 2 ** (i + 1), g1 * 2 ** i, 3, 2, 1, output_padding=1),
                      make_norm(norm, g1 * 2 ** i), nn.ReLU(True)]
        self.global_generator = nn.Sequential(*stack)  # G1 without its conv to pixels: its last features
        self.front = nn.Sequential(*conv7(3, ngf), make_norm(norm, ngf), nn.ReLU(True),
                                   nn.Conv2d(ngf, g1, 3, 2, 1), make_norm(norm, g1), nn.ReLU(True))
        self.back = nn.Sequential(*[ResidualBlock(g1, norm) for _ in range(local_blocks)],
                                  nn.ConvTranspose2d(g1, ngf, 3, 2, 1, output_padding=1), make_norm(norm, ngf),
                                  nn.ReLU(True), *conv7(ngf, 3), nn.Tanh())
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.back(self.front(x) + self.global_generator(self.pool(x)))


class FeatureCritic(nn.Module):
    """The official NLayerDiscriminator with its intermediate features: forward returns every block's output, the
    score map last."""

    def __init__(self, in_channels: int, width: float, norm: str, layers: int) -> None:
        super().__init__()
        channels = [scaled(min(64 * 2 ** i, 512), width) for i in range(layers + 1)]
        blocks = [nn.Sequential(nn.Conv2d(in_channels, channels[0], 4, 2, 2), nn.LeakyReLU(0.2, True))]
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
            stride = 2 if i < layers - 1 else 1
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c_out, 4, stride, 2), make_norm(norm, c_out),
                                        nn.LeakyReLU(0.2, True)))
        blocks.append(nn.Sequential(nn.Conv2d(channels[-1], 1, 4, 1, 2)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class Pix2PixHD(TranslationModel):
    config_class = Pix2PixHDConfig
    directions = ("b",)
    paired = True

    def __init__(self, cfg: Pix2PixHDConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        if image_size % 2 ** (cfg.global_downsamplings + 1):
            raise ValueError(f"pix2pixHD at {image_size} px: the size must divide by 2^(global_downsamplings + 1) = "
                             f"{2 ** (cfg.global_downsamplings + 1)}")
        self.g = CoarseToFineGenerator(cfg.width, cfg.norm, cfg.global_downsamplings, cfg.global_blocks,
                                       cfg.local_blocks)
        if training:
            self.critics = PyramidCritics([FeatureCritic(6, cfg.width, cfg.norm, cfg.discriminator_layers)
                                           for _ in range(cfg.discriminator_scales)])
        self._fake: torch.Tensor | None = None

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if to != "b":
            raise ValueError("pix2pixHD translates A -> B only")
        return self.g(x)

    def judge(self, x: torch.Tensor, y: torch.Tensor) -> list[list[torch.Tensor]]:
        """Every scale's features of the pair (x, y), full size first."""
        return self.critics(torch.cat([x, y], 1))

    def phases(self) -> list[Phase]:
        return [Phase("generator", list(self.g.parameters())),
                Phase("discriminators", list(self.critics.parameters()), critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        x, y, w = batch.a, batch.b, self.cfg.weights
        if phase == "generator":
            fake = self.g(x)
            self._fake = fake.detach()
            judged_fake, judged_real = self.judge(x, fake), self.judge(x, y)
            layer_weight, scale_weight = 4 / (self.cfg.discriminator_layers + 1), 1 / len(self.critics.critics)
            matching = sum(scale_weight * layer_weight * F.l1_loss(f, r.detach())
                           for fakes, reals in zip(judged_fake, judged_real) for f, r in zip(fakes[:-1], reals[:-1]))
            return {"gan": (w.gan, sum(gan_loss(fakes[-1], True, "lsgan") for fakes in judged_fake)),
                    "feature_matching": (w.feature_matching, matching)}
        real = sum(gan_loss(scores[-1], True, "lsgan") for scores in self.judge(x, y))
        fake = sum(gan_loss(scores[-1], False, "lsgan") for scores in self.judge(x, self._fake))
        return {"d": (0.5, real + fake)}
