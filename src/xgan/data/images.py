"""Reading user images with Pillow: any common format, grayscale/palette/RGBA/CMYK/16-bit, EXIF orientation."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

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
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.BICUBIC, reducing_gap=3.0)
    return np.asarray(image, dtype=np.uint8)


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any Pillow mode as 8-bit RGB: 16/32-bit grayscale rescaled (not clipped), transparency composited."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.uint8(np.clip(array / max(array.max(), 1) * 255, 0, 255)))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba)
    return image.convert("RGB")
