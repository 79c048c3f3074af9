import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from source_only import INPUTS, mnist_accuracy  # noqa: E402

from xgan.data import ImageSet, Task  # noqa: E402


def bars_task(count: int = 200) -> Task:
    """Class k is a bright bar at row 3k on black: trivially learnt, and the same in both domains."""
    labels = torch.arange(count) % 10
    images = torch.zeros(count, 3, 32, 32, dtype=torch.uint8)
    for i, k in enumerate(labels.tolist()):
        images[i, :, 3 * k: 3 * k + 2, 4:28] = 255
    same = ImageSet(images, labels)
    return Task(same, same, same, same)


def test_a_classifier_of_the_source_scores_the_target_test_split_against_its_labels():
    task = bars_task()
    assert mnist_accuracy(INPUTS["printed digits as rendered"], 60, 0, task) > 0.9
    shuffled = Task(task.train_a, task.train_b, task.test_a, ImageSet(task.test_b.images, (task.test_b.labels + 1) % 10))
    assert mnist_accuracy(INPUTS["printed digits as rendered"], 60, 0, shuffled) < 0.2
