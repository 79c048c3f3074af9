"""What every translation model gives the Trainer: named, weighted losses per optimiser, and translate/embed.

The Trainer owns optimisation. A model only says which parameters each optimiser updates
(`optimizer_groups`, run in that order each step) and what each of them minimises (`losses`).
"""

from __future__ import annotations

import torch
from torch import nn

# name -> (weight, value); the optimiser of a phase minimises the sum of weight * value.
Losses = dict[str, tuple[float, torch.Tensor]]


class TranslationModel(nn.Module):
    """Constructed as Model(cfg, image_size, pretrained=True); pretrained=False builds it to load a checkpoint
    into: frozen pretrained parts (teachers, DTN's f) as architecture only, since their weights are in it."""

    config_class: type = object
    directions: tuple[str, ...] = ("a", "b")  # the domains this model can translate into
    label_classes_a: int = 0  # > 0: losses() gets domain A's class labels, in [0, label_classes_a)

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameter lists per optimiser. Groups named 'discriminator*' use train.discriminator_lr."""
        raise NotImplementedError

    def losses(self, phase: str, a: torch.Tensor, b: torch.Tensor, labels_a: torch.Tensor | None = None) -> Losses:
        """The loss terms the optimiser `phase` minimises on this batch; empty to skip its update this step.
        `labels_a` (class indices of `a`) is given only to models with `label_classes_a`; B's never are."""
        raise NotImplementedError

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        """Images of the other domain in [-1, 1]; `to` is 'a' or 'b', the domain of the output."""
        raise NotImplementedError

    @property
    def has_embedding(self) -> bool:
        """Whether the model has a shared embedding: it overrides `encode`."""
        return type(self).encode is not TranslationModel.encode

    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor | None:
        """The shared embedding of images of `domain`, for models that have one."""
        return None

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        """Images of `domain` from shared embeddings (models with `encode`)."""
        raise NotImplementedError

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor | None:
        """The model's own auto-encoding of x, if it has one."""
        return None

    def stats(self) -> dict[str, float]:
        """Diagnostics of the last step (e.g. discriminator accuracy), logged beside the losses."""
        return {}


def other(domain: str) -> str:
    if domain not in ("a", "b"):
        raise ValueError(f"domain must be 'a' or 'b', not {domain!r}")
    return "b" if domain == "a" else "a"
