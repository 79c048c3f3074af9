"""Model registry: `model.name` in a config picks the class; each class names its own config dataclass."""

from xgan.models.base import Batch, Losses, Phase, TranslationModel
from xgan.models.cyclegan import CycleGAN
from xgan.models.dtn import DTN
from xgan.models.xgan import XGAN

MODELS: dict[str, type[TranslationModel]] = {"xgan": XGAN, "dtn": DTN, "cyclegan": CycleGAN}

__all__ = ["MODELS", "Batch", "Losses", "Phase", "TranslationModel", "XGAN", "DTN", "CycleGAN"]
