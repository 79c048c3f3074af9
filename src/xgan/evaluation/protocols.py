"""The literature's second digits protocol, beside class preservation (a judge trained on real target images reads
the translations; DTN's and XGAN's figure): train a classifier on the translations and read real target images.

    translation_trained_accuracy_ab = acc( LeNet trained on {(T_ab(x), y) : (x, y) in A's training split},
                                           B's real test split with its labels )

as CyCADA, PixelDA and DRIT's MNIST -> MNIST-M table do: a translator is good for adaptation when what is learnt on
its outputs transfers to the real target. It reads A's training labels (to train the classifier) and B's test labels
(to score it), never B's training labels. The classifier is models/classifier.py's LeNet with the judges' recipe.
"""

from __future__ import annotations

import torch

from xgan.data import ImageSet
from xgan.data.task import to_model_range, to_uint8
from xgan.evaluation.metrics import accuracy, batched
from xgan.models.base import TranslationModel, other
from xgan.models.classifier import ClassifierSettings, train_classifier


@torch.no_grad()
def translation_trained_accuracy(model: TranslationModel, train_source: ImageSet, test_target: ImageSet, to: str,
                                 settings: ClassifierSettings = ClassifierSettings(),
                                 device: torch.device | str = "cpu") -> float:
    """Accuracy on `test_target` of a LeNet trained on `train_source` translated into domain `to`, with the
    source labels (up to settings.max_images of them, spread through the split)."""
    if train_source.labels is None or test_target.labels is None:
        raise ValueError("the translation-trained protocol needs the source training and target test labels")
    if to not in model.directions:
        raise ValueError(f"the model translates only into {list(model.directions)}, not {to!r} ({other(to)} -> {to})")
    source = train_source.spread(settings.max_images)
    x = to_model_range(source.images).to(device)
    translated = to_uint8(batched(lambda y: model.translate(y, to=to), x)).cpu()
    with torch.enable_grad():
        classifier = train_classifier(ImageSet(translated, source.labels), settings)
    return accuracy(classifier.to(device), to_model_range(test_target.images).to(device), test_target.labels)
