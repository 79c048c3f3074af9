"""A LeNet-style digit classifier, trained once and cached: evaluation's judge of content preservation (one per
domain) and the digits teacher (models/teachers.py).

The cache key is a hash of the training images, labels and settings, so a changed dataset or recipe never
reuses a stale judge, and every report can name the exact classifier it used.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from safetensors.torch import load_model, save_model
from torch import nn

from xgan.cache import cache_dir
from xgan.data.task import ImageSet, to_model_range
from xgan.io import atomic_write

log = logging.getLogger("xgan")
CLASSIFIER_VERSION = 2  # bump when LeNet or train_classifier changes


class ResizeTo(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (self.size, self.size):
            return x
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)


class LeNet(nn.Module):
    """LeCun et al.'s conv-pool-conv-pool-fc-fc-fc, widened, on RGB in [-1, 1] resized to 32x32. `features`
    (images -> penultimate layer) is the offline feature space for KID/FID and the digits teacher."""

    def __init__(self, classes: int = 10, feature_dim: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(
            ResizeTo(32), nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 8 * 8, 256), nn.ReLU(), nn.Linear(256, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@dataclass(frozen=True)
class ClassifierSettings:
    epochs: int = 6
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    shift: int = 2  # random translation in pixels: the judge must not depend on exact centring
    max_images: int = 8000  # evenly spaced through the set; enough for digits, and keeps the first eval short


def data_hash(images: ImageSet) -> str:
    digest = hashlib.sha256()
    digest.update(images.images.contiguous().numpy().tobytes())
    digest.update(images.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()


def classifier_key(images: ImageSet, settings: ClassifierSettings) -> str:
    recipe = f"v{CLASSIFIER_VERSION}-{sorted(asdict(settings).items())}-{data_hash(images)}"
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def random_shift(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    if pixels == 0:
        return x
    dx, dy = (int(v) for v in torch.randint(-pixels, pixels + 1, (2,), generator=generator))
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def train_classifier(images: ImageSet, settings: ClassifierSettings = ClassifierSettings()) -> LeNet:
    """Adam on cross-entropy; deterministic for given data and settings."""
    if images.labels is None:
        raise ValueError("a classifier needs labelled images")
    images = images.spread(settings.max_images)
    generator = torch.Generator().manual_seed(settings.seed)
    torch.manual_seed(settings.seed)
    model = LeNet(classes=int(images.labels.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    for _ in range(settings.epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order), settings.batch_size):
            idx = order[start:start + settings.batch_size]
            x = random_shift(to_model_range(images.images[idx]), settings.shift, generator)
            loss = F.cross_entropy(model(x), images.labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.zero_grad(set_to_none=True)  # a frozen judge or teacher carries no training leftovers
    return model.eval().requires_grad_(False)


def cached_classifier(images: ImageSet, name: str, settings: ClassifierSettings = ClassifierSettings()) -> tuple[LeNet, str]:
    """The classifier trained on `images` with `settings`, from the cache if trained before; returns (model, id)
    where id = name-hash names the exact classifier in reports."""
    identifier = f"{name}-{classifier_key(images, settings)}"
    path = cache_dir() / "classifiers" / f"{identifier}.safetensors"
    model = LeNet(classes=int(images.labels.max()) + 1)
    if path.exists():
        load_model(model, str(path))
        return model.eval().requires_grad_(False), identifier
    log.info("training the %s classifier (cached as %s)", name, path)
    with torch.random.fork_rng():  # trained or read from the cache, the caller's RNG ends up the same
        model = train_classifier(images, settings)
    atomic_write(path, lambda tmp: save_model(model, tmp), suffix=".safetensors")
    return model, identifier


@torch.no_grad()
def predict(classifier: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Class indices of images in [-1, 1]."""
    return torch.cat([classifier(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])
