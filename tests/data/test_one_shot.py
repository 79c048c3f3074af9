import numpy as np
import pytest
import torch
from PIL import Image

from xgan.data import ImageSet, Task
from xgan.data.images import ImageReadError
from xgan.data.one_shot import one_image_a


def task() -> Task:
    sets = [ImageSet(torch.randint(0, 256, (5, 3, 8, 8), dtype=torch.uint8), torch.arange(5)) for _ in range(4)]
    return Task(*sets)


def test_a_test_image_becomes_all_of_a_training_set_and_the_rest_is_kept():
    original = task()
    one = one_image_a(original, "test:3", 8, (255, 255, 255))
    assert len(one.train_a) >= 64 and (one.train_a.images == original.test_a.images[3]).all()
    assert one.train_a.labels is None  # nothing but the image reaches training
    assert one.train_b is original.train_b and one.test_a is original.test_a and one.test_b is original.test_b
    assert one.reference_a is original.train_a and original.reference_a is original.train_a  # for the judges


def test_an_image_file_is_read_composited_and_resized(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (255, 0, 0, 255)  # a red square on transparency
    Image.fromarray(rgba).save(tmp_path / "x.png")
    one = one_image_a(task(), str(tmp_path / "x.png"), 8, (255, 255, 255))
    image = one.train_a.images[0]
    assert image.shape == (3, 8, 8)
    assert image[:, 0, 0].tolist() == [255, 255, 255] and image[:, 4, 4].tolist() == [255, 0, 0]


def test_a_bad_image_a_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"test:9.*0\.\.4"):
        one_image_a(task(), "test:9", 8, (255, 255, 255))
    with pytest.raises(ValueError, match="test:x"):
        one_image_a(task(), "test:x", 8, (255, 255, 255))
    with pytest.raises(ImageReadError, match="missing.png"):
        one_image_a(task(), str(tmp_path / "missing.png"), 8, (255, 255, 255))
