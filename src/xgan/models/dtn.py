"""DTN, the Domain Transfer Network (Taigman et al., ICLR'17): a generator g on top of a fixed pretrained encoder f,
translating source (A) to target (B) only.

    G(x) = g(f(x))
    L_GAN   = CE(D(G(x_s)), real) + CE(D(G(x_t)), real)      D is three-way: fake-from-source, fake-from-target, real
    L_CONST = |f(G(x_s)) - f(x_s)|^2                         f-constancy on the source
    L_TID   = |G(x_t) - x_t|^2                               target identity
    L_TV    = total variation of G(x_s)
    L_D     = CE(D(G(x_s)), fake-source) + CE(D(G(x_t)), fake-target) + CE(D(x_t), real)

f is a `package.module:factory` extractor; on digits, the printed-digit LeNet (a classifier of the source domain,
as in the paper). `finetune_encoder` is seed 000's "fine-tuned DTN": f is trained further with g's losses.
g is XGAN's decoder of the seed table, so the two differ in what the paper says they differ in, not in capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.nets import decoder_layers, discriminator
from xgan.models.teachers import LABEL_TRAINED, load_extractor

FAKE_FROM_SOURCE, FAKE_FROM_TARGET, REAL_TARGET = 0, 1, 2  # the three-way discriminator's classes


@dataclass
class DTNWeights:
    gan: float = 1.0
    const: float = 15.0  # alpha; the paper's digits setting
    tid: float = 15.0  # beta
    tv: float = 0.0  # gamma; the paper uses 0 on digits and 0.05 on faces


@dataclass
class DTNConfig:
    name: str = "dtn"
    encoder: str = "xgan.models.teachers:printed_digit_features"  # f: frozen, pretrained on the source domain
    encoder_weights: str = ""  # optional safetensors file loaded into f
    finetune_encoder: bool = False  # seed 000's fine-tuned DTN: f trains with g
    width: float = 1.0  # of g and D, as in XGAN's layer table
    norm: str = "layer"
    weights: DTNWeights = field(default_factory=DTNWeights)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class DTN(TranslationModel):
    config_class = DTNConfig
    directions = ("b",)

    def __init__(self, cfg: DTNConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.f = load_extractor(cfg.encoder, cfg.encoder_weights, option="model.encoder", pretrained=pretrained)
        if cfg.finetune_encoder:
            self.f.requires_grad_(True)
        with torch.no_grad():
            feature_dim = self.f(torch.zeros(1, 3, image_size, image_size)).flatten(1).shape[1]
        self.g = nn.Sequential(*decoder_layers(image_size, feature_dim, cfg.width, cfg.norm))
        self._fakes: tuple[torch.Tensor, torch.Tensor] | None = None
        if training:  # translation needs f and g only
            self.discriminator = discriminator(image_size, cfg.width, outputs=3)

    def train(self, mode: bool = True) -> DTN:
        super().train(mode)
        if not self.cfg.finetune_encoder:
            self.f.eval()  # a fixed f stays in inference mode
        return self

    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.f(x).flatten(1)  # one f for both domains: DTN's fixed embedding

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        if domain != "b":
            raise ValueError("DTN decodes into the target domain (b) only")
        return self.g(z)

    @property
    def reads_labels_a(self) -> bool:
        return self.cfg.encoder in LABEL_TRAINED  # f was trained on labelled source images

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if to != "b":
            raise ValueError("DTN translates source (a) to target (b) only")
        return self.g(self.encode(x, "a"))

    def phases(self) -> list[Phase]:
        generator = list(self.g.parameters()) + (list(self.f.parameters()) if self.cfg.finetune_encoder else [])
        return [Phase("generator", generator), Phase("discriminator", list(self.discriminator.parameters()), critic=True)]

    def losses(self, phase: str, batch: Batch) -> Losses:
        return self.generator_losses(batch.a, batch.b) if phase == "generator" else self.discriminator_losses(batch.b)

    def generator_losses(self, source: torch.Tensor, target: torch.Tensor) -> Losses:
        w = self.cfg.weights
        f_source = self.encode(source, "a")
        from_source, from_target = self.g(f_source), self.g(self.encode(target, "b"))
        self._fakes = (from_source.detach(), from_target.detach())
        real = torch.full((len(source),), REAL_TARGET, dtype=torch.long, device=source.device)
        return {
            "gan": (w.gan, F.cross_entropy(self.discriminator(from_source), real)
                    + F.cross_entropy(self.discriminator(from_target), real[:len(target)])),
            "const": (w.const, F.mse_loss(self.encode(from_source, "b"), f_source)),
            "tid": (w.tid, F.mse_loss(from_target, target)),
            "tv": (w.tv, total_variation(from_source)),
        }

    def discriminator_losses(self, target: torch.Tensor) -> Losses:
        if self._fakes is None:
            return {}
        from_source, from_target = self._fakes
        images = torch.cat([from_source, from_target, target])
        labels = torch.cat([torch.full((len(x),), label, dtype=torch.long)
                            for x, label in ((from_source, FAKE_FROM_SOURCE), (from_target, FAKE_FROM_TARGET),
                                             (target, REAL_TARGET))]).to(target.device)
        return {"d": (1.0, F.cross_entropy(self.discriminator(images), labels))}
