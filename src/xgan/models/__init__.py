"""Model registry: `model.name` in a config picks the class; each class names its own config dataclass."""

from __future__ import annotations

from typing import Any

import torch

from xgan.models.base import Losses, TranslationModel
from xgan.models.cyclegan import CycleGAN
from xgan.models.dtn import DTN
from xgan.models.xgan import XGAN

MODELS: dict[str, type[TranslationModel]] = {"xgan": XGAN, "dtn": DTN, "cyclegan": CycleGAN}


def build_model(config: Any, device: torch.device | str = "cpu", pretrained: bool = True) -> TranslationModel:
    """The model a Config (xgan.config, which imports this registry: hence no type import here) describes.
    pretrained=False: for loading a checkpoint, frozen extractors as architecture only (no training, no files)."""
    return MODELS[config.model.name](config.model, config.data.image_size, pretrained=pretrained).to(device)


__all__ = ["MODELS", "Losses", "TranslationModel", "XGAN", "DTN", "CycleGAN", "build_model"]
