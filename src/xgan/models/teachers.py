"""Frozen feature extractors usable as XGAN's teacher (`model.teacher: "xgan.models.teachers:coarse_colours"`).

Any `package.module:factory` returning an nn.Module from (N, 3, H, W) images in [-1, 1] to (N, D) features
works; the paper uses FaceNet. Weights, if any, come from `model.teacher_weights` (safetensors).
"""

from __future__ import annotations

from torch import nn


def coarse_colours(grid: int = 4) -> nn.Module:
    """The image's colour layout on a grid x grid raster (48 numbers at 4x4): pulls the embedding toward
    keeping skin, hair and background tones, a prior the talk's failure cases ask for."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten())


def printed_digit_features() -> nn.Module:
    """Penultimate features of a LeNet trained on the digits task's printed training digits (domain A, whose
    labels come free with rendering): the digits counterpart of the paper's FaceNet, prior semantic knowledge
    from the source domain (seed 000). Trained once and cached; its own seed keeps it distinct from the printed
    judge that `xgan eval` scores B -> A with."""
    from xgan.config import DataConfig
    from xgan.data.digits import printed_digits
    from xgan.evaluation.classifier import ClassifierSettings, cached_classifier

    data = DataConfig()
    classifier, _ = cached_classifier(printed_digits(data.printed_train, data.seed), "printed-teacher",
                                      ClassifierSettings(seed=1))
    return classifier.features
