"""CoGAN, coupled generative adversarial networks (Liu & Tuzel, NeurIPS'16): two GANs that share the generators'
first layers and the discriminators' last ones, so that one noise vector becomes a pair of corresponding images
without any pair in the data.

    z ~ U[-1, 1]^noise_dim,  G_d = g_d . g_shared,  D_d = f_shared . f_d
    L_D = sum_d BCE(D_d(x_d), real) + BCE(D_d(G_d(z)), fake)
    L_G = sum_d BCE(D_d(G_d(z)), real)                      (the same z for both domains)

Translation (the paper's cross-domain transformation): find the noise that draws the input in its own domain,
z* = argmin_z |G_a(z) - x|_1 over z in [-1, 1] (`invert_steps` Adam steps at rate `invert_lr` from z = 0), then
G_b(z*). It runs an optimisation per call, so a CoGAN translator cannot be exported.

Layers (the official Caffe digits model, mingyuliutw/CoGAN): g_shared = FC to 4x4 x 1024, then transposed convs
halving the channels and doubling the size up to half the image size (batch norm, PReLU); g_d = one transposed conv
to the image (tanh here: images in [-1, 1]; sigmoid in [0, 1] there); f_d = a 5x5 conv (20 filters); f_shared =
max-pool, 5x5 conv (50), max-pool, FC 500, PReLU, dropout 0.5, FC to one logit. Adam 2e-4, betas (0.5, 0.999),
weight decay 5e-4 as the loss term weight_decay/2 |theta|^2.

Domain adaptation (the paper's section 5, where domain A has labels: `adaptation_classes` > 0): a softmax layer c on
the discriminators' last hidden layer h (shared by the domains), trained jointly with the discriminators on A's
labels; `classify` applies it to either domain through that domain's first layer, so on B's images it is the
unsupervised adaptation readout (xgan eval's adaptation_accuracy_b). It reads A's labels.

    L_D += l_cls CE(c(h(f_a(x_a))), y_a),   classify(x, d) = c(h(f_d(x)))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel, other
from xgan.models.layers import downsamplings, gan_loss, scaled, squared_norm


@dataclass
class CoGANWeights:
    gan: float = 1.0
    weight_decay: float = 5e-4  # the official solver's, as a loss term; 0: off
    classifier: float = 1.0  # of the adaptation head's cross-entropy (adaptation_classes > 0)


@dataclass
class CoGANConfig:
    name: str = "cogan"
    width: float = 1.0  # multiplies the generators' channels (1.0: 1024 at 4x4)
    noise_dim: int = 100
    invert_steps: int = 100  # Adam steps of the inversion z* = argmin |G_source(z) - x|_1
    invert_lr: float = 0.05
    adaptation_classes: int = 0  # > 0: a classifier of A's labels on the shared discriminator layers (reads labels)
    weights: CoGANWeights = field(default_factory=CoGANWeights)


class CoGAN(TranslationModel):
    config_class = CoGANConfig
    exportable = False

    def __init__(self, cfg: CoGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        stages = downsamplings(image_size) - 1  # 4x4 doubled up to half the image size; the last layer is per domain
        channels = [scaled(1024 // 2 ** i, cfg.width) for i in range(stages + 1)]
        ups = [nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.PReLU())
               for c_in, c_out in zip(channels, channels[1:])]
        self.g_shared = nn.Sequential(nn.Linear(cfg.noise_dim, channels[0] * 16), nn.Unflatten(1, (channels[0], 4, 4)),
                                      nn.BatchNorm2d(channels[0]), nn.PReLU(), *ups)
        self.g_a, self.g_b = (nn.Sequential(nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1), nn.Tanh()) for _ in range(2))
        self.label_classes_a = cfg.adaptation_classes
        if not training and not cfg.adaptation_classes:
            return  # translation needs the generators only; classify, the discriminators' layers and the head
        first, second, hidden = 20, 50, 500  # the official digits discriminator, already small
        self.f_a, self.f_b = (nn.Conv2d(3, first, 5) for _ in range(2))
        side = ((image_size - 4) // 2 - 4) // 2
        self.f_shared = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(first, second, 5), nn.MaxPool2d(2), nn.Flatten(),
                                      nn.Linear(second * side * side, hidden), nn.PReLU(), nn.Dropout(0.5),
                                      nn.Linear(hidden, 1))
        if cfg.adaptation_classes:
            self.head = nn.Linear(hidden, cfg.adaptation_classes)

    def generate(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.g_a if domain == "a" else self.g_b)(self.g_shared(z))

    def discriminate(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.f_shared((self.f_a if domain == "a" else self.f_b)(x))

    def classify(self, x: torch.Tensor, domain: str) -> torch.Tensor | None:
        if not self.cfg.adaptation_classes:
            return None
        hidden = self.f_shared[:-1]((self.f_a if domain == "a" else self.f_b)(x))  # up to the last hidden layer
        return self.head(hidden)

    def noise(self, count: int, device: torch.device) -> torch.Tensor:
        return torch.rand(count, self.cfg.noise_dim, device=device) * 2 - 1

    def invert(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """z* = argmin_{z in [-1, 1]} |G_domain(z) - x|_1, by Adam from z = 0; the networks are left untouched."""
        z = x.new_zeros(len(x), self.cfg.noise_dim).requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=self.cfg.invert_lr)
        with torch.enable_grad():
            for _ in range(self.cfg.invert_steps):
                optimizer.zero_grad()
                loss = (self.generate(z, domain) - x).abs().mean(dim=(1, 2, 3)).sum()  # each image on its own
                z.grad, = torch.autograd.grad(loss, z)
                optimizer.step()
                with torch.no_grad():
                    z.clamp_(-1, 1)
        return z.detach()

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        with torch.no_grad():
            return self.generate(self.invert(x, other(to)), to)

    def discriminators(self) -> list[nn.Parameter]:
        head = list(self.head.parameters()) if self.cfg.adaptation_classes else []
        return [*self.f_a.parameters(), *self.f_b.parameters(), *self.f_shared.parameters(), *head]

    def generators(self) -> list[nn.Parameter]:
        return [*self.g_shared.parameters(), *self.g_a.parameters(), *self.g_b.parameters()]

    def phases(self) -> list[Phase]:
        return [Phase("discriminator", self.discriminators(), critic=True), Phase("generator", self.generators())]

    def losses(self, phase: str, batch: Batch) -> Losses:
        w, a, b = self.cfg.weights, batch.a, batch.b
        z = self.noise(len(a), a.device)
        params = self.discriminators() if phase == "discriminator" else self.generators()
        if phase == "discriminator":
            with torch.no_grad():
                fake_a, fake_b = self.generate(z, "a"), self.generate(z, "b")
            losses = {f"d_{d}": (w.gan, gan_loss(self.discriminate(real, d), True, "bce")
                                 + gan_loss(self.discriminate(fake, d), False, "bce"))
                      for d, real, fake in (("a", a, fake_a), ("b", b, fake_b))}
            if self.cfg.adaptation_classes:
                if batch.labels_a is None:
                    raise ValueError("model.adaptation_classes > 0: the batch needs domain A's labels")
                losses["classifier"] = (w.classifier, F.cross_entropy(self.classify(a, "a"), batch.labels_a))
        else:
            losses = {"gan": (w.gan, sum(gan_loss(self.discriminate(self.generate(z, d), d), True, "bce")
                                         for d in ("a", "b")))}
        if w.weight_decay > 0:
            losses["weight_decay"] = (w.weight_decay / 2, squared_norm(params))
        return losses
