"""Domain A of the digits task: printed, coloured, cluttered street-number-style digits (an offline SVHN stand-in).

Each image shows one centred digit (its label) in one of several fonts, with neighbouring digits cut off
at the sides as in SVHN's cropped digits, random foreground/background colours of sufficient contrast,
scale/shift/rotation jitter, blur and noise. Everything is drawn from one seeded NumPy generator, so a
(count, seed, size) triple always gives the same images.
"""

from __future__ import annotations

import os
from functools import lru_cache

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SUPERSAMPLE = 4  # draw at 4x and downsample: antialiased strokes at 32 px
DEJAVU_DIR = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data", "fonts", "ttf")
PILLOW_FONT = "<pillow-default>"


@lru_cache(maxsize=1)
def font_files() -> tuple[str, ...]:
    """Matplotlib's DejaVu faces plus Pillow's own built-in font."""
    dejavu = sorted(os.path.join(DEJAVU_DIR, f) for f in os.listdir(DEJAVU_DIR)
                    if f.startswith("DejaVu") and f.endswith(".ttf") and "Display" not in f)
    return (*dejavu, PILLOW_FONT)


@lru_cache(maxsize=512)
def load_font(path: str, pixel_size: int) -> ImageFont.FreeTypeFont:
    if path == PILLOW_FONT:
        return ImageFont.load_default(size=pixel_size)
    return ImageFont.truetype(path, pixel_size)


def random_colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A background and a foreground colour whose luminances differ by at least 0.3 (SVHN digits are legible)."""
    luma = np.array([0.299, 0.587, 0.114])
    while True:
        bg, fg = rng.integers(0, 256, size=(2, 3))
        if abs(luma @ bg - luma @ fg) >= 0.3 * 255:
            return tuple(int(v) for v in bg), tuple(int(v) for v in fg)


def render_digit(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One size x size x 3 uint8 image of the digit `label`."""
    fonts = font_files()
    canvas_size = size * SUPERSAMPLE * 3
    font = load_font(fonts[rng.integers(len(fonts))], int(rng.integers(size * 1.3, size * 1.9)) * SUPERSAMPLE // 2)
    bg, fg = random_colours(rng)
    image = Image.new("RGB", (canvas_size, canvas_size), bg)
    draw = ImageDraw.Draw(image)

    centre = canvas_size / 2 + rng.uniform(-0.08, 0.08, size=2) * size * SUPERSAMPLE
    left, top, right, bottom = draw.textbbox((0, 0), str(label), font=font)
    origin_x, origin_y = centre[0] - (left + right) / 2, centre[1] - (top + bottom) / 2
    draw.text((origin_x, origin_y), str(label), font=font, fill=fg)

    gap = rng.uniform(-0.05, 0.25) * (right - left)
    if rng.random() < 0.8:  # a neighbour on the left, cut off by the crop
        neighbour = str(rng.integers(10))
        width = draw.textlength(neighbour, font=font)
        draw.text((origin_x + left - gap - width, origin_y), neighbour, font=font, fill=fg)
    if rng.random() < 0.8:
        draw.text((origin_x + right + gap, origin_y), str(rng.integers(10)), font=font, fill=fg)

    # Rotate about the digit and crop a square around it in one affine map, evaluated only at output pixels.
    angle = np.deg2rad(rng.uniform(-12, 12))
    half = (bottom - top) * rng.uniform(0.6, 0.8)
    out = size * SUPERSAMPLE
    scale = 2 * half / out
    cos, sin = np.cos(angle) * scale, np.sin(angle) * scale
    offset = -out / 2
    affine = (cos, -sin, centre[0] + offset * (cos - sin), sin, cos, centre[1] + offset * (sin + cos))
    image = image.transform((out, out), Image.AFFINE, affine, resample=Image.BILINEAR, fillcolor=bg)
    image = image.resize((size, size), Image.LANCZOS)
    if rng.random() < 0.7:
        image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.2, 1.0))))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, rng.uniform(0, 8), size=(size, size, 3))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def render_printed_digits(count: int, seed: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """`count` printed digits as (count, size, size, 3) uint8 images and (count,) uint8 labels, balanced by class."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
    images = np.stack([render_digit(int(label), rng, size) for label in labels]) if count else np.zeros((0, size, size, 3), np.uint8)
    return images, labels
