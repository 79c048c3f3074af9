"""CycleGAN (Zhu et al., ICCV'17): two generators and two discriminators, pixel-level cycle consistency.

    G: A -> B, F: B -> A
    L_GAN   = |D_B(G(a)) - 1|^2 + |D_A(F(b)) - 1|^2                 least squares (LSGAN)
    L_cycle = lambda (|F(G(a)) - a|_1 + |G(F(b)) - b|_1)
    L_idt   = lambda * lambda_idt (|G(b) - b|_1 + |F(a) - a|_1)     optional
    L_D     = (|D(real) - 1|^2 + |D(pool(fake))|^2) / 2, for D_A and D_B

CyCADA's semantic consistency (Hoffman et al., ICML'18), an option (`weights.semantic` > 0): a frozen classifier f of
the source domain (`semantic_classifier`, trained on A's labels) keeps its own decision through each translation,

    L_sem = CE(f(G(a)), argmax f(a)) + CE(f(F(b)), argmax f(b))

so the run reads A's labels (through f), as CyCADA's pixel level does.

`gan_mode` swaps the least-squares terms for sigmoid cross-entropy ('vanilla', the original GAN) or the WGAN-GP
critic (-D(real) + D(pool(fake)), halved as above, plus 10 times the gradient penalty; the generators minimise
-D(fake)); `spectral_norm` spectrally normalises the discriminators' convs. The defaults (lsgan, none) are the paper's.

Generators: 'resnet' (Johnson et al.: c7s1-64, d128, d256, residual blocks at 256 channels, u128, u64, c7s1-3;
6 blocks up to 128 px, 9 at 256 px), or 'encoder_decoder', DiscoGAN's 4x4 conv stack down to 4x4 and back
(seed 002's "DiscoGAN based", for 64 px). Discriminator: the PatchGAN (C64-C128-C256-C512, then one channel
per overlapping patch), one layer fewer at 32 px. Instance norm throughout, as in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import ImagePool, check_gan_mode, gan_loss, gradient_penalty
from xgan.models.nets import encoder_decoder_generator, patch_discriminator, resnet_generator
from xgan.models.teachers import LABEL_TRAINED, load_extractor

GENERATORS = ("resnet", "encoder_decoder")
GAN_MODES = ("lsgan", "vanilla", "wgan-gp")  # not 'wgan': weight clipping wants RMSprop, n_critic (models/dualgan.py)


@dataclass
class CycleGANWeights:
    gan: float = 1.0
    cycle: float = 10.0  # lambda
    identity: float = 0.5  # lambda_idt, a fraction of lambda; 0 switches the identity loss off
    gradient_penalty: float = 10.0  # WGAN-GP's lambda, with gan_mode=wgan-gp only
    semantic: float = 0.0  # CyCADA's semantic loss; 0: off (the paper's CycleGAN)


@dataclass
class CycleGANConfig:
    name: str = "cyclegan"
    generator: str = "resnet"  # resnet | encoder_decoder (DiscoGAN)
    width: float = 1.0  # multiplies every channel count (1.0: 64 filters in the first layer)
    residual_blocks: int = 0  # 0: 6 up to 128 px, 9 above
    norm: str = "instance"
    pool_size: int = 50
    gan_mode: str = "lsgan"  # lsgan (the paper's) | vanilla | wgan-gp
    spectral_norm: bool = False  # on the discriminators' convs
    semantic_classifier: str = "xgan.models.teachers:printed_digit_classifier"  # f of L_sem (weights.semantic > 0)
    weights: CycleGANWeights = field(default_factory=CycleGANWeights)

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise ValueError(f"model.generator must be one of {GENERATORS}, not '{self.generator}'")
        check_gan_mode(self.gan_mode, GAN_MODES)


class CycleGAN(TranslationModel):
    config_class = CycleGANConfig

    def __init__(self, cfg: CycleGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg

        def generator() -> nn.Sequential:
            if cfg.generator == "resnet":
                return resnet_generator(image_size, cfg.width, cfg.residual_blocks, cfg.norm)
            return encoder_decoder_generator(image_size, cfg.width, cfg.norm)

        self.g_ab, self.g_ba = generator(), generator()
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None
        if not training:
            return  # translation needs the generators only
        self.d_a, self.d_b = (patch_discriminator(image_size, cfg.width, cfg.norm, cfg.spectral_norm) for _ in range(2))
        shape = (3, image_size, image_size)
        self.pool_a, self.pool_b = ImagePool(cfg.pool_size, shape), ImagePool(cfg.pool_size, shape)
        if cfg.weights.semantic > 0:
            self.semantic = load_extractor(cfg.semantic_classifier, option="model.semantic_classifier",
                                           pretrained=pretrained)

    @property
    def reads_labels_a(self) -> bool:
        return self.cfg.weights.semantic > 0 and self.cfg.semantic_classifier in LABEL_TRAINED

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.g_ab(x) if to == "b" else self.g_ba(x)

    def phases(self) -> list[Phase]:
        return [Phase("generator", [*self.g_ab.parameters(), *self.g_ba.parameters()]),
                Phase("discriminator", [*self.d_a.parameters(), *self.d_b.parameters()], critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        if phase == "generator":
            return self.generator_losses(batch.a, batch.b)
        return self.discriminator_losses(batch.a, batch.b)

    def generator_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        w, kind = self.cfg.weights, check_gan_mode(self.cfg.gan_mode)
        fake_b, fake_a = self.g_ab(a), self.g_ba(b)
        self._fakes = (fake_a.detach(), fake_b.detach())
        losses: Losses = {
            "gan": (w.gan, gan_loss(self.d_b(fake_b), True, kind) + gan_loss(self.d_a(fake_a), True, kind)),
            "cycle": (w.cycle, F.l1_loss(self.g_ba(fake_b), a) + F.l1_loss(self.g_ab(fake_a), b)),
        }
        if w.identity > 0:
            losses["identity"] = (w.cycle * w.identity, F.l1_loss(self.g_ab(b), b) + F.l1_loss(self.g_ba(a), a))
        if w.semantic > 0:
            losses["semantic"] = (w.semantic, self.semantic_loss(a, fake_b) + self.semantic_loss(b, fake_a))
        return losses

    def semantic_loss(self, x: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
        """CE(f(translation), argmax f(x)): the frozen classifier's decision on the input, kept by its translation."""
        with torch.no_grad():
            decision = self.semantic(x).argmax(1)
        return F.cross_entropy(self.semantic(translated), decision)

    def discriminator_losses(self, a: torch.Tensor, b: torch.Tensor) -> Losses:
        if self._fakes is None:
            return {}
        fake_a, fake_b = self._fakes
        kind = check_gan_mode(self.cfg.gan_mode)
        losses: Losses = {}
        for name, judge, pool, real, fake in (("d_a", self.d_a, self.pool_a, a, fake_a),
                                              ("d_b", self.d_b, self.pool_b, b, fake_b)):
            fake = pool.query(fake)
            losses[name] = (0.5, gan_loss(judge(real), True, kind) + gan_loss(judge(fake), False, kind))
            if self.cfg.gan_mode == "wgan-gp":
                losses[f"{name}_gp"] = (self.cfg.weights.gradient_penalty, gradient_penalty(judge, real, fake))
        return losses
