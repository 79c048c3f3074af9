"""The emoji task: the same emoji in two independent design systems, unpaired in training, paired in test.

A = OpenMoji (CC BY-SA 4.0), B = Microsoft Fluent Emoji Flat (MIT), both rendered on white at 64 px from their
Iconify packages by scripts/build_emoji.py and shipped as emoji_openmoji.npz / emoji_fluent.npz (see
data/ATTRIBUTION.md: the OpenMoji array is CC BY-SA 4.0, licensed separately from xgan's MIT code).

Every emoji both sets draw (base forms only, no skin-tone variants) is one codepoint; a fixed 15% of the codepoints,
chosen by a hash of the codepoint, is held out of both training sets. The training sets are stored in two
different fixed random orders and carry no codepoint, so nothing pairs them. The test sets are aligned:
test_a[i] and test_b[i] are the same codepoint and both carry it as `ids` (an index into `codepoints()`), which
evaluation reads as the true counterpart. Every split carries the emoji-datasource category as `labels`
(an index into CATEGORIES), for evaluation only.

The `emoji-lines` task pairs the same codepoints differently: A = Fluent Emoji Flat in colour, B = OpenMoji's
black outlines alone, drawn as white lines on black in the manner of MNIST (`line_drawing`). Its domains differ in
colour, line and fill, and in design system, so a translator must redraw, not recolour.
"""

from __future__ import annotations

import json
from importlib.resources import files

import numpy as np
import torch

from xgan.data.task import ImageSet, Task, sized

# emoji-datasource's categories in its own order, without "Component" (skin-tone swatches and hair parts)
CATEGORIES = ("Smileys & Emotion", "People & Body", "Animals & Nature", "Food & Drink", "Travel & Places",
              "Activities", "Objects", "Symbols", "Flags")
DOMAINS = {"a": "emoji_openmoji.npz", "b": "emoji_fluent.npz"}  # A = OpenMoji, B = Fluent Emoji Flat


def _arrays(domain: str, *keys: str) -> dict[str, np.ndarray]:
    with np.load(files("xgan.data").joinpath(DOMAINS[domain])) as npz:
        return {key: npz[key] for key in (keys or npz.files)}


def metadata(domain: str) -> dict:
    """What the array was built from: source package and version, sha256 of the inputs, renderer, split rule."""
    return json.loads(str(_arrays(domain, "metadata")["metadata"]))


def codepoints() -> list[str]:
    """Every codepoint of the task ('1f600', '1f3f3-200d-1f308': lowercase hex, FE0F dropped) in emoji-datasource's
    order; `ids` index this list."""
    return [str(c) for c in _arrays("a", "codepoints")["codepoints"]]


def emoji_images(domain: str, split: str) -> ImageSet:
    """One domain's split at 64 px, uint8 (N, 3, 64, 64), composited on white. Test sets carry `ids`."""
    if domain not in DOMAINS or split not in ("train", "test"):
        raise ValueError(f"emoji_images(domain in {sorted(DOMAINS)}, split in ['test', 'train']), got {domain!r}, "
                         f"{split!r}")
    arrays = _arrays(domain, f"{split}_images", f"{split}_labels", *(["test_ids"] if split == "test" else []))
    images = torch.from_numpy(arrays[f"{split}_images"]).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(arrays[f"{split}_labels"]).long()
    ids = torch.from_numpy(arrays["test_ids"]).long() if split == "test" else None
    return ImageSet(images, labels, ids=ids)


# OpenMoji draws every outline in pure black (#000): luminance below LINE_START is line, above LINE_END is not
LINE_START, LINE_END = 0.15, 0.45


def line_drawing(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) drawings with black outlines -> their outlines as white lines on black, grey (3 channels)."""
    luminance = (images.float() / 255 * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    lines = ((LINE_END - luminance) / (LINE_END - LINE_START)).clamp(0, 1)
    return (lines * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def _lines(images: ImageSet) -> ImageSet:
    return ImageSet(line_drawing(images.images), images.labels, ids=images.ids)


def load_emoji_lines(cfg) -> Task:
    """A = Fluent Emoji Flat, B = OpenMoji's outlines as line drawings; otherwise as load_emoji."""
    emoji = load_emoji(cfg)
    return Task(emoji.train_b, _lines(emoji.train_a), emoji.test_b, _lines(emoji.test_a))


def load_emoji(cfg) -> Task:
    """data.image_size (stored at 64, resized at load) and data.max_images (per domain and split) apply."""
    sets = {(d, s): sized(emoji_images(d, s), cfg.image_size, cfg.max_images)
            for d in DOMAINS for s in ("train", "test")}
    if not torch.equal(sets["a", "test"].ids, sets["b", "test"].ids):
        raise ValueError("emoji_openmoji.npz and emoji_fluent.npz disagree on the test codepoints: rebuild both "
                         "with scripts/build_emoji.py")
    return Task(sets["a", "train"], sets["b", "train"], sets["a", "test"], sets["b", "test"])
