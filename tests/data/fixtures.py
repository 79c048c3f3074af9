"""Small files in the true on-disk formats of the published datasets, written by the tests (no real data here)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx(path: Path, array: np.ndarray) -> None:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def write_celeba(root: Path, partition: list[int], rng: np.random.Generator) -> np.ndarray:
    (root / "img_align_celeba").mkdir(parents=True)
    names = ["5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair", "Eyeglasses", "Gray_Hair"] + [
        f"Attr{i}" for i in range(34)]
    flags = rng.choice([-1, 1], size=(len(partition), 40))
    lines = [str(len(partition)), " ".join(names)]
    for i, row in enumerate(flags, 1):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(root / "img_align_celeba" / f"{i:06d}.jpg")
        lines.append(f"{i:06d}.jpg " + " ".join(f"{v:2d}" for v in row))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "list_eval_partition.txt").write_text("".join(f"{i:06d}.jpg {p}\n" for i, p in enumerate(partition, 1)))
    return (flags == 1).astype(np.int64)


def write_cartoon(folder: Path, stem: str, parts: dict[str, tuple[int, int]], colour) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGBA", (500, 500), (0, 0, 0, 0))  # transparent border, as the published PNGs
    image.paste(Image.new("RGBA", (300, 300), colour), (100, 100))
    image.save(folder / f"{stem}.png")
    (folder / f"{stem}.csv").write_text("".join(f'"{name}", {v}, {n}\n' for name, (v, n) in parts.items()))
