"""One-shot translation's data (OST): domain A's training set is a single image, the rest of the task unchanged."""

from __future__ import annotations

from dataclasses import replace

import torch

from xgan.data.images import read_image
from xgan.data.task import ImageSet, Task

COPIES = 1024  # one epoch of A: views of the one image, each batch augmented afresh (crop, flip, rotation)


def one_image_a(task: Task, image_a: str, size: int, background: tuple[int, int, int]) -> Task:
    """`task` with train_a replaced by `image_a`: an image file, or `test:N`, the N-th image of task.test_a (whose
    counterpart in test_b evaluation knows). A file is read as every user image is (data/images.py) and resized to
    size x size. The whole A training split stays as `judged_a`, for evaluation's judges only."""
    if image_a.startswith("test:"):
        index = image_a.removeprefix("test:")
        if not index.isdigit() or int(index) >= len(task.test_a):
            raise ValueError(f"data.image_a={image_a!r}: after 'test:' give an index of the A test split "
                             f"(0..{len(task.test_a) - 1})")
        image = task.test_a.images[int(index)]
    else:
        image = torch.from_numpy(read_image(image_a, size, background).copy()).permute(2, 0, 1)
    return replace(task, train_a=ImageSet(image.expand(COPIES, *image.shape)), judged_a=task.reference_a, paired=False)
