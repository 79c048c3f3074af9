"""CartoonSet (Royer et al., Google), the paper's cartoon domain, in its published layout:

    ROOT/cs10000029...png      500 x 500 cartoon face (10k: one folder; 100k: ten sub-folders 0/ ... 9/)
    ROOT/cs10000029...csv      one line per part: "eye_angle", 1, 3   (name, chosen variant, number of variants)

The blank border around the face is cropped (seed 001 does this): the central 72% of each side holds the face and
hair of every part combination, and the rest is background. Transparency is composited on white.
"""

from __future__ import annotations

import csv
import tarfile
from pathlib import Path

import torch

from xgan.data.download import Remote, fetch
from xgan.data.folders import checked, decode_files
from xgan.data.task import ImageSet

BUCKET = "https://storage.googleapis.com/cartoonset_public_files/"
ARCHIVES = {  # Google publishes no checksums for these
    "10k": Remote(BUCKET + "cartoonset10k.tgz", "cartoonset10k.tgz", None),
    "100k": Remote(BUCKET + "cartoonset100k.tgz", "cartoonset100k.tgz", None),
}
BORDER = 0.14
FACE_CROP = (BORDER, BORDER, 1 - BORDER, 1 - BORDER)


def download_cartoonset(folder: str | Path, variant: str = "10k") -> Path:
    """Fetch (resumably) and unpack CartoonSet `variant` under FOLDER; returns the folder holding the PNGs."""
    folder = Path(folder)
    target = folder / f"cartoonset{variant}"
    if not target.is_dir():
        archive = fetch(ARCHIVES[variant], folder)
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")  # 'data' refuses absolute paths and links out of the folder
    return target


def read_parts(path: Path) -> dict[str, int]:
    parts = {}
    with open(path, newline="") as f:
        for number, row in enumerate(csv.reader(f, skipinitialspace=True), 1):
            if not row:
                continue
            if len(row) != 3:
                raise ValueError(f"{path}:{number}: expected \"name\", variant, count; got {row}")
            name, variant, count = row[0].strip(), int(row[1]), int(row[2])
            if not 0 <= variant < count:
                raise ValueError(f"{path}:{number}: variant {variant} of '{name}' is outside 0..{count - 1}")
            parts[name] = variant
    return parts


def load_cartoonset(root: str | Path, size: int = 64, limit: int | None = None, strict: bool = False,
                    cache: Path | None = None) -> ImageSet:
    """Every cartoon under ROOT (recursive, sorted) at size x size, with its part variants as attributes."""
    root = Path(root)
    pngs = sorted(root.rglob("*.png"))[:limit]
    if not pngs:
        raise FileNotFoundError(f"no CartoonSet PNGs under {root} (download_cartoonset() fetches them, or get "
                                f"{ARCHIVES['10k'].url})")
    missing = [str(p.with_suffix(".csv")) for p in pngs if not p.with_suffix(".csv").exists()]
    if missing:
        raise FileNotFoundError(f"{len(missing)} CartoonSet images lack their attribute CSV, e.g. {missing[0]}")
    scan = checked(decode_files(pngs, size, crop=FACE_CROP, cache=cache), root, strict)
    parts = [read_parts(Path(f).with_suffix(".csv")) for f in scan.files]
    names = tuple(parts[0]) if parts else ()
    for f, p in zip(scan.files, parts):
        if tuple(p) != names:
            raise ValueError(f"{Path(f).with_suffix('.csv')}: parts {tuple(p)} differ from the first file's {names}")
    table = torch.tensor([[p[n] for n in names] for p in parts], dtype=torch.long).reshape(len(parts), len(names))
    return ImageSet(scan.images, attributes=table, attribute_names=names)
