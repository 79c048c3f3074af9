"""StarGAN v2 (Choi, Uh, Yoo and Ha, "StarGAN v2: Diverse Image Synthesis for Multiple Domains", CVPR'20): one
generator for every domain, told the target's style: a code drawn from noise through the target's mapping network
(latent-guided) or read from a reference image of that domain (reference-guided). Seed 001's comparison.

    s~ = F_y~(z)  or  s~ = E_y~(x_ref),   y~ the target domain, y the input's own;  s^ = E_y(x)
    L_adv = log D_y(x) + log(1 - D_y~(G(x, s~)))                 D has one real/fake logit per domain
    L_sty = |s~ - E_y~(G(x, s~))|_1                              style reconstruction
    L_ds  = |G(x, s~_1) - G(x, s~_2)|_1                          diversity: two latents (or references), one input
    L_cyc = |x - G(G(x, s~), s^)|_1
    min_{G,F,E} max_D  L_adv + l_sty L_sty - l_ds L_ds + l_cyc L_cyc,   D also minimises l_r1 R1,
    R1 = 1/2 E[|grad_x D_y(x)|^2] on real images;  l_ds decays linearly to 0 (over ds_decay_steps)

Networks (the official code, clovaai/stargan-v2 core/model.py): G = a 3x3 conv, pre-activation residual blocks
with instance norm halving the size (log2(size) - 4 of them, so the bottleneck is 16x16 at any size) and two at the
bottleneck, then the mirror with AdaIN residual blocks ((1 + gamma(s)) IN(x) + beta(s)) and nearest upsampling,
then IN, LeakyReLU and a 1x1 conv to RGB; every residual output divided by sqrt(2). F = 4 shared linear layers of
512 with ReLU, then 4 per domain to style_dim. E and D share a trunk design: a 3x3 conv, log2(size) - 2
residual blocks halving down to 4x4, LeakyReLU, a 4x4 conv, LeakyReLU; then E has a linear head to style_dim per
domain and D a 1x1 conv to one logit per domain. Channels start at 2^14 / size and double up to 512 (x `width`).
He initialisation; Adam with beta (0, 0.99), weight decay 1e-4, lr 1e-4 for G, E and D and 1e-6 for F (the
generator phase's lr group); l_sty = l_cyc = l_r1 = 1 and l_ds = 2 (the
official AFHQ run, which like ours has no high-pass masks); the EMA generator is train.ema = 0.999.

How a step runs. The official iteration makes four updates: D latent-guided, D reference-guided, G latent-guided
(G, F and E), G reference-guided (G only). Here a step makes two: even steps latent-guided, odd steps
reference-guided, D then G, so every update is one of the official ones (and a step is half an iteration). In a
reference-guided G update E reads with its weights held (its gradient would go unused, as in the official code,
which then steps G only). Two domains, A (0) and B (1): the inputs are the batch's A and B images, the targets their
own domains shuffled (as StarGAN), references drawn from the same batch in the target's domain.

translate(x, to) without a style uses the domain's mean style (F_to averaged over 64 fixed draws of z), so
evaluation and export are deterministic; sample_style(n, to) maps fresh noise (latent-guided outputs), style_of(x_ref, to) reads a reference.
Where this differs: no high-pass masks (the official w_hpf, used with face landmarks on CelebA-HQ only).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import gan_loss, scaled

DOMAINS = ("a", "b")
MEAN_STYLE_OF = 64  # draws of z averaged into a domain's default style


@dataclass
class StarGANv2Weights:
    gan: float = 1.0
    style: float = 1.0  # lambda_sty
    diversity: float = 2.0  # lambda_ds at the first step (AFHQ's; CelebA-HQ's 1); decays linearly to 0 over ds_decay_steps
    cycle: float = 1.0  # lambda_cyc
    r1: float = 1.0  # lambda_reg


@dataclass
class StarGANv2Config:
    name: str = "starganv2"
    width: float = 1.0  # multiplies every channel count (1.0: the official 2^14 / image_size, up to 512)
    latent_dim: int = 16
    style_dim: int = 64
    mapping_lr: float = 1.0e-6  # the official f_lr (G, E and D: train.lr and train.discriminator_lr)
    weight_decay: float = 1.0e-4
    ds_decay_steps: int = 100000  # the official ds_iter (its whole run); set to train.steps
    weights: StarGANv2Weights = field(default_factory=StarGANv2Weights)

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.style_dim < 1 or self.ds_decay_steps < 1:
            raise ValueError(f"model.latent_dim, style_dim and ds_decay_steps must be >= 1, not {self.latent_dim}, "
                             f"{self.style_dim} and {self.ds_decay_steps}")


class ResBlock(nn.Module):
    """Pre-activation residual block (IN optional), average-pooled to half size if `down`; (x + f(x)) / sqrt 2."""

    def __init__(self, c_in: int, c_out: int, normalize: bool = False, down: bool = False) -> None:
        super().__init__()
        self.down = down
        self.norm1 = nn.InstanceNorm2d(c_in, affine=True) if normalize else nn.Identity()
        self.conv1 = nn.Conv2d(c_in, c_in, 3, 1, 1)
        self.norm2 = nn.InstanceNorm2d(c_in, affine=True) if normalize else nn.Identity()
        self.conv2 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.norm1(x), 0.2))
        if self.down:
            h, x = F.avg_pool2d(h, 2), F.avg_pool2d(x, 2)
        h = self.conv2(F.leaky_relu(self.norm2(h), 0.2))
        return (self.skip(x) + h) / math.sqrt(2)


class AdaIN(nn.Module):
    """(1 + gamma(s)) IN(x) + beta(s), gamma and beta from one linear layer of the style."""

    def __init__(self, style_dim: int, channels: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.fc = nn.Linear(style_dim, 2 * channels)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(s)[:, :, None, None].chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


class AdaINResBlock(nn.Module):
    """The decoder's residual block: AdaIN, LeakyReLU, (nearest x2 if `up`), 3x3 conv, twice; (x + f(x)) / sqrt 2."""

    def __init__(self, c_in: int, c_out: int, style_dim: int, up: bool = False) -> None:
        super().__init__()
        self.up = up
        self.norm1, self.conv1 = AdaIN(style_dim, c_in), nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.norm2, self.conv2 = AdaIN(style_dim, c_out), nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, bias=False) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.norm1(x, s), 0.2)
        if self.up:
            h, x = F.interpolate(h, scale_factor=2.0, mode="nearest"), F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = self.conv2(F.leaky_relu(self.norm2(self.conv1(h), s), 0.2))
        return (self.skip(x) + h) / math.sqrt(2)


