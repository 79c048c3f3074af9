import pytest

from xgan.metric_names import higher_is_better


def test_best_direction_of_each_metric():
    assert higher_is_better("class_preservation_ab") and not higher_is_better("kid_ba")
    assert not higher_is_better("semantic_distance")
    with pytest.raises(ValueError, match="unknown metric"):
        higher_is_better("accuracy_of_something")
