"""CelebA, aligned and cropped (Liu et al.), in its published layout:

    ROOT/img_align_celeba/000001.jpg ...   178 x 218 faces, eyes aligned
    ROOT/list_attr_celeba.txt              count; 40 attribute names; "000001.jpg -1 1 ..." per image
    ROOT/list_eval_partition.txt           "000001.jpg 0" per image: 0 train, 1 validation, 2 test

Faces are centre-cropped to the square that holds the face (the common 178 x 178 window 20 px from the top), then
resized. The files sit behind Google Drive's terms page, so the download is a manual step.
"""

from __future__ import annotations

from pathlib import Path

import torch

from xgan.data.download import manual_steps
from xgan.data.folders import checked, decode_files
from xgan.data.task import ImageSet

IMAGES, ATTRIBUTES, PARTITION = "img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"
SPLITS = {"train": 0, "validation": 1, "test": 2}
FACE_CROP = (0.0, 20 / 218, 1.0, 198 / 218)  # 178 x 178 of the 178 x 218 aligned image
PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (Google Drive: 'Align&Cropped Images', 'Anno', 'Eval')"


def require(root: Path) -> None:
    missing = [name for name in (IMAGES, ATTRIBUTES, PARTITION) if not (root / name).exists()]
    if missing:
        raise FileNotFoundError(manual_steps("CelebA", PAGE, [IMAGES + "/000001.jpg ...", ATTRIBUTES, PARTITION], root,
                                             "its files are behind Google Drive's download page and terms"))


def read_attributes(path: Path) -> tuple[tuple[str, ...], dict[str, list[int]]]:
    lines = path.read_text().splitlines()
    names = tuple(lines[1].split())
    rows = {}
    for number, line in enumerate(lines[2:], 3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1:
            raise ValueError(f"{path}:{number}: expected a file name and {len(names)} values, got {len(fields)} fields")
        rows[fields[0]] = [1 if v == "1" else 0 for v in fields[1:]]
    if len(rows) != int(lines[0].split()[0]):
        raise ValueError(f"{path}: header says {lines[0].split()[0]} images, the file lists {len(rows)}")
    return names, rows


def load_celeba(root: str | Path, split: str = "train", size: int = 64, limit: int | None = None,
                strict: bool = False, cache: Path | None = None) -> ImageSet:
    """The official `split` (train | validation | test) at size x size with its 40 attributes as 0/1."""
    root = Path(root)
    require(root)
    names, attributes = read_attributes(root / ATTRIBUTES)
    wanted = SPLITS[split]
    files = [line.split()[0] for line in (root / PARTITION).read_text().splitlines()
             if line.strip() and int(line.split()[1]) == wanted][:limit]
    scan = checked(decode_files([root / IMAGES / f for f in files], size, crop=FACE_CROP, cache=cache),
                   root / IMAGES, strict)
    table = torch.tensor([attributes[Path(f).name] for f in scan.files], dtype=torch.long)
    return ImageSet(scan.images, attributes=table.reshape(len(scan.files), len(names)), attribute_names=names)