def channel_plan(image_size: int, width: float, halvings: int) -> list[int]:
    """2^14 / size channels at full resolution, doubling per halving up to 512 (all x width)."""
    first = 2 ** 14 // image_size
    return [scaled(min(first * 2 ** i, 512), width) for i in range(halvings + 1)]


class Generator(nn.Module):
    def __init__(self, image_size: int, width: float, style_dim: int) -> None:
        super().__init__()
        halvings = int(math.log2(image_size)) - 4  # the bottleneck at 16x16
        if halvings < 0:
            raise ValueError(f"StarGAN v2 needs images of at least 16 px, not {image_size}")
        c = channel_plan(image_size, width, halvings)
        self.from_rgb = nn.Conv2d(3, c[0], 3, 1, 1)
        self.encode = nn.Sequential(*[ResBlock(c[i], c[i + 1], normalize=True, down=True) for i in range(halvings)],
                                    ResBlock(c[-1], c[-1], normalize=True), ResBlock(c[-1], c[-1], normalize=True))
        self.decode = nn.ModuleList([AdaINResBlock(c[-1], c[-1], style_dim), AdaINResBlock(c[-1], c[-1], style_dim),
                                     *[AdaINResBlock(c[i + 1], c[i], style_dim, up=True)
                                       for i in reversed(range(halvings))]])
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(c[0], affine=True), nn.LeakyReLU(0.2), nn.Conv2d(c[0], 3, 1))

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = self.encode(self.from_rgb(x))
        for block in self.decode:
            h = block(h, s)
        return self.to_rgb(h)


