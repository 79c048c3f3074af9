"""A template to copy when adding a model: the smallest complete one, trained end to end by the tests.

Copy this file to models/<name>.py, register the class in models/__init__.py's MODELS, add a preset
presets/<name>-<task>.yaml and a test file tests/models/test_<name>.py; the registry test
(tests/models/test_registry.py) then trains, checkpoints, resumes, translates, evaluates and exports it.

The model here: two generators G: A -> B, F: B -> A and one critic per domain, with

    L_G = w_gan (|D_B(G(a)) - 1|^2 + |D_A(F(b)) - 1|^2) + w_cycle (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
    L_D = |D(real) - 1|^2 + |D(fake)|^2, for D_A and D_B

(CycleGAN without its image pool and identity term; models/cyclegan.py is the faithful one). What a model
must provide is marked MUST; the rest is optional (models/base.py says what each hook is for).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import gan_loss
from xgan.models.nets import encoder_decoder_generator, patch_discriminator


@dataclass
class TemplateWeights:
    gan: float = 1.0
    cycle: float = 10.0


@dataclass
class TemplateConfig:  # MUST: the `model:` section of a config; every key is read below
    name: str = "template"
    width: float = 1.0
    weights: TemplateWeights = field(default_factory=TemplateWeights)


class Template(TranslationModel):
    config_class = TemplateConfig  # MUST

    def __init__(self, cfg: TemplateConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.g_ab = encoder_decoder_generator(image_size, cfg.width, "instance")
        self.g_ba = encoder_decoder_generator(image_size, cfg.width, "instance")
        if training:  # MUST: training=False builds only what translate() needs
            self.d_a = patch_discriminator(image_size, cfg.width, "instance")
            self.d_b = patch_discriminator(image_size, cfg.width, "instance")
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:  # MUST
        return self.g_ab(x) if to == "b" else self.g_ba(x)

    def phases(self) -> list[Phase]:  # MUST: the optimisers, in the order they run each step
        return [Phase("generators", [*self.g_ab.parameters(), *self.g_ba.parameters()]),
                Phase("critics", [*self.d_a.parameters(), *self.d_b.parameters()], critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:  # MUST: {term: (weight, value)} for that phase
        w, a, b = self.cfg.weights, batch.a, batch.b
        if phase == "generators":
            fake_b, fake_a = self.g_ab(a), self.g_ba(b)
            self._fakes = (fake_a.detach(), fake_b.detach())  # the critics' phase runs next, on the same batch
            return {"gan": (w.gan, gan_loss(self.d_b(fake_b), True, "lsgan") + gan_loss(self.d_a(fake_a), True, "lsgan")),
                    "cycle": (w.cycle, F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b))}
        fake_a, fake_b = self._fakes
        return {"d_a": (1.0, gan_loss(self.d_a(a), True, "lsgan") + gan_loss(self.d_a(fake_a), False, "lsgan")),
                "d_b": (1.0, gan_loss(self.d_b(b), True, "lsgan") + gan_loss(self.d_b(fake_b), False, "lsgan"))}
