"""Toy tasks and models whose metric values are known in advance."""

from __future__ import annotations

import torch
from torch import nn

from conftest import pattern_set
from xgan.data import Task
from xgan.models.base import TranslationModel


def mirrored_task(count: int = 400) -> Task:
    """Two samples of one domain: the identity is a perfect translator."""
    return Task(pattern_set(count, 0), pattern_set(count, 1), pattern_set(count // 2, 2), pattern_set(count // 2, 3))


class IdentityTranslator(TranslationModel):
    """Translation is the identity; the embedding is the flattened image, decoded by reshaping back: encoder
    and decoder invert each other exactly."""

    def __init__(self, size: int = 16) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # gives the model a device
        self.size = size

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return x

    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return x.flatten(1)

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        return z.view(len(z), 3, self.size, self.size)


class NoiseTranslator(IdentityTranslator):
    """Outputs uniform noise whatever the input: keeps nothing."""

    def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
        return torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1


class Styled(TranslationModel):
    """Adds `gain` x its style's first value to every pixel: outputs differ by exactly the styles' difference."""
    style_dim = 2

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = gain
        self.w = nn.Parameter(torch.zeros(1))

    def translate(self, x, to, style=None):
        return x + self.gain * style[:, :1, None, None]

    def sample_style(self, count, domain, generator=None):
        return torch.randn(count, self.style_dim, generator=generator)