def trunk(image_size: int, width: float) -> tuple[nn.Sequential, int]:
    """E's and D's shared design: 3x3 conv, residual blocks halving down to 4x4, LReLU, 4x4 conv to 1x1, LReLU."""
    halvings = int(math.log2(image_size)) - 2
    c = channel_plan(image_size, width, halvings)
    return nn.Sequential(nn.Conv2d(3, c[0], 3, 1, 1), *[ResBlock(c[i], c[i + 1], down=True) for i in range(halvings)],
                         nn.LeakyReLU(0.2), nn.Conv2d(c[-1], c[-1], 4), nn.LeakyReLU(0.2), nn.Flatten()), c[-1]


class MappingNetwork(nn.Module):
    """z -> 4 shared linear layers (512, ReLU) -> per domain 3 more and one to style_dim."""

    def __init__(self, latent_dim: int, style_dim: int, domains: int, hidden: int = 512) -> None:
        super().__init__()
        layers = [nn.Linear(latent_dim, hidden), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.shared = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                                 nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                                 nn.Linear(hidden, style_dim)) for _ in range(domains))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return pick(torch.stack([head(self.shared(z)) for head in self.heads], 1), y)


class StyleEncoder(nn.Module):
    def __init__(self, image_size: int, width: float, style_dim: int, domains: int) -> None:
        super().__init__()
        self.trunk, channels = trunk(image_size, width)
        self.heads = nn.ModuleList(nn.Linear(channels, style_dim) for _ in range(domains))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.trunk(x)
        return pick(torch.stack([head(h) for head in self.heads], 1), y)


class Discriminator(nn.Module):
    """x, y -> D_y(x): one real/fake logit per domain, the input's domain's read."""

    def __init__(self, image_size: int, width: float, domains: int) -> None:
        super().__init__()
        self.trunk, channels = trunk(image_size, width)
        self.logits = nn.Linear(channels, domains)  # the official 1x1 conv on the 1x1 map

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.logits(self.trunk(x)).gather(1, y[:, None]).squeeze(1)


