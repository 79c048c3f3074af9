"""Model registry: `model.name` in a config picks the class; each class names its own config dataclass."""

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.cyclegan import CycleGAN
from xgan.models.dtn import DTN
from xgan.models.template import Template
from xgan.models.xgan import XGAN

# "template" is models/template.py, the file to copy when adding a model; it trains like any other
MODELS: dict[str, type[TranslationModel]] = {"xgan": XGAN, "dtn": DTN, "cyclegan": CycleGAN, "template": Template}

__all__ = ["MODELS", "Batch", "Losses", "Phase", "TranslationModel", "XGAN", "DTN", "CycleGAN"]
