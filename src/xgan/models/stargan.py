"""StarGAN (Choi, Choi, Kim, Ha, Kim and Choo, "StarGAN: Unified Generative Adversarial Networks for Multi-Domain
Image-to-Image Translation", CVPR'18): one generator for every domain, told the target domain by a label.

    x' = G(x, c)                       c: the target domain's one-hot, tiled over the image beside its channels
    L_adv = E_x[D_src(x)] - E_{x,c}[D_src(G(x, c))] - lambda_gp E_x^[(||grad D_src(x^)||_2 - 1)^2]   (WGAN-GP)
    L_cls^r = E_{x,c'}[-log D_cls(c' | x)]         (real images, their own domain c')
    L_cls^f = E_{x,c}[-log D_cls(c | G(x, c))]     (translations, the domain asked for)
    L_rec = E_{x,c,c'}[|x - G(G(x, c), c')|_1]
    L_D = -L_adv + lambda_cls L_cls^r,    L_G = L_adv + lambda_cls L_cls^f + lambda_rec L_rec
    lambda_cls = 1, lambda_rec = 10, lambda_gp = 10; D at every step, G at every n_critic = 5th

As the official code (yunjey/stargan, model.py and solver.py): the batch's targets are its own domain labels in a
random order (so some images are asked for their own domain); G is a 7x7 conv, two 4x4 stride-2 convs, six
residual blocks, two 4x4 transposed convs and a 7x7 conv to tanh, instance norm, no biases; D is 4x4 stride-2
convs doubling from 64 channels with LeakyReLU(0.01) and no norm down to 2x2 (log2(size) - 1 of them: six at
128 px), then two heads: a 3x3 conv to one score per patch (D_src) and a conv over the whole 2x2 map to the
domain logits (D_cls, cross-entropy as for RaFD's single-label domains). Adam(1e-4, 0.5, 0.999) (the presets).

The two domains of a task are StarGAN's domains 0 (A) and 1 (B); `translate(x, to)` sets c. Tasks with more
domains give it more labels without changing the model. Where this differs: instance norm normalises each image
by its own statistics at test time too (the official layers also keep running averages, which eval() reads);
the mask vector for mixing datasets' label sets is not built (one label set per task here).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import gradient_penalty, make_norm, scaled

DOMAINS = ("a", "b")


@dataclass
class StarGANWeights:
    gan: float = 1.0
    classification: float = 1.0  # lambda_cls
    reconstruction: float = 10.0  # lambda_rec
    gradient_penalty: float = 10.0  # lambda_gp


@dataclass
class StarGANConfig:
    name: str = "stargan"
    width: float = 1.0  # multiplies every channel count (1.0: the official g_conv_dim = d_conv_dim = 64)
    residual_blocks: int = 6  # g_repeat_num
    n_critic: int = 5  # D updates per G update
    weights: StarGANWeights = field(default_factory=StarGANWeights)

    def __post_init__(self) -> None:
        if self.n_critic < 1 or self.residual_blocks < 0:
            raise ValueError(f"model.n_critic must be >= 1 and model.residual_blocks >= 0, not {self.n_critic} and "
                             f"{self.residual_blocks}")


class Residual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1, bias=False), make_norm("instance", channels),
                                  nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
                                  make_norm("instance", channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """G(x, c): the image with the target's one-hot tiled beside its channels -> an image of that domain."""

    def __init__(self, domains: int, width: float, blocks: int) -> None:
        super().__init__()
        c1, c2, c3 = scaled(64, width), scaled(128, width), scaled(256, width)

        def block(conv: nn.Module, channels: int) -> list[nn.Module]:
            return [conv, make_norm("instance", channels), nn.ReLU(inplace=True)]

        self.main = nn.Sequential(
            *block(nn.Conv2d(3 + domains, c1, 7, 1, 3, bias=False), c1),
            *block(nn.Conv2d(c1, c2, 4, 2, 1, bias=False), c2), *block(nn.Conv2d(c2, c3, 4, 2, 1, bias=False), c3),
            *[Residual(c3) for _ in range(blocks)],
            *block(nn.ConvTranspose2d(c3, c2, 4, 2, 1, bias=False), c2),
            *block(nn.ConvTranspose2d(c2, c1, 4, 2, 1, bias=False), c1),
            nn.Conv2d(c1, 3, 7, 1, 3, bias=False), nn.Tanh())

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.main(torch.cat([x, c[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1))


class Discriminator(nn.Module):
    """x -> (D_src: a score per patch of the 2x2 map, D_cls: the domain logits)."""

    def __init__(self, image_size: int, domains: int, width: float) -> None:
        super().__init__()
        layers = image_size.bit_length() - 2  # down to 2x2: log2(size) - 1 stride-2 convs
        channels = [scaled(64 * 2 ** i, width) for i in range(layers)]
        self.main = nn.Sequential(*[m for c_in, c_out in zip([3, *channels], channels)
                                    for m in (nn.Conv2d(c_in, c_out, 4, 2, 1), nn.LeakyReLU(0.01))])
        self.source = nn.Conv2d(channels[-1], 1, 3, 1, 1, bias=False)
        self.domain = nn.Conv2d(channels[-1], domains, 2, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(x)
        return self.source(h), self.domain(h).flatten(1)


class StarGAN(TranslationModel):
    config_class = StarGANConfig

    def __init__(self, cfg: StarGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.g = Generator(len(DOMAINS), cfg.width, cfg.residual_blocks)
        if training:
            self.d = Discriminator(image_size, len(DOMAINS), cfg.width)
        self._target: torch.Tensor | None = None

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        target = torch.full((len(x),), DOMAINS.index(to), device=x.device)
        return self.g(x, F.one_hot(target, len(DOMAINS)).to(x.dtype))

    def phases(self) -> list[Phase]:
        return [Phase("discriminator", list(self.d.parameters()), critic=True),
                Phase("generator", list(self.g.parameters()), every=self.cfg.n_critic)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        w = self.cfg.weights
        x = torch.cat([batch.a, batch.b])
        own = torch.cat([torch.zeros(len(batch.a)), torch.ones(len(batch.b))]).long().to(x.device)
        if phase == "discriminator":  # the step's targets: its own labels shuffled, as the official solver
            self._target = own[torch.randperm(len(own)).to(x.device)]
        target = self._target
        fake = self.g(x, F.one_hot(target, len(DOMAINS)).to(x.dtype))
        if phase == "discriminator":
            fake = fake.detach()
            real_source, real_domain = self.d(x)
            fake_source, _ = self.d(fake)
            return {"d": (w.gan, fake_source.mean() - real_source.mean()),
                    "classification": (w.classification, F.cross_entropy(real_domain, own)),
                    "gradient_penalty": (w.gradient_penalty, gradient_penalty(lambda y: self.d(y)[0], x, fake))}
        source, domain = self.d(fake)
        back = self.g(fake, F.one_hot(own, len(DOMAINS)).to(x.dtype))
        return {"gan": (w.gan, -source.mean()),
                "classification": (w.classification, F.cross_entropy(domain, target)),
                "reconstruction": (w.reconstruction, (x - back).abs().mean())}
