"""The networks the models are built from, each as its paper or reference implementation draws it.

    encoder_layers, decoder_layers, discriminator   XGAN's layer table (seed 001); DTN's g and D reuse them
    resnet_generator                                 Johnson et al.'s ResNet generator (CycleGAN, CUT, pix2pix's
                                                     unpaired cousins)
    encoder_decoder_generator                        DiscoGAN's 4x4 conv stack down to 4x4 and back
    DiscoGANDiscriminator                            DiscoGAN's conv stack to one logit, with the features that its
                                                     feature-matching loss compares (DiscoGAN, DistanceGAN)
    patch_discriminator                              the PatchGAN of pix2pix and CycleGAN (optionally spectrally
                                                     normalised)
    unet_generator                                   pix2pix's U-Net with skip connections (DualGAN)
    PyramidCritics, MultiScaleDiscriminator          critics at several scales of the image (MUNIT/UNIT's patch
                                                     critics; BicycleGAN's and pix2pixHD's hold PatchGANs)

Primitives (conv stages, norms, gradient reversal, the image pool, GAN losses) are in layers.py.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrizations

from xgan.models.layers import ProjectTo4x4, down, downsamplings, make_norm, scaled, up


def encoder_layers(image_size: int, embedding_dim: int, width: float, norm: str) -> list[nn.Module]:
    """conv stages ending at 4x4x256, then FC -> FC: the last four entries are the ones 'partial' shares."""
    stages = downsamplings(image_size)
    channels = [scaled(256 // 2 ** (stages - 1 - i), width) for i in range(stages)]
    convs = [down(c_in, c_out, norm, first=i == 0) for i, (c_in, c_out) in enumerate(zip([3, *channels], channels))]
    fc1 = nn.Sequential(nn.Flatten(), nn.Linear(channels[-1] * 16, embedding_dim), nn.LeakyReLU(0.2, inplace=True))
    fc2 = nn.Linear(embedding_dim, embedding_dim)
    return [*convs, fc1, fc2]


def decoder_layers(image_size: int, embedding_dim: int, width: float, norm: str) -> list[nn.Module]:
    """1x1 -> 4x4x512, then transposed convs halving the channels up to image_size x 3: the first two are shared."""
    stages = downsamplings(image_size)
    channels = [scaled(512 // 2 ** i, width) for i in range(stages)] + [3]
    project = nn.Sequential(nn.Unflatten(1, (embedding_dim, 1, 1)), ProjectTo4x4(embedding_dim, channels[0]),
                            make_norm(norm, channels[0]), nn.ReLU(inplace=True))
    ups = [up(c_in, c_out, norm, last=c_out == 3) for c_in, c_out in zip(channels, channels[1:])]
    return [project, *ups]


def discriminator(image_size: int, width: float, outputs: int = 1) -> nn.Sequential:
    """Seed 001: 64x64x3 -> 32x32x16 -> 16x16x32 -> 8x8x32 -> 4x4x32 -> FC 1 (one fewer stage per halving)."""
    stages = downsamplings(image_size)
    channels = [scaled(c, width) for c in [16, 32, 32, 32, 32, 32][:stages]]
    convs = [down(c_in, c_out, "none") for c_in, c_out in zip([3, *channels], channels)]
    return nn.Sequential(*convs, nn.Flatten(), nn.Linear(channels[-1] * 16, outputs))


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


class DiscoGANDiscriminator(nn.Module):
    """DiscoGAN's discriminator (official code): 4x4 stride-2 convs 64-128-256-512 down to 4x4 (one fewer per halving
    of the image), leaky ReLU 0.2, a norm on all but the first, then a 4x4 valid conv to one logit per image. No biases,
    as in the official code (the norms make them redundant). Returns the logits and the activations of the normed
    layers, which the generators' feature-matching loss compares between real and translated images."""

    def __init__(self, image_size: int, width: float, norm: str) -> None:
        super().__init__()
        stages = downsamplings(image_size)
        channels = [scaled(min(64 * 2 ** i, 512), width) for i in range(stages)]
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), make_norm("none" if i == 0 else norm, c_out),
                          nn.LeakyReLU(0.2))
            for i, (c_in, c_out) in enumerate(zip([3, *channels], channels)))
        self.head = nn.Conv2d(channels[-1], 1, 4, 1, 0, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return self.head(x).flatten(), features[1:]  # the first layer has no norm and is not matched


def patch_discriminator(image_size: int, width: float, norm: str, spectral_norm: bool = False,
                        layers: int | None = None, in_channels: int = 3) -> nn.Sequential:
    """PatchGAN (pix2pix's NLayerDiscriminator): `layers` 4x4 stride-2 convs (64, 128, 256, 512 ... channels,
    capped at 512; no norm on the first), one 4x4 stride-1 conv, then a 4x4 stride-1 conv to one score per patch.
    Receptive field per score: 16 px at 1 layer, 34 at 2, 70 at 3, 142 at 4, 286 at 5; default 3 layers at 64 px
    and above, 2 at 32 px. `layers=0` is the PixelGAN: 1x1 convs, one score per pixel. No sigmoid, so its scores
    serve as logits, least-squares outputs or a WGAN critic's. `in_channels` 6 for a conditional critic that sees
    (input, output) side by side in channels (pix2pix). `spectral_norm` divides each conv's weight by its largest
    singular value (Miyato et al.; one power iteration per training forward)."""
    layers = (3 if image_size >= 64 else 2) if layers is None else layers
    if layers == 0:
        stack = [nn.Conv2d(in_channels, scaled(64, width), 1), nn.LeakyReLU(0.2, inplace=True),
                 nn.Conv2d(scaled(64, width), scaled(128, width), 1), make_norm(norm, scaled(128, width)),
                 nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(scaled(128, width), 1, 1)]
    else:
        if layers < 0 or image_size // 2 ** layers < 3:  # the two stride-1 4x4 convs each take one pixel off
            raise ValueError(f"a PatchGAN of {layers} stride-2 layers has no output at {image_size} px "
                             f"(at most {int(math.log2(image_size / 3))} layers)")
        channels = [scaled(min(64 * 2 ** i, 512), width) for i in range(layers + 1)]
        stack = [nn.Conv2d(in_channels, channels[0], 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for i, (c_in, c_out) in enumerate(zip(channels, channels[1:])):
            stride = 2 if i < layers - 1 else 1
            stack += [nn.Conv2d(c_in, c_out, 4, stride, 1), make_norm(norm, c_out), nn.LeakyReLU(0.2, inplace=True)]
        stack.append(nn.Conv2d(channels[-1], 1, 4, 1, 1))
    if spectral_norm:
        stack = [parametrizations.spectral_norm(m) if isinstance(m, nn.Conv2d) else m for m in stack]
    return nn.Sequential(*stack)


class PyramidCritics(nn.Module):
    """Critics of one image at successive scales: the s-th sees it average-pooled s times (3x3, stride 2, padding
    not counted), as the official multi-scale critics of pix2pixHD, UNIT/MUNIT and BicycleGAN; returns the list of
    their outputs, full size first."""

    def __init__(self, critics: list[nn.Module]) -> None:
        super().__init__()
        self.critics = nn.ModuleList(critics)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list:
        outputs = []
        for i, critic in enumerate(self.critics):
            outputs.append(critic(x))
            if i + 1 < len(self.critics):
                x = self.pool(x)
        return outputs


class MultiScaleDiscriminator(PyramidCritics):
    """`scales` independent patch critics (official UNIT/MUNIT code's MsImageDis), the s-th seeing the image average-
    pooled s times: each 4x4 stride-2 convs 64-128-... (`layers` of them, no norm, LeakyReLU 0.2, reflection
    padding), then a 1x1 conv to one score per patch. Returns the list of maps. A critic whose input is too small
    for `layers` halvings has as many as fit (the official code would fail)."""

    def __init__(self, image_size: int, width: float, layers: int, scales: int) -> None:
        def critic(size: int) -> nn.Sequential:
            fit = max(1, min(layers, size.bit_length() - 1))  # halvings down to 1x1
            channels = [scaled(64 * 2 ** i, width) for i in range(fit)]
            stack = []
            for c_in, c_out in zip([3, *channels], channels):
                stack += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 4, 2), nn.LeakyReLU(0.2, inplace=True)]
            return nn.Sequential(*stack, nn.Conv2d(channels[-1], 1, 1))

        super().__init__([critic(-(-image_size // 2 ** s)) for s in range(scales)])


class UNetLevel(nn.Module):
    """One level of a U-Net: down a stride, the levels below, up a stride; every level but the outermost returns
    its input beside its output (the skip connection), so the decoder sees the encoder's features at each size."""

    def __init__(self, down: nn.Sequential, inner: nn.Module | None, up: nn.Sequential, outermost: bool,
                 takes_z: bool = False) -> None:
        super().__init__()
        self.down, self.inner, self.up, self.outermost, self.takes_z = down, inner, up, outermost, takes_z

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """`z` (N, nz), for a U-Net built with nz > 0: tiled over the image and concatenated to the input of each
        level that takes it (BicycleGAN's G_Unet_add_all / add_input)."""
        x_and_z = torch.cat([x, z[:, :, None, None].expand(-1, -1, *x.shape[-2:])], 1) if self.takes_z else x
        y = self.down(x_and_z)
        y = self.up(self.inner(y, z) if self.inner is not None else y)
        return y if self.outermost else torch.cat([x, y], 1)


def unet_generator(image_size: int, width: float, norm: str, dropout: float = 0.0,
                   dropout_innermost: bool = True, nz: int = 0, add_z: str = "all") -> UNetLevel:
    """pix2pix's U-Net (Isola et al.), as DualGAN's generators: 4x4 stride-2 convs 64-128-256-512-512... (capped at
    512) down to 1x1 (log2(image_size) levels), transposed convs back up, each decoder stage concatenated with the
    encoder stage of its size. Encoder: LeakyReLU(0.2) -> conv -> norm (no norm on the first, which sees pixels, nor
    on the innermost, which is 1x1); decoder: ReLU -> transposed conv -> norm (-> dropout on the three innermost),
    the last one to tanh pixels. Dropout sits on the three innermost decoder stages (DualGAN's official code) or,
    with dropout_innermost=False, on the three above the innermost (pix2pix's UnetGenerator). With nz > 0 the
    network is called as net(x, z) and z joins the input of every level (add_z="all") or of the first ("input")."""
    if add_z not in ("all", "input"):
        raise ValueError(f"add_z must be 'all' or 'input', not {add_z!r}")
    levels = downsamplings(image_size) + 2  # to 1x1
    channels = [scaled(min(64 * 2 ** i, 512), width) for i in range(levels)]
    level: UNetLevel | None = None
    for i in reversed(range(levels)):
        c_in, c = (3 if i == 0 else channels[i - 1]), channels[i]
        innermost, outermost = level is None, i == 0
        takes_z = nz > 0 and (outermost or add_z == "all")
        down = [] if outermost else [nn.LeakyReLU(0.2)]
        down += [nn.Conv2d(c_in + nz * takes_z, c, 4, 2, 1), *([] if outermost or innermost else [make_norm(norm, c)])]
        up = [nn.ReLU(), nn.ConvTranspose2d(c if innermost else 2 * c, c_in, 4, 2, 1)]
        if outermost:
            up.append(nn.Tanh())
        else:
            up.append(make_norm(norm, c_in))
            first = levels - 3 if dropout_innermost else levels - 4
            if dropout and first <= i < first + 3:
                up.append(nn.Dropout(dropout))
        level = UNetLevel(nn.Sequential(*down), level, nn.Sequential(*up), outermost, takes_z)
    return level
