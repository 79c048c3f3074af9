"""Frozen feature extractors usable as XGAN's teacher (`model.teacher: "xgan.models.teachers:coarse_colours"`).

Any `package.module:factory` returning an nn.Module from (N, 3, H, W) images in [-1, 1] to (N, D) features
works; the paper uses FaceNet. Weights, if any, come from `model.teacher_weights` (safetensors).
"""

from __future__ import annotations

import importlib

from safetensors.torch import load_file
from torch import nn


def load_extractor(spec: str, weights: str = "", option: str = "model.teacher") -> nn.Module:
    """A frozen module from `package.module:factory`, with optional safetensors weights; `option` names the
    setting in error messages."""
    module_name, _, factory = spec.partition(":")
    try:
        extractor = getattr(importlib.import_module(module_name), factory)()
    except (ImportError, AttributeError, ValueError, TypeError) as e:
        raise ValueError(f"{option} '{spec}': cannot load ({e})") from None
    if weights:
        extractor.load_state_dict(load_file(weights))
    return extractor.eval().requires_grad_(False)


def coarse_colours(grid: int = 4) -> nn.Module:
    """The image's colour layout on a grid x grid raster (48 numbers at 4x4): pulls the embedding toward
    keeping skin, hair and background tones, a prior the talk's failure cases ask for."""
    return nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten())


TEACHER_DIGITS, TEACHER_SEED = 5000, 7_000_001  # its own rendered set, disjoint from any run's images


def printed_digit_features() -> nn.Module:
    """Penultimate features of a LeNet trained on printed digits (domain A of the digits task, whose labels
    come free with rendering): the digits counterpart of the paper's FaceNet, prior semantic knowledge from the
    source domain (seed 000). Trained once (about 10 s) on its own 5,000 rendered digits and cached; distinct
    from the printed judge that `xgan eval` scores B -> A with."""
    from xgan.data.digits import printed_digits
    from xgan.evaluation.classifier import ClassifierSettings, cached_classifier

    classifier, _ = cached_classifier(printed_digits(TEACHER_DIGITS, TEACHER_SEED), "printed-teacher",
                                      ClassifierSettings(epochs=3, seed=1))
    return classifier.features
