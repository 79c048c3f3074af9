"""Two collections of the user's images: the unaligned layout CycleGAN users know (ROOT/trainA, trainB, testA,
testB), or any two folders (`data.path_a`, `data.path_b`), searched recursively, all common formats. In the
layout, test images known to be counterparts (same file names in testA/ and testB/, or ROOT/pairs.csv) get ids
for the ground-truth metrics (see test_pairs).

Images are decoded and resized once, in worker processes, and cached on disk as uint8 arrays under a key of the
files (path, size, mtime) and the decoding settings, so later runs start at once. A file that cannot be decoded
is skipped with one warning naming every such file (`data.strict=true` makes it an error), and an empty or
missing folder is an error before anything trains.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xgan.cache import cache_dir
from xgan.data.images import ImageReadError, find_images, read_image
from xgan.data.task import ImageSet, Task, spread_indices
from xgan.io import atomic_write

log = logging.getLogger("xgan")
LAYOUT = ("trainA", "trainB", "testA", "testB")  # the unaligned layout of CycleGAN's datasets
CACHE_VERSION = 2  # bump when decoding changes, so stale caches are not reused (2: the pixel limit)


@dataclass
class FolderScan:
    """What a folder holds: the images that decoded (N, 3, S, S) uint8, and the files that did not."""

    images: torch.Tensor
    files: list[str]
    skipped: dict[str, str] = field(default_factory=dict)  # path -> reason


def _decode(job: tuple) -> np.ndarray | str:
    path, size, background, crop = job
    try:
        return read_image(path, size, background, crop)
    except ImageReadError as e:
        return str(e)


def cache_key(paths: list[Path], size: int, background: tuple[int, int, int], crop=None) -> str:
    digest = hashlib.sha256(json.dumps([CACHE_VERSION, size, list(background), crop and list(crop)]).encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def scan_folder(folder: str | Path, size: int, background: tuple[int, int, int] = (255, 255, 255),
                workers: int | None = None, cache: Path | None = None) -> FolderScan:
    """Every image under `folder` (recursive) at size x size; see decode_files. Subfolders that cannot be listed
    count as skipped."""
    unreadable: dict[str, str] = {}
    scan = decode_files(find_images(folder, unreadable), size, background, None, workers, cache)  # missing/empty
    scan.skipped.update({path: f"unreadable folder ({reason})" for path, reason in unreadable.items()})
    return scan


def decode_files(paths: list[Path], size: int, background: tuple[int, int, int] = (255, 255, 255),
                 crop: tuple[float, float, float, float] | None = None, workers: int | None = None,
                 cache: Path | None = None) -> FolderScan:
    """The images at `paths`, cropped (fractions, see read_image) and resized to size x size, decoded by `workers`
    processes (default: one per core, at most 8; 0 decodes here), read from or written to the cache directory
    `cache` when given."""
    cached = cache / f"images-{cache_key(paths, size, background, crop)}.npz" if cache else None
    if cached is not None and cached.exists():
        with np.load(cached) as arrays:
            meta = json.loads(str(arrays["meta"]))
            return FolderScan(torch.from_numpy(arrays["images"]), meta["files"], meta["skipped"])
    jobs = [(str(p), size, tuple(background), crop) for p in paths]
    workers = min(8, os.cpu_count() or 1) if workers is None else workers
    if workers > 0 and len(jobs) > 64:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_decode, jobs, chunksize=64))
    else:
        results = [_decode(job) for job in jobs]
    good = [(str(p), r) for p, r in zip(paths, results) if isinstance(r, np.ndarray)]
    skipped = {str(p): r for p, r in zip(paths, results) if isinstance(r, str)}
    images = np.stack([r for _, r in good]) if good else np.zeros((0, size, size, 3), np.uint8)
    scan = FolderScan(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), [f for f, _ in good], skipped)
    if cached is not None:
        meta = json.dumps({"files": scan.files, "skipped": skipped})
        atomic_write(cached, lambda tmp: np.savez(tmp, images=scan.images.numpy(), meta=np.array(meta)), suffix=".npz")
    return scan


def describe(folder: str | Path, size: int, workers: int | None = None, cache: Path | None = None) -> str:
    """`xgan data check`'s report of one folder: counts, the commonest original sizes, and every skipped file."""
    from collections import Counter

    from PIL import Image

    paths = find_images(folder, {})  # unreadable subfolders: reported below, from the scan
    sizes: Counter = Counter()
    for path in paths:
        try:
            with Image.open(path) as image:
                sizes[image.size] += 1
        except Exception:  # reported below, from the full decode
            pass
    scan = scan_folder(folder, size, workers=workers, cache=cache)
    common = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common(3))
    lines = [f"{folder}: {len(paths)} image files, {len(scan.files)} readable, {len(scan.skipped)} skipped; "
             f"sizes {common or '-'}{' ...' if len(sizes) > 3 else ''}"]
    lines += [f"  skipped {path}: {reason}" for path, reason in scan.skipped.items()]
    return "\n".join(lines)


