"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever and Abbeel, "InfoGAN: Interpretable Representation Learning
by Information Maximizing Generative Adversarial Nets", NeurIPS'16): a GAN whose codes mean something without a
label, because an auxiliary network Q must read them back from the images (seed 004's building block).

    z ~ U(-1, 1)^noise,  c ~ Cat(K),  c' ~ U(-1, 1)^continuous,  x = G(z, c, c')
    min_{G,Q} max_D  V_GAN(D, G) - lambda L_I(G, Q)
    L_I(G, Q) = E_{c ~ P(c), x ~ G(z, c)}[log Q(c | x)] + H(c)  <=  I(c; G(z, c))      (the variational bound)

Q is D's convolutions with a head of its own (FC 128, batch norm, LeakyReLU, then K logits for c and the means
of c', a Gaussian of fixed standard deviation 1, so -log Q(c' | x) = |c' - mu(x)|^2 / 2 + const). H(c) is a
constant, so the loss is the cross-entropy of Q's reading: `info_categorical` (c) and `info_continuous` (c'),
lambda = 1 for both as the official MNIST experiment (openai/InfoGAN, run_mnist_exp.py: 62 uniform noise
variables, one 10-way code, two uniform continuous ones). As the official trainer, both phases minimise it:
D's with Q's head and the shared convolutions, G's through them.

No labels are read: on MNIST the categorical code comes to stand for the digit class, up to a permutation.
Evaluation reports `code_accuracy_<domain>`: the judge's classes of images generated per code, after the
one-to-one matching of codes to classes that agrees most (the Hungarian algorithm), beside KID.

Networks: DCGAN's (models/dcgan.py) instead of the paper's MNIST nets (two FC and two transposed convs to 28 px
grey), for 32/64 px colour; Adam(beta1 0.5) with G at 1e-3 and D at 2e-4 (the official MNIST rates, the
presets' train.lr and train.discriminator_lr); PyTorch's default initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.dcgan import dcgan_features
from xgan.models.layers import gan_loss
from xgan.models.nets import decoder_layers


@dataclass
class InfoGANWeights:
    gan: float = 1.0
    info_categorical: float = 1.0  # lambda for c
    info_continuous: float = 1.0  # lambda for c'


@dataclass
class InfoGANConfig:
    name: str = "infogan"
    width: float = 1.0  # multiplies every channel count (1.0: DCGAN's 64 x 2^i filters)
    noise_dim: int = 62
    categories: int = 10  # K of the categorical code c
    continuous: int = 2  # continuous codes c'
    domain: str = "b"  # the task's domain it learns to generate
    weights: InfoGANWeights = field(default_factory=InfoGANWeights)

    def __post_init__(self) -> None:
        if self.domain not in ("a", "b"):
            raise ValueError(f"model.domain must be 'a' or 'b', not {self.domain!r}")
        if self.noise_dim < 1 or self.categories < 2 or self.continuous < 0:
            raise ValueError(f"model.noise_dim >= 1, categories >= 2 and continuous >= 0, not {self.noise_dim}, "
                             f"{self.categories} and {self.continuous}")


class InfoGAN(TranslationModel):
    config_class = InfoGANConfig
    directions = ()

    def __init__(self, cfg: InfoGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.generated_domain, self.latent_classes = cfg.domain, cfg.categories
        self.latent_dim = cfg.noise_dim + cfg.categories + cfg.continuous  # z, then c's one-hot, then c'
        self.g = nn.Sequential(*decoder_layers(image_size, self.latent_dim, cfg.width, "batch"))
        if training:
            convs = dcgan_features(image_size, cfg.width)
            channels = convs[-1][0].out_channels
            self.features = nn.Sequential(*convs)
            self.d = nn.Sequential(nn.Conv2d(channels, 1, 4), nn.Flatten())
            self.q = nn.Sequential(nn.Conv2d(channels, 128, 4), nn.Flatten(), nn.BatchNorm1d(128),
                                   nn.LeakyReLU(0.2, inplace=True), nn.Linear(128, cfg.categories + cfg.continuous))
        self._fake: tuple[torch.Tensor, torch.Tensor] | None = None

    def sample_latent(self, count: int, generator: torch.Generator | None = None,
                      classes: torch.Tensor | None = None) -> torch.Tensor:
        if classes is None:
            classes = torch.randint(self.cfg.categories, (count,), generator=generator)
        noise = torch.rand(count, self.cfg.noise_dim, generator=generator) * 2 - 1
        continuous = torch.rand(count, self.cfg.continuous, generator=generator) * 2 - 1
        return torch.cat([noise, F.one_hot(classes.cpu(), self.cfg.categories).float(), continuous], 1)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.g(z)

    def info_loss(self, h: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """-log Q(c | x) and -log Q(c' | x) (up to constants) of the codes z that made the images with features h."""
        out, k, n = self.q(h), self.cfg.categories, self.cfg.noise_dim
        terms = {"info_categorical": F.cross_entropy(out[:, :k], z[:, n:n + k].argmax(1))}
        if self.cfg.continuous:
            terms["info_continuous"] = 0.5 * (out[:, k:] - z[:, n + k:]).pow(2).sum(1).mean()
        return terms

    def phases(self) -> list[Phase]:
        return [Phase("generator", list(self.g.parameters())),
                Phase("discriminator", [*self.features.parameters(), *self.d.parameters(), *self.q.parameters()],
                      critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        w = self.cfg.weights
        real = batch.b if self.cfg.domain == "b" else batch.a
        if phase == "generator":
            z = self.sample_latent(len(real)).to(real.device)
            fake = self.g(z)
            self._fake = fake.detach(), z
            h = self.features(fake)
            info = self.info_loss(h, z)
            return {"gan": (w.gan, gan_loss(self.d(h), True, "bce")),
                    **{name: (getattr(w, name), value) for name, value in info.items()}}
        fake, z = self._fake
        h_fake = self.features(fake)
        info = self.info_loss(h_fake, z)
        real_or_fake = gan_loss(self.d(self.features(real)), True, "bce") + gan_loss(self.d(h_fake), False, "bce")
        return {"d": (w.gan, real_or_fake),
                **{name: (getattr(w, name), value) for name, value in info.items()}}
