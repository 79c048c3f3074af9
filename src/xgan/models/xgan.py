"""XGAN (Royer et al., arXiv 1711.05139): a dual domain-adversarial auto-encoder with a shared embedding.

    z1 = e1(x1), z2 = e2(x2)                         the shared embedding
    L_rec   = |d1(z1) - x1|^2 + |d2(z2) - x2|^2       reconstruction
    L_dann  = CE(c(R(z1), R(z2)), domain)            domain-adversarial; R reverses the gradient, so the encoders
                                                     learn to fool the classifier c (4 classes: also z21, z12)
    L_sem   = |e2(d2(z1)) - z1| + |e1(d1(z2)) - z2|   semantic consistency, both directions
    L_gan   = GAN(D2, d2(z1)) [+ GAN(D1, d1(z2))]     optional; D updated only while its accuracy < threshold
    L_teach = |T(x1) - W z1|                          optional; T a frozen pretrained feature extractor
    L_XGAN  = w_rec L_rec + w_dann L_dann + w_sem L_sem + w_gan L_gan + w_teach L_teach

`model.adaptation` adds the domain-adaptation terms of models/adaptation.py (task tower and friends, which read
domain A's labels); they are not the paper's.

Layer table (seed 001, 64 px; models/nets.py): e: 3 -> 32 -> 64 -> [128 -> 256 -> FC 1024 -> FC 1024];
d: 1024 -> [4x4x512 -> 8x8x256] -> 128 -> 64 -> 3; brackets mark the layers shared by the two domains in
the default 'partial' sharing. Other sizes keep the pattern: one fewer early stage per halving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from xgan.distributed import mean_over_ranks
from xgan.models.adaptation import AdaptationConfig, DomainAdaptation
from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.layers import GradientReversal, ImagePool, downsamplings, gan_loss, says_real, shared_pair
from xgan.models.nets import decoder_layers, discriminator, encoder_layers
from xgan.models.teachers import LABEL_TRAINED, load_extractor

SHARING = ("none", "partial", "full")
DISTANCES = ("l1", "l2", "cosine")


@dataclass
class XGANWeights:
    rec: float = 1.0
    dann: float = 1.0
    semantic: float = 1.0
    gan: float = 0.0  # 0 switches the GAN loss (and its discriminators) off
    teacher: float = 0.0  # 0 switches the teacher off


@dataclass
class XGANConfig:
    name: str = "xgan"
    sharing: str = "partial"  # none | partial | full (fully shared encoder)
    embedding_dim: int = 1024
    width: float = 1.0  # multiplies every channel count of the layer table (1.0 = seed 001)
    # layer (GroupNorm of one group) | instance | batch | none, after each inner conv. Not instance by default:
    # it divides out each channel's amplitude on the decoder's 4x4 projection, where the embedding lives, and
    # every input decodes to the same image; batch mixes the two domains' statistics in its running averages.
    norm: str = "layer"
    dann_classes: int = 2  # 2: e1(x1) vs e2(x2); 4: also e1(d1(e2(x2))) and e2(d2(e1(x1))) (talk appendix)
    dann_ramp_steps: int = 0  # reversal strength rises 0 -> 1 over these steps (Ganin et al.); 0: always 1
    semantic_distance: str = "l1"  # l1 | l2 | cosine
    gan_both_directions: bool = False  # also a discriminator on 2 -> 1 translations
    gan_loss: str = "bce"  # bce | lsgan
    discriminator_threshold: float = 0.8  # the discriminator is updated only while its accuracy is below this
    discriminator_width: float = 0.0  # the discriminators' channel multiplier; 0: model.width
    pool_size: int = 50  # history of translations shown to the discriminator
    teacher: str = ""  # "package.module:factory" returning a frozen nn.Module from images to feature vectors
    teacher_weights: str = ""  # optional safetensors file loaded into the teacher
    weights: XGANWeights = field(default_factory=XGANWeights)
    adaptation: AdaptationConfig = field(default_factory=AdaptationConfig)  # models/adaptation.py
    # where the keys of configs saved before the add-ons moved to `adaptation` (December 2026) live now; read by
    # config.move_keys, so saved runs and old overrides still load
    moved_keys: ClassVar[dict[str, str | None]] = {
        **{f"weights.{k}": f"adaptation.{k}" for k in ("task_tower", "target_entropy", "target_diversity",
                                                         "target_pseudo_label", "invariance")},
        **{k: f"adaptation.{k}" for k in ("task_classes", "tower_deform", "target_warmup_steps",
                                          "pseudo_label_threshold")},
        "weights.teacher_consistency": None}

    def __post_init__(self) -> None:
        if self.sharing not in SHARING:
            raise ValueError(f"model.sharing must be one of {SHARING}, not '{self.sharing}'")
        if self.semantic_distance not in DISTANCES:
            raise ValueError(f"model.semantic_distance must be one of {DISTANCES}, not '{self.semantic_distance}'")
        if self.dann_classes not in (2, 4):
            raise ValueError(f"model.dann_classes must be 2 or 4, not {self.dann_classes}")
        if self.weights.teacher > 0 and not self.teacher:
            raise ValueError("model.weights.teacher > 0 needs model.teacher ('package.module:factory')")


class XGAN(TranslationModel):
    config_class = XGANConfig

    def __init__(self, cfg: XGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        stages = downsamplings(image_size)
        shared_convs = min(2, stages - 1)  # the seed shares the last two convs; tiny sizes keep one private
        encoder_shared = {"none": [], "partial": list(range(stages - shared_convs, stages + 2)),
                          "full": list(range(stages + 2))}[cfg.sharing]
        decoder_shared = [] if cfg.sharing == "none" else [0, 1]
        args = (image_size, cfg.embedding_dim, cfg.width, cfg.norm)
        self.e1, self.e2 = shared_pair(lambda: encoder_layers(*args), encoder_shared)
        self.d1, self.d2 = shared_pair(lambda: decoder_layers(*args), decoder_shared)
        self.decoders_share = len(decoder_shared)  # leading layers d1 and d2 have in common

        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # drives the reversal ramp
        self._translations: tuple[torch.Tensor, torch.Tensor] | None = None
        self._stats: dict[str, float] = {}
        if cfg.adaptation.on:  # built for inference too: its task tower is the classify() readout
            self.adaptation = DomainAdaptation(cfg.adaptation, cfg.embedding_dim)
            self.label_classes_a = self.adaptation.label_classes
        if not training:
            return  # translation needs the encoders and decoders only (and classify the tower)
        dann_outputs = 1 if cfg.dann_classes == 2 else 4  # one sigmoid logit, or a softmax over four classes
        self.domain_classifier = nn.Sequential(
            GradientReversal(), nn.Linear(cfg.embedding_dim, cfg.embedding_dim // 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(cfg.embedding_dim // 4, dann_outputs))

        self.use_gan = cfg.weights.gan > 0
        if self.use_gan:
            shape = (3, image_size, image_size)
            width = cfg.discriminator_width or cfg.width
            self.discriminator2, self.pool12 = discriminator(image_size, width), ImagePool(cfg.pool_size, shape)
            if cfg.gan_both_directions:
                self.discriminator1, self.pool21 = discriminator(image_size, width), ImagePool(cfg.pool_size, shape)

        self.teacher = None
        if cfg.weights.teacher > 0:
            self.teacher = load_extractor(cfg.teacher, cfg.teacher_weights, pretrained=pretrained)
            with torch.no_grad():
                teacher_dim = self.teacher(torch.zeros(1, 3, image_size, image_size)).flatten(1).shape[1]
            self.to_teacher = nn.Identity() if teacher_dim == cfg.embedding_dim else nn.Linear(cfg.embedding_dim, teacher_dim)

    @property
    def reads_labels_a(self) -> bool:
        return self.label_classes_a > 0 or (self.cfg.weights.teacher > 0 and self.cfg.teacher in LABEL_TRAINED)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Checkpoints saved before the add-ons moved (December 2026) hold the tower as task_tower.*."""
        state_dict = {("adaptation." + k if k.startswith("task_tower.") else k): v for k, v in state_dict.items()}
        return super().load_state_dict(state_dict, strict, assign)

    # -- the maps a user calls -----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.e1 if domain == "a" else self.e2)(x)

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.d1 if domain == "a" else self.d2)(z)

    def classify(self, x: torch.Tensor, domain: str) -> torch.Tensor | None:
        """The task tower on the shared embedding, if trained (models/adaptation.py)."""
        if not getattr(self, "adaptation", None) or not self.adaptation.label_classes:
            return None
        return self.adaptation.task_tower(self.encode(x, domain))

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, "b" if to == "a" else "a"), to)

    def decode_both(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(d1(z), d2(z)), running the layers the two decoders share once."""
        h = self.d1[:self.decoders_share](z)
        return self.d1[self.decoders_share:](h), self.d2[self.decoders_share:](h)

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.decode(self.encode(x, domain), domain)

    def semantic_distance(self, z: torch.Tensor, z_back: torch.Tensor) -> torch.Tensor:
        """Per-sample distance between an embedding and the embedding of its translation."""
        if self.cfg.semantic_distance == "l1":
            return (z - z_back).abs().mean(dim=1)
        if self.cfg.semantic_distance == "l2":
            return (z - z_back).pow(2).mean(dim=1)
        return 1 - F.cosine_similarity(z, z_back, dim=1)

    # -- training ------------------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        discriminators = [getattr(self, name) for name in ("discriminator1", "discriminator2") if hasattr(self, name)]
        frozen = ("discriminator1", "discriminator2", "teacher")
        autoencoder = [m for name, m in self.named_children() if name not in frozen]
        phases = [Phase("autoencoder", list(nn.ModuleList(autoencoder).parameters()))]
        if discriminators:
            phases.append(Phase("discriminator", list(nn.ModuleList(discriminators).parameters()), critic=True))
        return phases

    def losses(self, phase: str, batch: Batch) -> Losses:
        if phase == "autoencoder":
            return self.autoencoder_losses(batch.a, batch.b, batch.labels_a)
        return self.discriminator_losses(batch.b, batch.a)

    def reversal_strength(self) -> float:
        """Ganin et al.'s schedule 2 / (1 + exp(-10 p)) - 1: the encoders first learn to reconstruct, then to
        fool a domain classifier that has had time to become informative."""
        if self.cfg.dann_ramp_steps <= 0:
            return 1.0
        progress = min(1.0, int(self.steps_done) / self.cfg.dann_ramp_steps)
        return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0

    def autoencoder_losses(self, x1: torch.Tensor, x2: torch.Tensor, labels1: torch.Tensor | None = None) -> Losses:
        w = self.cfg.weights
        self.domain_classifier[0].scale = self.reversal_strength()
        step = int(self.steps_done)  # this step's index (in eval mode: the number of steps trained)
        if self.training:
            self.steps_done += 1
        z1, z2 = self.e1(x1), self.e2(x2)
        (x11, x12), (x21, x22) = self.decode_both(z1), self.decode_both(z2)  # reconstructions and translations
        z12, z21 = self.e2(x12), self.e1(x21)  # the translations' embeddings, read by the other domain's encoder
        losses: Losses = {
            "rec": (w.rec, F.mse_loss(x11, x1) + F.mse_loss(x22, x2)),
            "dann": (w.dann, self.domain_adversarial_loss(z1, z2, z12, z21)),
            "semantic": (w.semantic, self.semantic_distance(z1, z12).mean() + self.semantic_distance(z2, z21).mean()),
        }
        if self.use_gan:
            losses["gan"] = (w.gan, self.fool_discriminators(x12, x21))
            self._translations = (x12.detach(), x21.detach())
        if self.cfg.adaptation.on:
            losses |= self.adaptation(self.e1, self.d2, x1, z1, z2, x12, labels1, step)
        if self.teacher is not None:
            losses["teacher"] = (w.teacher, self.semantic_distance(self.to_teacher(z1), self.teacher(x1).flatten(1)).mean())
        return losses

    def fool_discriminators(self, x12: torch.Tensor, x21: torch.Tensor) -> torch.Tensor:
        fool = gan_loss(self.discriminator2(x12), True, self.cfg.gan_loss)
        if self.cfg.gan_both_directions:
            fool = fool + gan_loss(self.discriminator1(x21), True, self.cfg.gan_loss)
        return fool

    def domain_adversarial_loss(self, z1: torch.Tensor, z2: torch.Tensor, z12: torch.Tensor, z21: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the domain classifier; the gradient-reversal layer inside it turns it adversarial."""
        if self.cfg.dann_classes == 2:
            logits = self.domain_classifier(torch.cat([z1, z2])).squeeze(1)
            labels = torch.cat([torch.zeros(len(z1)), torch.ones(len(z2))]).to(logits)
            return F.binary_cross_entropy_with_logits(logits, labels)
        embeddings = [z1, z2, z21, z12]  # classes: e1(x1), e2(x2), e1(d1(e2(x2))), e2(d2(e1(x1)))
        logits = self.domain_classifier(torch.cat(embeddings))
        labels = torch.cat([torch.full((len(z),), k, dtype=torch.long) for k, z in enumerate(embeddings)])
        return F.cross_entropy(logits, labels.to(logits.device))

    def discriminator_losses(self, real2: torch.Tensor, real1: torch.Tensor) -> Losses:
        """Real vs pooled translations, for each discriminator whose accuracy is still below the threshold."""
        if self._translations is None:
            return {}
        x12, x21 = self._translations
        judged = [("gan_d2", self.discriminator2, self.pool12, real2, x12)]
        if self.cfg.gan_both_directions:
            judged.append(("gan_d1", self.discriminator1, self.pool21, real1, x21))
        losses: Losses = {}
        for name, judge, pool, real, fake in judged:
            real_logits, fake_logits = judge(real), judge(pool.query(fake))
            kind = self.cfg.gan_loss
            accuracy = (says_real(real_logits, kind).float().mean() + (~says_real(fake_logits, kind)).float().mean()) / 2
            self._stats[f"{name}_accuracy"] = float(mean_over_ranks(accuracy))  # one decision on every rank
            if self._stats[f"{name}_accuracy"] < self.cfg.discriminator_threshold:
                losses[name] = (1.0, gan_loss(real_logits, True, kind) + gan_loss(fake_logits, False, kind))
        return losses

    def stats(self) -> dict[str, float]:
        stats = dict(self._stats)
        if hasattr(self, "adaptation") and self.adaptation.pseudo_label_fraction is not None:
            stats["pseudo_label_fraction"] = self.adaptation.pseudo_label_fraction
        return stats
