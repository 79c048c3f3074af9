"""The translation-trained protocol: a classifier learnt on translations transfers to the real target when the
translation keeps the class, and sits at chance when it keeps nothing."""

import pytest
from conftest import pattern_set
from toys import IdentityTranslator, NoiseTranslator

from xgan.data import ImageSet
from xgan.evaluation.protocols import translation_trained_accuracy
from xgan.models.classifier import ClassifierSettings

FAST = ClassifierSettings(epochs=3, batch_size=32, shift=0)


def test_translations_that_keep_the_class_train_a_classifier_of_the_real_target():
    train_a, test_b = pattern_set(300, 0), pattern_set(100, 3)
    assert translation_trained_accuracy(IdentityTranslator(), train_a, test_b, "b", FAST) == pytest.approx(1.0)
    assert translation_trained_accuracy(NoiseTranslator(), train_a, test_b, "b", FAST) < 0.3  # chance is 0.1


def test_it_needs_the_labels_and_a_direction_the_model_translates():
    train_a, test_b = pattern_set(40, 0), pattern_set(20, 3)
    with pytest.raises(ValueError, match="labels"):
        translation_trained_accuracy(IdentityTranslator(), ImageSet(train_a.images), test_b, "b", FAST)
    one_way = IdentityTranslator()
    one_way.directions = ("b",)
    with pytest.raises(ValueError, match="only into"):
        translation_trained_accuracy(one_way, train_a, test_b, "a", FAST)
