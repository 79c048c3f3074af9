"""DiscoGAN (Kim et al., ICML'17, "Learning to Discover Cross-Domain Relations with Generative Adversarial Networks"):
two generators, two discriminators, and a reconstruction loss in each direction.

    G_AB: A -> B, G_BA: B -> A
    L_GAN_B   = -log D_B(G_AB(x_A))                                  (sigmoid cross-entropy, to 'real')
    L_CONST_A = d(G_BA(G_AB(x_A)), x_A)                              d: mean squared error (official code)
    L_G       = L_GAN_B + L_CONST_A + L_GAN_A + L_CONST_B            (the paper)
    L_D_B     = -log D_B(x_B) - log(1 - D_B(G_AB(x_A))), likewise L_D_A

What the official code (SKTBrain/DiscoGAN, image_translation.py) adds, and this file follows:
  * the adversarial term of each generator is 0.1 L_GAN + 0.9 L_FM, where L_FM is feature matching: for each of the
    discriminator's normed layers, the mean over its units of (batch-mean feature on real images - batch-mean feature
    on translations)^2 (the official code writes it as a HingeEmbeddingLoss with target 1, which is this mean);
  * the total per direction is (1 - rate) (0.1 L_GAN + 0.9 L_FM) + rate L_CONST, with rate = 0.01 during the first
    `gan_curriculum` = 10000 iterations ("strong GAN loss at the beginning") and 0.5 after;
  * the discriminators update at the iterations divisible by `update_interval` = 3 and the generators at the
    others (both from the same current generators), each discriminator loss halved: 0.5 (real) + 0.5 (fake);
  * Adam(2e-4, beta1 0.5) with weight decay 1e-5 on both optimisers: here the loss term (1e-5 / 2) |theta|^2 of the
    phase's parameters, whose gradient is exactly what Adam's (coupled) weight_decay adds;
  * generator: 4x4 stride-2 convs 64-128-256-512 down to 4x4 and transposed convs back (models/nets.py
    encoder_decoder_generator), batch norm; discriminator: the same conv stack to one sigmoid output (nets.py
    DiscoGANDiscriminator). The official output is a sigmoid on [0, 1] images, here tanh on [-1, 1];
    the reconstruction MSE is measured on the official [0, 1] scale (a quarter of the [-1, 1] one), so that the rate
    weighs it as there.
The iteration count (steps_done) is a buffer, so the schedule resumes exactly. One training step of the Trainer is
one official iteration: either a discriminator or a generator update. Batch norm: translations at evaluation use the
running statistics (the official code never leaves training mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel, other
from xgan.models.layers import gan_loss, squared_norm
from xgan.models.nets import DiscoGANDiscriminator, encoder_decoder_generator


@dataclass
class DiscoGANWeights:
    gan: float = 0.1  # the adversarial term's two parts (official code): 0.1 GAN + 0.9 feature matching,
    feature_matching: float = 0.9  # both times (1 - rate)
    reconstruction: float = 1.0  # times rate
    weight_decay: float = 1e-5  # official Adam weight_decay; 0: off


@dataclass
class DiscoGANConfig:
    name: str = "discogan"
    width: float = 1.0  # multiplies every channel count (1.0: 64 filters in the first layer, as the paper)
    norm: str = "batch"
    update_interval: int = 3  # discriminators at steps divisible by it, generators at the others; 1: both every step
    gan_curriculum: int = 10000  # steps at starting_rate, then default_rate (official flags of the same names)
    starting_rate: float = 0.01
    default_rate: float = 0.5
    weights: DiscoGANWeights = field(default_factory=DiscoGANWeights)

    def __post_init__(self) -> None:
        if self.update_interval < 1:
            raise ValueError(f"model.update_interval must be >= 1, not {self.update_interval}")
        for key in ("starting_rate", "default_rate"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"model.{key} must be in [0, 1], not {getattr(self, key)}")


def feature_matching(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """Sum over layers of the mean squared difference between the batch-mean features of real and fake images.
    The real side is a fixed target for the generators."""
    total = fake[0].new_zeros(()) if fake else torch.zeros(())
    for r, f in zip(real, fake):
        total = total + (r.detach().mean(0) - f.mean(0)).pow(2).mean()
    return total


class DiscoGAN(TranslationModel):
    config_class = DiscoGANConfig

    def __init__(self, cfg: DiscoGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.g_ab = encoder_decoder_generator(image_size, cfg.width, cfg.norm)
        self.g_ba = encoder_decoder_generator(image_size, cfg.width, cfg.norm)
        if not training:
            return  # translation needs the generators only
        self.d_a = DiscoGANDiscriminator(image_size, cfg.width, cfg.norm)
        self.d_b = DiscoGANDiscriminator(image_size, cfg.width, cfg.norm)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # drives the schedule
        self._step = 0

    # -- what the subclass (DistanceGAN) changes -------------------------------------------------------------
    def adversarial_targets(self) -> tuple[str, ...]:
        """The domains whose translations are judged (each has a discriminator)."""
        return ("a", "b")

    def constraint_losses(self, real: dict[str, torch.Tensor], fake: dict[str, torch.Tensor]) -> Losses:
        """The non-adversarial terms, {name: (weight, value)}, before the rate: DiscoGAN's reconstruction."""
        rec = sum(F.mse_loss(self.generator_into(s)(fake[other(s)]), real[s]) / 4 for s in ("a", "b"))  # on [0, 1]
        return {"reconstruction": (self.cfg.weights.reconstruction, rec)}

    # -- the contract ------------------------------------------------------------------------------------------
    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.generator_into(to)(x)

    def generator_into(self, domain: str) -> nn.Module:
        return self.g_ab if domain == "b" else self.g_ba

    def generators(self) -> list[nn.Module]:
        return [g for g in (self.g_ab, self.g_ba) if g is not None]

    def discriminator(self, domain: str) -> DiscoGANDiscriminator:
        return self.d_a if domain == "a" else self.d_b

    def phases(self) -> list[Phase]:
        critics = [p for d in self.adversarial_targets() for p in self.discriminator(d).parameters()]
        return [Phase("discriminator", critics, critic=True),
                Phase("generator", [p for g in self.generators() for p in g.parameters()])]

    def losses(self, phase: str, batch: Batch) -> Losses:
        if phase == "discriminator":  # the first phase of every step: count the step
            self._step = int(self.steps_done)
            if self.training:
                self.steps_done += 1
                self.begin_step(batch)
        n = self.cfg.update_interval
        critic_turn = self._step % n == 0
        if phase == "discriminator":
            return self.discriminator_losses(batch) if critic_turn else {}
        return self.generator_losses(batch) if n == 1 or not critic_turn else {}

    def begin_step(self, batch: Batch) -> None:
        """Called once per training step before any loss (DistanceGAN gathers its distance statistics here)."""

    def rate(self) -> float:
        """The weight of the non-adversarial terms: small during the GAN curriculum, then default_rate."""
        return self.cfg.starting_rate if self._step < self.cfg.gan_curriculum else self.cfg.default_rate

    # -- the losses --------------------------------------------------------------------------------------------
    def generator_losses(self, batch: Batch) -> Losses:
        w, rate = self.cfg.weights, self.rate()
        real = {"a": batch.a, "b": batch.b}
        fake = {t: self.generator_into(t)(real[other(t)]) for t in self.adversarial_targets()}
        gan, fm = batch.a.new_zeros(()), batch.a.new_zeros(())
        for t in self.adversarial_targets():
            logits, fake_features = self.discriminator(t)(fake[t])
            _, real_features = self.discriminator(t)(real[t])
            gan = gan + gan_loss(logits, True, "bce")
            fm = fm + feature_matching(real_features, fake_features)
        losses: Losses = {"gan": ((1 - rate) * w.gan, gan), "feature_matching": ((1 - rate) * w.feature_matching, fm)}
        losses |= {name: (rate * weight, value) for name, (weight, value) in self.constraint_losses(real, fake).items()}
        if w.weight_decay > 0:
            params = [p for g in self.generators() for p in g.parameters()]
            losses["weight_decay"] = (w.weight_decay / 2, squared_norm(params))
        return losses

    def discriminator_losses(self, batch: Batch) -> Losses:
        real = {"a": batch.a, "b": batch.b}
        losses: Losses = {}
        for t in self.adversarial_targets():
            with torch.no_grad():  # the current generators' translations (the official code's same-iteration forward)
                fake = self.generator_into(t)(real[other(t)])
            judge = self.discriminator(t)
            losses[f"d_{t}"] = (0.5, gan_loss(judge(real[t])[0], True, "bce") + gan_loss(judge(fake)[0], False, "bce"))
        if self.cfg.weights.weight_decay > 0:
            params = [p for t in self.adversarial_targets() for p in self.discriminator(t).parameters()]
            losses["weight_decay"] = (self.cfg.weights.weight_decay / 2, squared_norm(params))
        return losses

    def stats(self) -> dict[str, float]:
        return {"rate": self.rate()} if hasattr(self, "steps_done") else {}
