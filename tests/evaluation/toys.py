"""Toy tasks and models whose metric values are known in advance."""

from __future__ import annotations

import torch

from xgan.data import ImageSet, Task
from xgan.models.base import TranslationModel


def pattern_set(count: int, seed: int, size: int = 16) -> ImageSet:
    """Class k is a bright 4x4 block at the k-th position of a 4x4 layout, over mild noise: trivially learnable."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    images = torch.randint(0, 60, (count, 3, size, size), generator=g, dtype=torch.uint8)
    for i, k in enumerate(labels.tolist()):
        row, col = divmod(k, 4)
        images[i, :, row * 4:row * 4 + 4, col * 4:col * 4 + 4] = 230
    return ImageSet(images, labels)


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
