"""Domain-adaptation add-ons for a shared embedding: not XGAN's paper, but what made the digits task work.

    L_task = CE(h(z1), y1)                       the talk's task tower h on domain A's labels y1 (its VisDA
                                                 setting); with tower_deform, z1 = e1(deform(x1)) (Simard et al.)
    L_ent  = H(softmax(h(z2)))                   conditional entropy on B (VADA, Shu et al. 2018)
    L_div  = -H(mean softmax(h(z2)))             diversity on B; with L_ent, SHOT's information maximisation
    L_pl   = CE(h(z2), argmax h(z2)) where max softmax h(z2) >= threshold     confident pseudo-labels (FixMatch)
    L_inv  = |d2(e1(-x1)) - d2(e1(x1))|_1        the 1 -> 2 translation ignores the source's polarity

Every term but L_inv reads domain A's labels, so none of them answers a user without labels; B's labels are
never read. The B-side terms start after `target_warmup_steps`, once the tower reads A's classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from xgan.distributed import rank_share
from xgan.models.base import Losses
from xgan.models.deform import deform


@dataclass
class AdaptationConfig:
    task_tower: float = 0.0  # weight of L_task; 0 switches the tower (and every term that needs it) off
    task_classes: int = 10  # outputs of the tower
    # > 0: the tower learns A's classes from randomly deformed copies of A's images (affine, then elastic
    # displacements of this many pixels), so that the encoder files printed digits bent toward handwriting under
    # their own class. 0: the tower reads e1(x1) itself.
    tower_deform: float = 0.0
    target_entropy: float = 0.0  # weight of L_ent
    target_diversity: float = 0.0  # weight of L_div
    target_pseudo_label: float = 0.0  # weight of L_pl (averaged over the whole batch)
    pseudo_label_threshold: float = 0.8  # the tower's confidence that makes a pseudo-label
    # The B-side terms start after this many steps: on a tower that does not yet read A's classes, they would
    # settle B's digits into wrong classes for good.
    target_warmup_steps: int = 0
    invariance: float = 0.0  # weight of L_inv: for sources in both polarities and a target in one (printed -> MNIST)

    def __post_init__(self) -> None:
        if self.tower_deform < 0:
            raise ValueError(f"model.adaptation.tower_deform must be >= 0 (pixels of elastic displacement), "
                             f"not {self.tower_deform}")
        for name in ("target_entropy", "target_diversity", "target_pseudo_label"):
            if getattr(self, name) > 0 and self.task_tower <= 0:
                raise ValueError(f"model.adaptation.{name} > 0 needs the task tower (model.adaptation.task_tower > 0);"
                                 f" without the tower, set model.adaptation.{name}=0")

    @property
    def on(self) -> bool:
        return self.task_tower > 0 or self.invariance > 0


class DomainAdaptation(nn.Module):
    """The terms above for encoders e1, e2 and decoder d2 around an embedding of `embedding_dim`."""

    def __init__(self, cfg: AdaptationConfig, embedding_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.label_classes = cfg.task_classes if cfg.task_tower > 0 else 0
        if self.label_classes:
            self.task_tower = nn.Linear(embedding_dim, cfg.task_classes)
        self.pseudo_label_fraction: float | None = None

    def forward(self, e1: Callable, d2: Callable, x1: torch.Tensor, z1: torch.Tensor, z2: torch.Tensor,
                x12: torch.Tensor, labels1: torch.Tensor | None, step: int) -> Losses:
        cfg, losses = self.cfg, {}
        if cfg.invariance > 0:
            losses["invariance"] = (cfg.invariance, F.l1_loss(d2(e1(-x1)), x12))
        if not self.label_classes:
            return losses
        if labels1 is None:
            raise ValueError("model.adaptation.task_tower > 0: the batch needs domain A's labels")
        z_tower = e1(deform(x1, elastic=cfg.tower_deform, share=rank_share())) if cfg.tower_deform > 0 else z1
        losses["task_tower"] = (cfg.task_tower, F.cross_entropy(self.task_tower(z_tower), labels1))
        if not (cfg.target_entropy > 0 or cfg.target_diversity > 0 or cfg.target_pseudo_label > 0) \
                or step < cfg.target_warmup_steps:
            return losses
        logits2 = self.task_tower(z2)
        log_p = F.log_softmax(logits2, dim=1)
        if cfg.target_entropy > 0:
            losses["target_entropy"] = (cfg.target_entropy, -(log_p.exp() * log_p).sum(1).mean())
        if cfg.target_diversity > 0:
            log_mean_p = torch.logsumexp(log_p, dim=0) - math.log(len(log_p))  # log of the batch mean
            losses["target_diversity"] = (cfg.target_diversity, (log_mean_p.exp() * log_mean_p).sum())
        if cfg.target_pseudo_label > 0:
            confidence, guess = log_p.detach().exp().max(dim=1)
            confident = (confidence >= cfg.pseudo_label_threshold).float()
            self.pseudo_label_fraction = float(confident.mean())
            losses["target_pseudo_label"] = (cfg.target_pseudo_label,
                                             (F.cross_entropy(logits2, guess, reduction="none") * confident).mean())
        return losses