def checked(scan: FolderScan, folder: str | Path, strict: bool) -> FolderScan:
    """The scan, after saying what was skipped: an error in strict mode or when nothing decoded."""
    if scan.skipped:
        listing = "\n  ".join(f"{path}: {reason}" for path, reason in scan.skipped.items())
        message = f"{folder}: {len(scan.skipped)} of {len(scan.skipped) + len(scan.files)} files could not be read:\n  {listing}"
        if strict or not scan.files:
            raise ValueError(message + ("" if scan.files else "\nno readable image is left"))
        log.warning("%s\nthey are skipped (data.strict=true makes this an error)", message)
    return scan


def load_folders(cfg: Any) -> Task:
    """The `folders` task from a DataConfig: data.path (trainA/trainB/testA/testB) or data.path_a + data.path_b."""
    if cfg.path:
        root = Path(cfg.path)
        folders = {name: root / name for name in LAYOUT}
        missing = [str(p) for p in folders.values() if not p.is_dir()]
        if missing:
            raise FileNotFoundError(f"data.path {root} lacks the folder(s) {', '.join(missing)} "
                                    "(expected trainA/, trainB/, testA/, testB/)")
    elif cfg.path_a and cfg.path_b:
        folders = {"A": Path(cfg.path_a), "B": Path(cfg.path_b)}
    else:
        raise ValueError("data.task=folders needs data.path (with trainA/ trainB/ testA/ testB/) "
                         "or both data.path_a and data.path_b")
    cache = cache_dir() / "folders"
    scans = {name: checked(scan_folder(folder, cfg.image_size, tuple(cfg.background), cfg.workers, cache), folder,
                           cfg.strict) for name, folder in folders.items()}
    sets = {name: ImageSet(scan.images) for name, scan in scans.items()}
    if cfg.path:
        ids = test_pairs(root, scans["testA"].files, scans["testB"].files, cfg.strict)
        if ids is not None:
            sets["testA"].ids, sets["testB"].ids = ids
        return Task(sets["trainA"], sets["trainB"], sets["testA"], sets["testB"])
    (train_a, test_a), (train_b, test_b) = split(sets["A"], cfg.test_fraction), split(sets["B"], cfg.test_fraction)
    return Task(train_a, train_b, test_a, test_b)


PAIRS_FILE = "pairs.csv"


