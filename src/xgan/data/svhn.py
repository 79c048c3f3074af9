"""SVHN cropped digits (Netzer et al.) in their published format: MATLAB .mat files holding X (32, 32, 3, N) and
y (N, 1), where label 10 stands for the digit 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from xgan.data.download import Remote, fetch
from xgan.data.task import ImageSet

SITE = "http://ufldl.stanford.edu/housenumbers/"
FILES = {
    "train": Remote(SITE + "train_32x32.mat", "train_32x32.mat", "e26dedcc434d2e4c54c9b2d4a06d8373"),
    "test": Remote(SITE + "test_32x32.mat", "test_32x32.mat", "eb5a983be6a315427106f1b164d9cef3"),
    "extra": Remote(SITE + "extra_32x32.mat", "extra_32x32.mat", "a93ce644f1a588dc4d68dda5feec44a7"),
}


def load_svhn(root: str | Path, split: str = "train", download: bool = False) -> ImageSet:
    """32x32 RGB uint8 (N, 3, 32, 32) with labels 0-9, from ROOT/<split>_32x32.mat."""
    from scipy.io import loadmat  # pip install 'xgan[datasets]'

    remote = FILES[split]
    path = fetch(remote, root) if download else Path(root) / remote.filename
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (pass download=True, or get it from {remote.url})")
    try:
        arrays = loadmat(path)
        images, labels = arrays["X"], arrays["y"]
    except (ValueError, KeyError, OSError) as e:
        raise ValueError(f"{path}: not an SVHN cropped-digits .mat file ({e})") from None
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.shape[3] != len(labels):
        raise ValueError(f"{path}: X has shape {images.shape} and y {labels.shape}; expected (32, 32, 3, N) and (N, 1)")
    labels = labels.reshape(-1).astype(np.int64) % 10  # 10 -> 0
    return ImageSet(torch.from_numpy(np.ascontiguousarray(images.transpose(3, 2, 0, 1))), torch.from_numpy(labels))
