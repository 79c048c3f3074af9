"""AC-GAN (Odena, Olah and Shlens, "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML'17): images
of a chosen class generated from noise, the discriminator also naming the class (seed 004's building block).

    c ~ Uniform{0..K-1},  z ~ N(0, I),  X_fake = G(c, z)
    L_S = E[log P(S = real | X_real)] + E[log P(S = fake | X_fake)]
    L_C = E[log P(C = c | X_real)]    + E[log P(C = c | X_fake)]
    D maximises L_S + L_C;  G maximises L_C - L_S

G's input is the noise with the class's one-hot after it (the paper's CIFAR-10 generator: 100 + 10), so
`latent_dim` counts both and `sample_latent(classes=...)` picks the class. D is one network with two outputs from
the same features: a source logit and K class logits (here one 4x4 conv to 1 + K). As every GAN here, G minimises
-log P(S = real | X_fake) (the non-saturating form of -L_S) and -log P(C = c | X_fake).

The class labels are domain A's (Batch.labels_a; B's labels never reach a model), so AC-GAN generates domain A
(printed digits on the digits task) and reads labels: evaluation reports `class_accuracy_a`, how often the judge
reads the class that was asked for, beside KID against the test split.

Networks: DCGAN's (models/dcgan.py: batch-norm transposed convs up from 4x4; stride-2 convs down), as the paper's
are DCGAN-like; Adam at 2e-4, beta1 0.5 (the presets' train.*). Where this differs: the paper's CIFAR critic has
dropout and its generator a linear first layer at 384 x 4 x 4; PyTorch's default initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.dcgan import dcgan_discriminator
from xgan.models.layers import gan_loss
from xgan.models.nets import decoder_layers


@dataclass
class ACGANWeights:
    gan: float = 1.0  # L_S
    classification: float = 1.0  # L_C, in both phases


@dataclass
class ACGANConfig:
    name: str = "acgan"
    width: float = 1.0  # multiplies every channel count (1.0: DCGAN's 64 x 2^i filters)
    latent_dim: int = 100  # the noise; the class's one-hot comes after it
    classes: int = 10  # domain A's classes
    weights: ACGANWeights = field(default_factory=ACGANWeights)

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.classes < 2:
            raise ValueError(f"model.latent_dim must be >= 1 and model.classes >= 2, not {self.latent_dim} and "
                             f"{self.classes}")


class ACGAN(TranslationModel):
    config_class = ACGANConfig
    directions = ()
    generated_domain = "a"

    def __init__(self, cfg: ACGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.latent_classes = self.label_classes_a = cfg.classes
        self.latent_dim = cfg.latent_dim + cfg.classes
        self.g = nn.Sequential(*decoder_layers(image_size, self.latent_dim, cfg.width, "batch"))
        if training:
            self.d = dcgan_discriminator(image_size, cfg.width, outputs=1 + cfg.classes)
        self._fake: tuple[torch.Tensor, torch.Tensor] | None = None

    def sample_latent(self, count: int, generator: torch.Generator | None = None,
                      classes: torch.Tensor | None = None) -> torch.Tensor:
        if classes is None:
            classes = torch.randint(self.cfg.classes, (count,), generator=generator)
        noise = torch.randn(count, self.cfg.latent_dim, generator=generator)
        return torch.cat([noise, F.one_hot(classes.cpu(), self.cfg.classes).float()], 1)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.g(z)

    def discriminate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(source logits (N, 1), class logits (N, K))."""
        out = self.d(x)
        return out[:, :1], out[:, 1:]

    def phases(self) -> list[Phase]:
        return [Phase("generator", list(self.g.parameters())),
                Phase("discriminator", list(self.d.parameters()), critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        w = self.cfg.weights
        if phase == "generator":
            z = self.sample_latent(len(batch.a)).to(batch.a.device)
            classes = z[:, self.cfg.latent_dim:].argmax(1)
            fake = self.g(z)
            self._fake = fake.detach(), classes
            source, logits = self.discriminate(fake)
            return {"gan": (w.gan, gan_loss(source, True, "bce")),
                    "classification": (w.classification, F.cross_entropy(logits, classes))}
        fake, classes = self._fake
        real_source, real_logits = self.discriminate(batch.a)
        fake_source, fake_logits = self.discriminate(fake)
        return {"d": (w.gan, gan_loss(real_source, True, "bce") + gan_loss(fake_source, False, "bce")),
                "classification": (w.classification, F.cross_entropy(real_logits, batch.labels_a)
                                   + F.cross_entropy(fake_logits, classes))}
