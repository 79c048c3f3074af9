"""PNG grids of translations: for each direction, rows input | reconstruction | translation | cycle; for a generator
from noise (DCGAN), a grid of its images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from xgan.data.task import to_uint8
from xgan.io import atomic_write
from xgan.models.base import TranslationModel, other

LABEL_WIDTH = 84


def to_pil(image: torch.Tensor) -> Image.Image:
    """One (3, H, W) image in [-1, 1] as a PIL image."""
    return Image.fromarray(to_uint8(image).permute(1, 2, 0).cpu().numpy())


def tile(rows: list[torch.Tensor]) -> np.ndarray:
    """Rows of (N, 3, H, W) images in [-1, 1] as one (rows*H, N*W, 3) uint8 array."""
    return np.concatenate([np.concatenate(list(to_uint8(r).permute(0, 2, 3, 1).cpu().numpy()), axis=1) for r in rows])


@torch.no_grad()
def direction_rows(model: TranslationModel, x: torch.Tensor, source: str) -> dict[str, torch.Tensor]:
    target = other(source)
    translation = model.translate(x, to=target)
    rows = {f"input {source.upper()}": x}
    reconstruction = model.reconstruct(x, source)
    if reconstruction is not None:
        rows["reconstruction"] = reconstruction
    rows[f"{source.upper()}->{target.upper()}"] = translation
    if source in model.directions:
        rows["cycle"] = model.translate(translation, to=source)
    return rows


def translation_grid(model: TranslationModel, a: torch.Tensor, b: torch.Tensor, scale: int = 2) -> Image.Image:
    if not model.directions and model.latent_dim:
        return generated_grid(model, 4 * len(a), columns=len(a), scale=scale)
    count = min(len(a), len(b))  # a grid's rows are equally long, also when one test split is smaller
    a, b = a[:count], b[:count]
    was_training = model.training
    model.eval()
    panels = [direction_rows(model, x, source) for x, source in ((a, "a"), (b, "b")) if other(source) in model.directions]
    model.train(was_training)
    # both directions have a "reconstruction" and a "cycle" row: lists, not one dict, keep all of them
    names = [name for panel in panels for name in panel]
    return labelled_grid([row for panel in panels for row in panel.values()], names, scale)


@torch.no_grad()
def generated_grid(model: TranslationModel, count: int = 64, seed: int = 0, columns: int = 8,
                   scale: int = 1, label: int | None = None) -> Image.Image:
    """`count` images of a generator from noise (z drawn from `seed`), `columns` a row, a last short row padded
    with white. A generator with classes (AC-GAN, InfoGAN) draws class `label`, or else a column per class."""
    device = next(model.parameters()).device
    classes = model.latent_labels(count, label)
    if classes is not None and label is None:
        columns = model.latent_classes
    was_training = model.training
    model.eval()
    z = model.sample_latent(count, torch.Generator().manual_seed(seed), classes=classes)
    images = model.generate(z.to(device))
    model.train(was_training)
    columns = min(columns, count)
    padding = images.new_ones(-count % columns, *images.shape[1:])
    pixels = tile(list(torch.cat([images, padding]).split(columns)))
    return Image.fromarray(pixels).resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.NEAREST)


def labelled_grid(rows: list[torch.Tensor], names: list[str], scale: int = 2, label_width: int = LABEL_WIDTH) -> Image.Image:
    """Rows of (N, 3, H, W) images in [-1, 1], enlarged `scale` times, each named in a white column on the left."""
    pixels = tile(rows)
    image = Image.fromarray(pixels).resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.NEAREST)
    canvas = Image.new("RGB", (image.width + label_width, image.height), "white")
    canvas.paste(image, (label_width, 0))
    draw, row_height = ImageDraw.Draw(canvas), rows[0].shape[-2] * scale
    for i, name in enumerate(names):
        draw.text((4, i * row_height + row_height // 2 - 6), name, fill="black")
    return canvas


def save_image(image: Image.Image, path: str | Path) -> None:
    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"), suffix=".png")
