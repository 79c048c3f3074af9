"""Domain A of the digits task: printed, coloured, cluttered street-number-style digits (an offline SVHN stand-in).

Each image shows one centred digit (its label) in one of several fonts, with neighbouring digits cut off
at the sides as in SVHN's cropped digits, random foreground/background colours of sufficient contrast,
scale/shift/rotation jitter, blur and noise. Everything is drawn from one seeded NumPy generator, so a
(count, seed, size) triple always gives the same images.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Recipe:
    """Every random choice of one image, drawn in order from the task's one generator (so that the drawing itself,
    the slow part, can run in other processes); `noise_state` is the generator's state at the noise draw."""

    label: int
    font: str
    font_size: int
    bg: tuple[int, ...]
    fg: tuple[int, ...]
    centre: tuple[float, float]
    gap: float  # x the digit's width
    left_neighbour: str | None
    right_neighbour: str | None
    angle: float
    half: float  # x the digit's height
    blur: float | None
    noise_sigma: float
    noise_state: dict
    size: int


def recipe(label: int, rng: np.random.Generator, size: int = 32) -> Recipe:
    """One image's random choices, in the order render_digit has always drawn them."""
    fonts = font_files()
    font = fonts[rng.integers(len(fonts))]
    font_size = int(rng.integers(size * 1.3, size * 1.9)) * SUPERSAMPLE // 2
    bg, fg = random_colours(rng)
    canvas_size = size * SUPERSAMPLE * 3
    centre = canvas_size / 2 + rng.uniform(-0.08, 0.08, size=2) * size * SUPERSAMPLE
    gap = rng.uniform(-0.05, 0.25)
    left = str(rng.integers(10)) if rng.random() < 0.8 else None
    right = str(rng.integers(10)) if rng.random() < 0.8 else None
    angle = np.deg2rad(rng.uniform(-12, 12))
    half = rng.uniform(0.6, 0.8)
    blur = float(rng.uniform(0.2, 1.0)) if rng.random() < 0.7 else None
    sigma = rng.uniform(0, 8)
    state = rng.bit_generator.state
    rng.normal(0, sigma, size=(size, size, 3))  # drawn again from `state` by draw_digit: the generator moves on
    return Recipe(label, font, font_size, bg, fg, (float(centre[0]), float(centre[1])), float(gap), left, right,
                  float(angle), float(half), blur, float(sigma), state, size)


def draw_digit(r: Recipe) -> np.ndarray:
    """The size x size x 3 uint8 image a recipe describes."""
    size = r.size
    font = load_font(r.font, r.font_size)
    canvas_size = size * SUPERSAMPLE * 3
    image = Image.new("RGB", (canvas_size, canvas_size), r.bg)
    draw = ImageDraw.Draw(image)

    centre = r.centre
    left, top, right, bottom = draw.textbbox((0, 0), str(r.label), font=font)
    origin_x, origin_y = centre[0] - (left + right) / 2, centre[1] - (top + bottom) / 2
    draw.text((origin_x, origin_y), str(r.label), font=font, fill=r.fg)

    gap = r.gap * (right - left)
    if r.left_neighbour is not None:  # a neighbour on the left, cut off by the crop
        width = draw.textlength(r.left_neighbour, font=font)
        draw.text((origin_x + left - gap - width, origin_y), r.left_neighbour, font=font, fill=r.fg)
    if r.right_neighbour is not None:
        draw.text((origin_x + right + gap, origin_y), r.right_neighbour, font=font, fill=r.fg)

    # Rotate about the digit and crop a square around it in one affine map, evaluated only at output pixels.
    half = (bottom - top) * r.half
    out = size * SUPERSAMPLE
    scale = 2 * half / out
    cos, sin = np.cos(r.angle) * scale, np.sin(r.angle) * scale
    offset = -out / 2
    affine = (cos, -sin, centre[0] + offset * (cos - sin), sin, cos, centre[1] + offset * (sin + cos))
    image = image.transform((out, out), Image.AFFINE, affine, resample=Image.BILINEAR, fillcolor=r.bg)
    image = image.resize((size, size), Image.LANCZOS)
    if r.blur is not None:
        image = image.filter(ImageFilter.GaussianBlur(radius=r.blur))
    noise_rng = np.random.default_rng()
    noise_rng.bit_generator.state = r.noise_state
    pixels = np.asarray(image, dtype=np.float32) + noise_rng.normal(0, r.noise_sigma, size=(size, size, 3))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)


def render_digit(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """One size x size x 3 uint8 image of the digit `label`."""
    return draw_digit(recipe(label, rng, size))


def render_printed_digits(count: int, seed: int, size: int = 32,
                          workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`count` printed digits as (count, size, size, 3) uint8 images and (count,) uint8 labels, balanced by class.
    The random choices are made here, in order; the drawing by `workers` processes (default: one per core, at
    most 8; 0: here), with the same images whatever their number."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % 10).astype(np.uint8)
    recipes = [recipe(int(label), rng, size) for label in labels]
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    if workers > 1 and count > 256:
        with ProcessPoolExecutor(workers) as pool:
            images = list(pool.map(draw_digit, recipes, chunksize=256))
    else:
        images = [draw_digit(r) for r in recipes]
    return (np.stack(images) if count else np.zeros((0, size, size, 3), np.uint8)), labels
