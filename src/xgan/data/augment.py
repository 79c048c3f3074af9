"""Training-time augmentation of a batch: the seed 001 recipe (images resized to a load size, a random crop of the
training size: 66 -> 64), random horizontal flips, and random rotations (one-shot translation's augmentation). The
draw is a function of the generator alone, so a resumed or distributed run sees the crops a single uninterrupted run
would have seen."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F

from xgan.data.task import ImageSet, resize_uint8


def crop_and_flip(images: torch.Tensor, size: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, size, size): a uniformly placed crop of each image, mirrored with probability 1/2
    where `flip`."""
    n, _, height, width = images.shape
    if size > min(height, width):
        raise ValueError(f"cannot crop {size}x{size} from {height}x{width} images")
    top = torch.randint(0, height - size + 1, (n,), generator=generator)
    left = torch.randint(0, width - size + 1, (n,), generator=generator)
    mirrored = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    crops = [image[:, t:t + size, l:l + size] for image, t, l in zip(images, top.tolist(), left.tolist())]
    return torch.stack([c.flip(-1) if m else c for c, m in zip(crops, mirrored.tolist())])


def rotate(images: torch.Tensor, degrees: float, generator: torch.Generator) -> torch.Tensor:
    """uint8 (N, C, H, W), each turned about its centre by an angle uniform in [-degrees, degrees] (bilinear); the
    corners it uncovers repeat the border pixels, so an image on a plain background stays on it."""
    angles = (torch.rand(len(images), generator=generator) * 2 - 1) * torch.pi * degrees / 180
    cos, sin, zero = angles.cos(), angles.sin(), torch.zeros_like(angles)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    turned = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return turned.round().clamp(0, 255).to(torch.uint8)


def resized(images: ImageSet, size: int) -> ImageSet:
    """The set at `size` px (its labels kept) to crop from; itself for 0 or its own size."""
    if not size or size == images.images.shape[-1]:
        return images
    return replace(images, images=resize_uint8(images.images, size))
