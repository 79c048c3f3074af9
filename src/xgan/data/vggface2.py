"""VGGFace2 (Cao et al.), the paper's face domain, in its published layout: ROOT/{train,test}/n000002/0001_01.jpg,
one folder per identity (the identity is the label). Distribution needs registration, so the download is a manual
step. Faces are loosely cropped; the central square is kept, then resized."""

from __future__ import annotations

from pathlib import Path

import torch

from xgan.data.download import manual_steps
from xgan.data.folders import checked, decode_files
from xgan.data.images import IMAGE_EXTENSIONS
from xgan.data.task import ImageSet

PAGE = "the VGGFace2 authors' download page (registration required; see the paper, Cao et al. 2018)"
CENTRE_SQUARE = (0.1, 0.1, 0.9, 0.9)


def load_vggface2(root: str | Path, split: str = "train", size: int = 64, per_identity: int | None = None,
                  strict: bool = False, cache: Path | None = None) -> ImageSet:
    """Faces of ROOT/<split>/<identity>/ with the identity's index (sorted folder names) as label."""
    folder = Path(root) / split
    identities = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not identities:
        raise FileNotFoundError(manual_steps("VGGFace2", PAGE, [f"{split}/n000002/0001_01.jpg ..."], Path(root),
                                             "it is distributed after registration"))
    paths, labels = [], []
    for index, identity in enumerate(identities):
        files = sorted(p for p in identity.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)[:per_identity]
        paths += files
        labels += [index] * len(files)
    label_of = {str(p): label for p, label in zip(paths, labels)}
    scan = checked(decode_files(paths, size, crop=CENTRE_SQUARE, cache=cache), folder, strict)
    return ImageSet(scan.images, torch.tensor([label_of[f] for f in scan.files], dtype=torch.long))
