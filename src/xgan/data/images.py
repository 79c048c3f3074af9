"""Reading user images with Pillow (any common format, grayscale/palette/RGBA/CMYK/16-bit, EXIF orientation), and the
one path from a picture to a model input: resize_image then model_input, in training (image folders), xgan
translate, xgan neighbors, xgan.load and xgan serve alike, so inference sees images as training saw them."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from xgan.data.task import to_model_range

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm")


class ImageReadError(ValueError):
    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"cannot read image '{path}': {reason}")
        self.path = path


MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485  # Pillow's bomb limit, as an error rather than a warning


def find_images(path: str | Path, unreadable: dict[str, str] | None = None) -> list[Path]:
    """The image itself, or every image file under a folder (recursive, sorted); an error if there is none.
    A subfolder that cannot be listed is recorded in `unreadable` (path -> reason), or is an error without it."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise FileNotFoundError(f"input not found: {path}")
    failed: dict[str, str] = {}

    def record(error: OSError) -> None:
        failed[str(error.filename)] = error.strerror or str(error)

    found = sorted(Path(folder, name) for folder, _, names in os.walk(path, onerror=record, followlinks=True)
                   for name in names if Path(name).suffix.lower() in IMAGE_EXTENSIONS and Path(folder, name).is_file())
    if failed and (str(path) in failed or unreadable is None):
        folder = str(path) if str(path) in failed else next(iter(failed))
        raise ValueError(f"cannot list folder '{folder}': {failed[folder]}")
    if unreadable is not None:
        unreadable.update(failed)
    if not found:
        raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) under {path}")
    return found


def read_image(path: str | Path, size: int | None = None, background: tuple[int, int, int] = (255, 255, 255),
               crop: tuple[float, float, float, float] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB; transparency is composited on `background`; `crop` (left, top, right, bottom, as
    fractions of width and height) is cut out first; then resized to size x size if given."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size check below says it once
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:  # checked from the header, before any pixel is decoded
                    raise ImageReadError(path, f"{image.width}x{image.height} pixels, above the limit of "
                                               f"{MAX_PIXELS:,} (a decompression bomb?)")
                image = ImageOps.exif_transpose(image)
                image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, ImageReadError):
            raise
        raise ImageReadError(path, str(e) or type(e).__name__) from None
    image = to_rgb(image, background)
    if crop is not None:
        w, h = image.size
        image = image.crop((round(crop[0] * w), round(crop[1] * h), round(crop[2] * w), round(crop[3] * h)))
    return np.asarray(image, dtype=np.uint8) if size is None else resize_image(image, size)


def resize_image(image: Image.Image, size: int | tuple[int, int]) -> np.ndarray:
    """An RGB picture at size x size (or (width, height)) as uint8 (H, W, 3): the one resize between pictures and
    the model, both ways. Bicubic, shrinking by a box filter first down to 3x the target (Pillow's reducing_gap)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    if image.size != size:
        image = image.resize(size, Image.BICUBIC, reducing_gap=3.0)
    return np.asarray(image, dtype=np.uint8)


def model_input(pictures: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 (H, W, 3) pictures of one size (from resize_image) -> the model's float (N, 3, H, W) batch in [-1, 1]."""
    return to_model_range(torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2))


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: 16/32-bit grayscale rescaled (not clipped), transparency composited."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.uint8(np.clip(array / max(array.max(), 1) * 255, 0, 255)))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba)
    return image.convert("RGB")
