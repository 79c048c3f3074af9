"""The two-domain task a model trains on, its image sets, and the conversions between pixels and model inputs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F


@dataclass
class ImageSet:
    """Images as uint8 (N, 3, H, W). Labels, where known, are for evaluation; training reads domain A's only for
    a model that asks (XGAN's task tower: the source labels, as in the talk's VisDA setting), B's never."""

    images: torch.Tensor
    labels: torch.Tensor | None = None  # a class per image (digits, identities)
    attributes: torch.Tensor | None = None  # (N, K) integer attributes (CelebA's 40 flags, CartoonSet's parts)
    attribute_names: tuple[str, ...] = ()
    # An identity per image, for evaluation only: test images of the two domains with equal ids are each other's
    # true counterparts (the same emoji in two design systems, the same file name in testA/ and testB/).
    ids: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.images)

    def spread(self, count: int | None) -> ImageSet:
        """`count` images evenly spaced through the set, with their labels; the whole set for None."""
        if count is None or count >= len(self):
            return self
        return self.subset(spread_indices(len(self), count))

    def subset(self, idx: torch.Tensor) -> ImageSet:
        """The images at `idx` with their labels and attributes."""
        return ImageSet(self.images[idx], None if self.labels is None else self.labels[idx],
                        None if self.attributes is None else self.attributes[idx], self.attribute_names,
                        None if self.ids is None else self.ids[idx])


def spread_indices(length: int, count: int) -> torch.Tensor:
    """`count` indices evenly spaced through range(length): test sets may be sorted by class."""
    return torch.linspace(0, length - 1, min(count, length)).long()


@dataclass
class Task:
    train_a: ImageSet
    train_b: ImageSet
    test_a: ImageSet
    test_b: ImageSet
    # Domain A's whole training split where train_a was replaced (one-shot translation's single image): what
    # evaluation's judges and feature spaces learn from, so they are those of every other model on the task.
    judged_a: ImageSet | None = None
    # True: train_a[i] and train_b[i] are counterparts (data/paired.py), what paired models (pix2pix) train on
    paired: bool = False

    @property
    def reference_a(self) -> ImageSet:
        """The A training images evaluation learns its judges from."""
        return self.judged_a if self.judged_a is not None else self.train_a


def sized(images: ImageSet, size: int, count: int | None = None) -> ImageSet:
    """`count` images spread through the set (all for None) at size x size, with their labels, attributes and ids."""
    images = images.spread(count)  # the same indices on aligned test sets (emoji), so they stay aligned
    return replace(images, images=resize_uint8(images.images, size))


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the range of the decoders' tanh."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    return images.detach().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def resize_uint8(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """uint8 (N, C, H, W) resized to size x size (or to (height, width)), antialiased."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == size:
        return images
    resized = F.interpolate(images.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8)