def test_pairs(root: Path, files_a: list[str], files_b: list[str], strict: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Ids of the decoded test images (`files_a` under root/testA, `files_b` under root/testB) that mark true
    counterparts, -1 for an image without one; None when nothing pairs (the ordinary unpaired layout).

    With root/pairs.csv: one pair per row, `testA file,testB file`, paths relative to testA/ and testB/ (an
    optional header row `testA,testB`); a file in two rows is an error, a row naming a file that is missing or did
    not decode is skipped with a warning (an error with data.strict). Without it: files with the same relative
    path minus the extension pair (testA/x/1.jpg with testB/x/1.png); a name that two files of one folder share
    pairs nothing."""
    relative = [[Path(f).relative_to(root / folder).as_posix() for f in files]
                for folder, files in (("testA", files_a), ("testB", files_b))]
    if (root / PAIRS_FILE).is_file():
        keys = csv_pair_keys(root / PAIRS_FILE, *relative, strict)
        how = PAIRS_FILE
    else:
        keys = [stem_keys(names, folder) for names, folder in zip(relative, ("testA", "testB"))]
        how = "equal file names (extension aside)"
    shared = sorted(set(keys[0].values()) & set(keys[1].values()))
    if not shared and how != PAIRS_FILE:
        return None
    number = {key: i for i, key in enumerate(shared)}
    ids = tuple(torch.tensor([number.get(key_of.get(name), -1) for name in names], dtype=torch.long)
                for key_of, names in zip(keys, relative))
    log.info("%s: %d test pairs by %s (%d of %d testA and %d of %d testB images); ground-truth metrics read them",
             root, len(shared), how, int((ids[0] >= 0).sum()), len(ids[0]), int((ids[1] >= 0).sum()), len(ids[1]))
    return ids


def stem_keys(names: list[str], folder: str) -> dict[str, str]:
    """Relative path -> the same without its extension, for the names no other file of the folder shares."""
    stems = [str(Path(name).with_suffix("").as_posix()) for name in names]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    ambiguous = sorted(stem for stem, n in counts.items() if n > 1)
    if ambiguous:
        log.warning("%s: %d name(s) shared by several files (%s): they pair with nothing", folder, len(ambiguous),
                    ", ".join(ambiguous[:5]) + (" ..." if len(ambiguous) > 5 else ""))
    return {name: stem for name, stem in zip(names, stems) if counts[stem] == 1}


def csv_pair_keys(path: Path, names_a: list[str], names_b: list[str], strict: bool) -> list[dict[str, int]]:
    """For each folder, relative path -> the row number of pairs.csv that pairs it."""
    import csv

    with open(path, newline="") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f) if any(cell.strip() for cell in row)]
    if rows and [cell.lower() for cell in rows[0]] == ["testa", "testb"]:
        rows = rows[1:]
    known = set(names_a), set(names_b)
    keys: list[dict[str, int]] = [{}, {}]
    missing = []
    for number, row in enumerate(rows):
        if len(row) != 2:
            raise ValueError(f"{path}: row {number + 1} has {len(row)} column(s), not 2 (testA file, testB file)")
        names = [Path(cell).as_posix() for cell in row]
        for side, name in enumerate(names):
            if name in keys[side]:
                raise ValueError(f"{path}: {('testA', 'testB')[side]}/{name} is in more than one pair")
        if not all(name in known[side] for side, name in enumerate(names)):
            missing.append(",".join(row))
            continue
        for side, name in enumerate(names):
            keys[side][name] = number
    if missing:
        message = (f"{path}: {len(missing)} pair(s) name a file that is missing or could not be read: "
                   f"{'; '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
        if strict:
            raise ValueError(message)
        log.warning("%s; they are skipped (data.strict=true makes this an error)", message)
    return keys


def split(images: ImageSet, test_fraction: float) -> tuple[ImageSet, ImageSet]:
    """(train, test): every k-th image goes to test, so both splits span the folder's order."""
    count = len(images)
    test_count = max(1, round(count * test_fraction)) if count > 1 else 0
    test = spread_indices(count, test_count) if test_count else torch.zeros(0, dtype=torch.long)
    is_test = torch.zeros(count, dtype=torch.bool)
    is_test[test] = True
    return images.subset(~is_test), images.subset(is_test)

