import torch

from conftest import pattern_set
from xgan.cache import cache_dir
from xgan.data.task import to_model_range
from xgan.models.classifier import ClassifierSettings, cached_classifier, predict


def test_classifier_is_trained_once_then_loaded_from_the_cache():
    train, test = pattern_set(300, 0), pattern_set(100, 1)
    first, identifier = cached_classifier(train, "toy")
    assert identifier.startswith("toy-")
    cached = list(cache_dir().glob(f"classifiers/{identifier}.safetensors"))
    assert len(cached) == 1 and ".cache/xgan" not in str(cached[0])
    again, same_identifier = cached_classifier(train, "toy")
    assert same_identifier == identifier
    x = to_model_range(test.images)
    assert torch.equal(predict(first, x), predict(again, x))
    assert (predict(again, x) == test.labels).float().mean() > 0.9


def test_changed_data_or_settings_train_a_new_classifier():
    train = pattern_set(300, 0)
    _, identifier = cached_classifier(train, "toy")
    _, other_settings = cached_classifier(train, "toy", ClassifierSettings(epochs=1))
    _, other_data = cached_classifier(pattern_set(300, 5), "toy")
    assert len({identifier, other_settings, other_data}) == 3


def test_training_or_loading_leaves_the_callers_random_state_alike():
    """A model built after its teacher must not initialise differently on a first run (cache miss)."""
    images = pattern_set(64, seed=11)
    settings = ClassifierSettings(epochs=1, seed=5)
    after = []
    for _ in range(2):  # the first call trains, the second loads
        torch.manual_seed(0)
        model, _ = cached_classifier(images, "rng-check", settings)
        after.append(torch.rand(3))
        assert not any(p.requires_grad or p.grad is not None for p in model.parameters())
    torch.testing.assert_close(after[0], after[1])
