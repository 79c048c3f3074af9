"""Frozen feature extractors: XGAN's teacher (`model.teacher`) and DTN's f (`model.encoder`).

A config names one by `package.module:factory`. The built-ins below are looked up in `BUILTIN`, never imported by
name. Any other factory is imported only once the user has vouched for it (`trust_code`): the CLI trusts what the
user typed on the command line (`model.teacher=mypkg.nets:facenet`, `--trust-code SPEC`), never what a config or
checkpoint file says, so loading a file someone else wrote runs no code of theirs. A factory returns an nn.Module
from (N, 3, H, W) images in [-1, 1] to (N, D) features; the paper uses FaceNet. Weights, if any, come from a
safetensors file (`model.teacher_weights`).
"""

from __future__ import annotations

import importlib
from typing import Callable

from safetensors.torch import load_file
from torch import nn

_TRUSTED: set[str] = set()


def trust_code(*specs: str) -> None:
    """Allow these `package.module:factory` names to be imported (the user's own code)."""
    _TRUSTED.update(specs)


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
    return printed_digit_classifier().features


def printed_digit_classifier() -> nn.Module:
    """The same LeNet as printed_digit_features, whole: logits over the 10 digits (CyCADA's source classifier
    f_S, for CycleGAN's semantic loss)."""
    from xgan.data.digits import printed_digits
    from xgan.models.classifier import ClassifierSettings, cached_classifier

    classifier, _ = cached_classifier(printed_digits(TEACHER_DIGITS, TEACHER_SEED), "printed-teacher",
                                      ClassifierSettings(epochs=3, seed=1))
    return classifier


def lenet_classifier() -> nn.Module:
    """printed_digit_classifier's architecture, untrained: its weights come from the checkpoint."""
    from xgan.models.classifier import LeNet

    return LeNet(classes=10)


def lenet_features() -> nn.Module:
    """printed_digit_features' architecture, untrained: its weights come from the checkpoint."""
    return lenet_classifier().features


# built-ins trained with class labels of the source domain's kind: a model using one reads domain A's labels
LABEL_TRAINED = {"xgan.models.teachers:printed_digit_features", "xgan.models.teachers:printed_digit_classifier"}

# name -> (the trained extractor, its architecture alone for loading a checkpoint that holds its weights)
BUILTIN: dict[str, tuple[Callable[[], nn.Module], Callable[[], nn.Module]]] = {
    "xgan.models.teachers:coarse_colours": (coarse_colours, coarse_colours),
    "xgan.models.teachers:printed_digit_features": (printed_digit_features, lenet_features),
    "xgan.models.teachers:printed_digit_classifier": (printed_digit_classifier, lenet_classifier),
}


def load_extractor(spec: str, weights: str = "", option: str = "model.teacher", pretrained: bool = True) -> nn.Module:
    """A frozen module from `package.module:factory`, with optional safetensors weights; `option` names the
    setting in error messages. pretrained=False builds a built-in's architecture only, without training it or
    reading `weights`: a checkpoint's weights are loaded into it next."""
    if spec in BUILTIN:
        trained, architecture = BUILTIN[spec]
        extractor = trained() if pretrained else architecture()
    elif spec in _TRUSTED:
        module_name, _, factory = spec.partition(":")
        try:
            extractor = getattr(importlib.import_module(module_name), factory)()
        except (ImportError, AttributeError, ValueError, TypeError) as e:
            raise ValueError(f"{option} '{spec}': cannot load ({e})") from None
    else:
        raise ValueError(f"{option} '{spec}' is not a built-in extractor ({', '.join(BUILTIN)}); code named in a "
                         f"config or checkpoint file is never imported. To use your own, name it on the command "
                         f"line: {option}={spec} (xgan train), --trust-code {spec} (other commands), or "
                         f"xgan.models.teachers.trust_code('{spec}') in Python")
    if not isinstance(extractor, nn.Module):
        raise ValueError(f"{option} '{spec}': the factory returned {type(extractor).__name__}, not an nn.Module")
    if weights and pretrained:
        extractor.load_state_dict(load_file(weights))
    return extractor.eval().requires_grad_(False)
