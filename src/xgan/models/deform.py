"""Random affine and elastic deformations of an image batch (Simard et al. 2003, "Best practices for CNNs
applied to visual document analysis"): a printed glyph, slanted, rescaled and bent, looks handwritten.

One sampling grid per image: an affine map (rotation, shear, scale, shift) plus a displacement field of
Gaussian-smoothed noise; torch's affine_grid / grid_sample do the resampling, on the batch's device.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

REFERENCE_SIZE = 28  # Simard et al.'s MNIST size: `smoothness` is in its pixels, scaled to the image


def gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    kernel = torch.exp(-x ** 2 / (2 * sigma ** 2))
    return kernel / kernel.sum()


def displacement_field(n: int, size: int, elastic: float, smoothness: float, device: torch.device,
                       share: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """(n, size, size, 2) smooth random displacements, in grid units (the image spans [-1, 1]), whose standard
    deviation within each image is `elastic` pixels of the image. `share` as in `deform`."""
    k, parts = share
    field = torch.randn(n * parts, 2, size, size, device=device)[k::parts]
    kernel = gaussian_kernel(smoothness * size / REFERENCE_SIZE, device)
    radius = min(len(kernel) // 2, size - 1)  # reflection padding needs a pad narrower than the image
    kernel = kernel[len(kernel) // 2 - radius: len(kernel) // 2 + radius + 1]
    field = F.pad(field, (radius,) * 4, mode="reflect")
    field = F.conv2d(field, kernel.view(1, 1, 1, -1).expand(2, 1, 1, -1), groups=2)  # separable blur: rows
    field = F.conv2d(field, kernel.view(1, 1, -1, 1).expand(2, 1, -1, 1), groups=2)  # then columns
    field = field / field.flatten(1).std(dim=1).clamp_min(1e-12).view(n, 1, 1, 1)
    return field.permute(0, 2, 3, 1) * elastic * 2 / size


def deform(images: torch.Tensor, elastic: float = 2.0, rotation: float = 15.0, shear: float = 0.3,
           scale: tuple[float, float] = (0.85, 1.15), shift: float = 0.1, smoothness: float = 4.0,
           share: tuple[int, int] = (0, 1)) -> torch.Tensor:
    """Each image under its own random deformation: rotation up to `rotation` degrees, shear up to `shear`,
    zoom in `scale`, shift up to `shift` of the image size, then elastic displacements (`elastic` pixels of the
    image, smoothed over `smoothness` pixels at 28 px). Edges extend the border pixels, so no new colour appears.
    share=(k, parts): `images` are rows k::parts of a larger batch (a rank's share under torch.distributed);
    the random draws are made for the whole batch and sliced alike, so every rank deforms its images as one
    process would the whole batch."""
    n, _, height, width = images.shape
    if height != width:
        raise ValueError(f"deform expects square images, not {height}x{width}")
    device, (k, parts) = images.device, share

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n * parts, device=device)[k::parts]

    angle, zoom, slant = torch.deg2rad(uniform(-rotation, rotation)), uniform(*scale), uniform(-shear, shear)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, slant * cos - sin, 2 * uniform(-shift, shift)], dim=1),
                         torch.stack([sin, slant * sin + cos, 2 * uniform(-shift, shift)], dim=1)], dim=1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    if elastic > 0:
        grid = grid + displacement_field(n, height, elastic, smoothness, device, share)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