def pick(per_domain: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(N, domains, D), (N,) -> (N, D): each row's domain's output."""
    return per_domain[torch.arange(len(y), device=y.device), y]


def he_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor],
               real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(1/2 E[|grad_x D(x)|^2] on real images (Mescheder et al.'s zero-centred R1), D(real))."""
    real = real.detach().requires_grad_(True)
    out = critic(real)
    grad, = torch.autograd.grad(out.sum(), real, create_graph=True)
    return 0.5 * grad.pow(2).flatten(1).sum(1).mean(), out


class StarGANv2(TranslationModel):
    config_class = StarGANv2Config

    def __init__(self, cfg: StarGANv2Config, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.style_dim = cfg.style_dim
        self.g = Generator(image_size, cfg.width, cfg.style_dim)
        self.f = MappingNetwork(cfg.latent_dim, cfg.style_dim, len(DOMAINS))
        self.e = StyleEncoder(image_size, cfg.width, cfg.style_dim, len(DOMAINS))
        if training:
            self.d = Discriminator(image_size, cfg.width, len(DOMAINS))
        self.apply(he_init)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # the mode and l_ds's decay
        self._step: dict[str, torch.Tensor] = {}

    @staticmethod
    def domain(name: str, count: int, device: torch.device) -> torch.Tensor:
        return torch.full((count,), DOMAINS.index(name), device=device, dtype=torch.long)

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if style is None:
            style = self.mean_style(to, x.device).expand(len(x), -1)
        return self.g(x, style)

    def mean_style(self, domain: str, device: torch.device) -> torch.Tensor:
        """(1, style_dim): the mean of F_domain(z) over MEAN_STYLE_OF fixed draws of z, the domain's average style.
        (F(0) would not do: with zero-initialised biases it starts, and at F's slow rate stays, near 0 for every
        domain, and then nothing tells G the target.)"""
        z = torch.randn(MEAN_STYLE_OF, self.cfg.latent_dim, generator=torch.Generator().manual_seed(0)).to(device)
        return self.f(z, self.domain(domain, MEAN_STYLE_OF, device)).mean(0, keepdim=True)

    @torch.no_grad()
    def sample_style(self, count: int, domain: str, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.steps_done.device
        z = torch.randn(count, self.cfg.latent_dim, generator=generator).to(device)
        return self.f(z, self.domain(domain, count, device)).cpu()

    def style_of(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.e(x, self.domain(domain, len(x), x.device))

    def phases(self) -> list[Phase]:
        return [Phase("discriminator", list(self.d.parameters()), critic=True, weight_decay=self.cfg.weight_decay),
                Phase("generator", [*self.g.parameters(), *self.e.parameters()], weight_decay=self.cfg.weight_decay,
                      lr_groups=((list(self.f.parameters()), self.cfg.mapping_lr),))]

    def diversity_weight(self, step: int) -> float:
        return self.cfg.weights.diversity * max(0.0, 1.0 - step / self.cfg.ds_decay_steps)

    def draw(self, batch: Batch) -> dict[str, torch.Tensor]:
        """A step's inputs x (A's then B's), their domains, shuffled targets, two latents and two references."""
        x = torch.cat([batch.a, batch.b])
        n, device = len(x), x.device
        own = torch.cat([torch.zeros(len(batch.a)), torch.ones(len(batch.b))]).long().to(device)
        target = own[torch.randperm(n).to(device)]

        def references() -> torch.Tensor:
            from_a = batch.a[torch.randint(len(batch.a), (n,)).to(device)]
            from_b = batch.b[torch.randint(len(batch.b), (n,)).to(device)]
            return torch.where(target[:, None, None, None] == 0, from_a, from_b)

        return {"x": x, "own": own, "target": target, "z1": torch.randn(n, self.cfg.latent_dim).to(device),
                "z2": torch.randn(n, self.cfg.latent_dim).to(device), "ref1": references(), "ref2": references()}

    def target_styles(self, v: dict[str, torch.Tensor], latent: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if latent:
            return self.f(v["z1"], v["target"]), self.f(v["z2"], v["target"])
        with torch.no_grad():  # references are data: the reference-guided update trains G alone
            return self.e(v["ref1"], v["target"]), self.e(v["ref2"], v["target"])

    def losses(self, phase: str, batch: Batch) -> Losses:
        w, step = self.cfg.weights, int(self.steps_done)
        latent = step % 2 == 0  # even steps latent-guided, odd steps reference-guided
        if phase == "discriminator":
            v = self._step = self.draw(batch)
            with torch.no_grad():
                fake = self.g(v["x"], self.target_styles(v, latent)[0])
            r1, real = r1_penalty(lambda x: self.d(x, v["own"]), v["x"])
            real_or_fake = gan_loss(real, True, "bce") + gan_loss(self.d(fake, v["target"]), False, "bce")
            return {"d": (w.gan, real_or_fake), "r1": (w.r1, r1)}
        v = self._step
        if self.training:
            self.steps_done += 1
        s1, s2 = self.target_styles(v, latent)
        fake = self.g(v["x"], s1)
        # the reference-guided update steps G only: there E reads with its weights held
        encode = self.e if latent else (lambda x, y: functional_call(
            self.e, {k: p.detach() for k, p in self.e.named_parameters()}, (x, y)))
        with torch.no_grad():  # the second output is a target: the official code detaches it
            fake2 = self.g(v["x"], s2)
        back = self.g(fake, encode(v["x"], v["own"]))
        return {"gan": (w.gan, gan_loss(self.d(fake, v["target"]), True, "bce")),
                "style": (w.style, (encode(fake, v["target"]) - s1).abs().mean()),
                "diversity": (-self.diversity_weight(step), (fake - fake2).abs().mean()),
                "cycle": (w.cycle, (back - v["x"]).abs().mean())}
