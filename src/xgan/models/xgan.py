"""XGAN (Royer et al., arXiv 1711.05139): a dual domain-adversarial auto-encoder with a shared embedding.

    z1 = e1(x1), z2 = e2(x2)                      shared embedding
    L_rec  = |d1(z1) - x1|^2 + |d2(z2) - x2|^2     reconstruction
    L_dann = CE(c(R(z)), domain)                   domain-adversarial, R = gradient reversal
    L_sem  = |e2(d2(z1)) - z1| + |e1(d1(z2)) - z2|  semantic consistency, both directions
    L_gan  = GAN loss of D2 on d2(z1) (and of D1 on d1(z2))            optional
    L_teach= |T(x1) - W z1|                        optional, T a frozen pretrained feature extractor
    L_task = CE(h(z1), y1)                        optional task tower h on A's labels y1 (talk, VisDA); with
                                                   model.tower_deform, z1 = e1(deform(x1)) (Simard et al. 2003)
    L_im   = H(softmax(h(z2))) - H(mean softmax(h(z2)))  optional information maximisation on B (SHOT): each
                                                   prediction confident, the batch spread over the classes
    L_pl   = CE(h(z2), argmax h(z2)) where max softmax h(z2) >= threshold   optional confident pseudo-labels on B

Layer table (seed 001, 64 px): e: 3 -> 32 -> 64 -> [128 -> 256 -> FC 1024 -> FC 1024];
d: 1024 -> [4x4x512 -> 8x8x256] -> 128 -> 64 -> 3; brackets mark the layers shared by the two domains in
the default 'partial' sharing. Other sizes keep the pattern: one fewer early stage per halving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.distributed import mean_over_ranks, rank_share
from xgan.models.base import Losses, TranslationModel
from xgan.models.deform import deform
from xgan.models.layers import (GradientReversal, ImagePool, ProjectTo4x4, down, downsamplings, gan_loss, make_norm,
                                says_real, scaled, shared_pair, up)
from xgan.models.teachers import load_extractor

SHARING = ("none", "partial", "full")
DISTANCES = ("l1", "l2", "cosine")


@dataclass
class XGANWeights:
    rec: float = 1.0
    dann: float = 1.0
    semantic: float = 1.0
    gan: float = 0.0  # 0 switches the GAN loss (and its discriminators) off
    teacher: float = 0.0  # 0 switches the teacher off
    # DTN's f-constancy with the teacher as f: T(d2(e1(x1))) should equal T(x1). 0 switches it off.
    teacher_consistency: float = 0.0
    # The 1 -> 2 translation should not change when the source image's colours are negated (x -> -x): for
    # sources that come in both polarities (printed digits) and a target that has one (MNIST). 0: off.
    invariance: float = 0.0
    # The talk's classification "task tower" on the embedding, trained on domain A's class labels (its VisDA
    # setting; rendered digits come labelled). B's labels are never used. 0 switches it off.
    task_tower: float = 0.0
    # Conditional entropy of the tower's predictions on domain B (Shu et al. 2018, VADA): B's embeddings are
    # pushed away from the tower's class boundaries, into A's class clusters. Needs the tower.
    target_entropy: float = 0.0
    # Entropy of the tower's mean prediction over a B batch, maximised (the diversity half of information
    # maximisation, Liang et al. 2020, SHOT): without it, the entropy term can settle B's digits into few classes.
    target_diversity: float = 0.0
    # Self-training on B (confidence-thresholded pseudo-labels, as in FixMatch): cross-entropy of the tower on B's
    # embeddings toward its own prediction, for the embeddings it already classifies with confidence >=
    # model.pseudo_label_threshold (averaged over the whole batch). Needs the tower.
    target_pseudo_label: float = 0.0


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
    pool_size: int = 50  # history of translations shown to the discriminator
    teacher: str = ""  # "package.module:factory" returning a frozen nn.Module from images to feature vectors
    teacher_weights: str = ""  # optional safetensors file loaded into the teacher
    task_classes: int = 10  # outputs of the task tower (weights.task_tower)
    # > 0: the tower learns A's classes from randomly deformed copies of A's images (affine, then elastic
    # displacements of this many pixels; xgan.models.deform), so that the encoder files printed digits
    # bent toward handwriting under their own class. 0: the tower reads e1(x1) itself.
    tower_deform: float = 0.0
    # The B-side terms (target_entropy, target_diversity, target_pseudo_label) start after this many steps: on a
    # tower that does not yet read A's classes, they would settle B's digits into wrong classes for good.
    target_warmup_steps: int = 0
    pseudo_label_threshold: float = 0.8  # weights.target_pseudo_label: the tower's confidence that makes a label
    weights: XGANWeights = field(default_factory=XGANWeights)

    def __post_init__(self) -> None:
        if self.sharing not in SHARING:
            raise ValueError(f"model.sharing must be one of {SHARING}, not '{self.sharing}'")
        if self.semantic_distance not in DISTANCES:
            raise ValueError(f"model.semantic_distance must be one of {DISTANCES}, not '{self.semantic_distance}'")
        if self.dann_classes not in (2, 4):
            raise ValueError(f"model.dann_classes must be 2 or 4, not {self.dann_classes}")
        if (self.weights.teacher > 0 or self.weights.teacher_consistency > 0) and not self.teacher:
            raise ValueError("model.weights.teacher or teacher_consistency > 0 needs model.teacher ('package.module:factory')")
        if self.tower_deform < 0:
            raise ValueError(f"model.tower_deform must be >= 0 (pixels of elastic displacement), not {self.tower_deform}")
        for name in ("target_entropy", "target_diversity", "target_pseudo_label"):
            if getattr(self.weights, name) > 0 and self.weights.task_tower <= 0:
                raise ValueError(f"model.weights.{name} > 0 needs the task tower (model.weights.task_tower > 0); "
                                 f"without the tower, set model.weights.{name}=0")


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


class XGAN(TranslationModel):
    config_class = XGANConfig

    def __init__(self, cfg: XGANConfig, image_size: int, pretrained: bool = True) -> None:
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

        dann_outputs = 1 if cfg.dann_classes == 2 else 4  # one sigmoid logit, or a softmax over four classes
        self.domain_classifier = nn.Sequential(
            GradientReversal(), nn.Linear(cfg.embedding_dim, cfg.embedding_dim // 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(cfg.embedding_dim // 4, dann_outputs))

        self.use_gan = cfg.weights.gan > 0
        if self.use_gan:
            shape = (3, image_size, image_size)
            self.discriminator2, self.pool12 = discriminator(image_size, cfg.width), ImagePool(cfg.pool_size, shape)
            if cfg.gan_both_directions:
                self.discriminator1, self.pool21 = discriminator(image_size, cfg.width), ImagePool(cfg.pool_size, shape)

        self.teacher = None
        if cfg.weights.teacher > 0 or cfg.weights.teacher_consistency > 0:
            self.teacher = load_extractor(cfg.teacher, cfg.teacher_weights, pretrained=pretrained)
            with torch.no_grad():
                teacher_dim = self.teacher(torch.zeros(1, 3, image_size, image_size)).flatten(1).shape[1]
            self.to_teacher = nn.Identity() if teacher_dim == cfg.embedding_dim else nn.Linear(cfg.embedding_dim, teacher_dim)
        if cfg.weights.task_tower > 0:
            self.label_classes_a = cfg.task_classes
            self.task_tower = nn.Linear(cfg.embedding_dim, cfg.task_classes)
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))  # drives the reversal ramp
        self._translations: tuple[torch.Tensor, torch.Tensor] | None = None
        self._stats: dict[str, float] = {}

    # -- the maps a user calls -----------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.e1 if domain == "a" else self.e2)(x)

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return (self.d1 if domain == "a" else self.d2)(z)

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
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
    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        discriminators = [m for m in (getattr(self, "discriminator1", None), getattr(self, "discriminator2", None)) if m]
        autoencoder = [m for name, m in self.named_children() if not name.startswith(("discriminator", "teacher"))]
        groups = {"autoencoder": list(nn.ModuleList(autoencoder).parameters())}
        if discriminators:
            groups["discriminator"] = list(nn.ModuleList(discriminators).parameters())
        return groups

    def losses(self, phase: str, a: torch.Tensor, b: torch.Tensor, labels_a: torch.Tensor | None = None) -> Losses:
        return self.autoencoder_losses(a, b, labels_a) if phase == "autoencoder" else self.discriminator_losses(b, a)

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
            fool = gan_loss(self.discriminator2(x12), True, self.cfg.gan_loss)
            if self.cfg.gan_both_directions:
                fool = fool + gan_loss(self.discriminator1(x21), True, self.cfg.gan_loss)
            losses["gan"] = (w.gan, fool)
            self._translations = (x12.detach(), x21.detach())
        if w.invariance > 0:
            losses["invariance"] = (w.invariance, F.l1_loss(self.d2(self.e1(-x1)), x12))
        if self.label_classes_a:
            if labels1 is None:
                raise ValueError("model.weights.task_tower > 0: losses() needs domain A's labels")
            z_tower = self.e1(deform(x1, elastic=self.cfg.tower_deform, share=rank_share())) \
                if self.cfg.tower_deform > 0 else z1
            losses["task_tower"] = (w.task_tower, F.cross_entropy(self.task_tower(z_tower), labels1))
            if (w.target_entropy > 0 or w.target_diversity > 0 or w.target_pseudo_label > 0) \
                    and step >= self.cfg.target_warmup_steps:
                logits2 = self.task_tower(z2)
                log_p = F.log_softmax(logits2, dim=1)
                if w.target_entropy > 0:
                    losses["target_entropy"] = (w.target_entropy, -(log_p.exp() * log_p).sum(1).mean())
                if w.target_diversity > 0:
                    log_mean_p = torch.logsumexp(log_p, dim=0) - math.log(len(log_p))  # log of the batch mean
                    losses["target_diversity"] = (w.target_diversity, (log_mean_p.exp() * log_mean_p).sum())
                if w.target_pseudo_label > 0:
                    confidence, guess = log_p.detach().exp().max(dim=1)
                    confident = (confidence >= self.cfg.pseudo_label_threshold).float()
                    self._stats["pseudo_label_fraction"] = float(confident.mean())
                    losses["target_pseudo_label"] = (w.target_pseudo_label,
                                                     (F.cross_entropy(logits2, guess, reduction="none") * confident).mean())
        if self.teacher is not None:
            target = self.teacher(x1).flatten(1)
            losses["teacher"] = (w.teacher, self.semantic_distance(self.to_teacher(z1), target).mean())
            if w.teacher_consistency > 0:
                losses["teacher_consistency"] = (w.teacher_consistency,
                                                 self.semantic_distance(self.teacher(x12).flatten(1), target).mean())
        return losses

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
        return dict(self._stats)
