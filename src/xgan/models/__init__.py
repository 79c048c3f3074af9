"""Model registry: `model.name` in a config picks the class; each class names its own config dataclass."""

from __future__ import annotations

from typing import Any

import torch

from xgan.models.acgan import ACGAN
from xgan.models.augmented_cyclegan import AugmentedCycleGAN
from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.bicyclegan import BicycleGAN
from xgan.models.cogan import CoGAN
from xgan.models.cut import CUT
from xgan.models.dcgan import DCGAN
from xgan.models.cyclegan import CycleGAN
from xgan.models.discogan import DiscoGAN
from xgan.models.distancegan import DistanceGAN
from xgan.models.drit import DRIT
from xgan.models.dtn import DTN
from xgan.models.dualgan import DualGAN
from xgan.models.infogan import InfoGAN
from xgan.models.munit import MUNIT
from xgan.models.ost import OST
from xgan.models.pix2pix import Pix2Pix
from xgan.models.pix2pixhd import Pix2PixHD
from xgan.models.stargan import StarGAN
from xgan.models.starganv2 import StarGANv2
from xgan.models.template import Template
from xgan.models.unit import UNIT
from xgan.models.xgan import XGAN

# "template" is models/template.py, the file to copy when adding a model; it trains like any other
MODELS: dict[str, type[TranslationModel]] = {
    "xgan": XGAN,
    "dtn": DTN,
    "cyclegan": CycleGAN,
    "discogan": DiscoGAN,
    "distancegan": DistanceGAN,
    "augcgan": AugmentedCycleGAN,
    "cut": CUT,
    "dualgan": DualGAN,
    "ost": OST,
    "unit": UNIT,
    "munit": MUNIT,
    "cogan": CoGAN,
    "drit": DRIT,
    "pix2pix": Pix2Pix,
    "pix2pixhd": Pix2PixHD,
    "dcgan": DCGAN,
    "acgan": ACGAN,
    "infogan": InfoGAN,
    "stargan": StarGAN,
    "starganv2": StarGANv2,
    "bicyclegan": BicycleGAN,
    "template": Template,
}



def build_model(config: Any, device: torch.device | str = "cpu", training: bool = True,
                pretrained: bool = True) -> TranslationModel:
    """The model a Config (xgan.config, which imports this registry: hence no type import here) describes.
    training=False: only what translation needs; pretrained=False: for loading a checkpoint, frozen extractors
    as architecture only (no training, no files)."""
    return MODELS[config.model.name](config.model, config.data.image_size, training=training,
                                     pretrained=pretrained).to(device)


__all__ = ["MODELS", "Batch", "Losses", "Phase", "TranslationModel", "build_model", "XGAN", "DTN", "CycleGAN",
           "DiscoGAN", "DistanceGAN", "AugmentedCycleGAN", "CUT", "DualGAN", "OST", "UNIT", "MUNIT", "CoGAN", "DRIT",
           "Pix2Pix", "Pix2PixHD", "BicycleGAN", "DCGAN", "StarGAN", "StarGANv2", "Template"]
