"""The published-format loaders (data/mnist.py, svhn.py, celeba.py, cartoonset.py, vggface2.py) on fixture files."""

import numpy as np
import pytest
from PIL import Image

from data.fixtures import write_cartoon, write_celeba, write_idx
from xgan.data.cartoonset import load_cartoonset
from xgan.data.celeba import load_celeba
from xgan.data.mnist import load_mnist, read_idx
from xgan.data.svhn import load_svhn
from xgan.data.vggface2 import load_vggface2


def test_mnist_idx_files_load_with_labels_and_bad_headers_are_named(tmp_path):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (5, 28, 28)), np.array([3, 1, 4, 1, 5])
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    digits = load_mnist(tmp_path, "test")
    assert digits.images.shape == (5, 3, 28, 28) and digits.labels.tolist() == [3, 1, 4, 1, 5]
    assert np.array_equal(digits.images[:, 0].numpy(), images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:4])
    with pytest.raises(ValueError, match="5 images but"):
        load_mnist(tmp_path, "test")
    (tmp_path / "short.gz").write_bytes(open(tmp_path / "t10k-images-idx3-ubyte.gz", "rb").read()[:-3])
    with pytest.raises(Exception):
        read_idx(tmp_path / "short.gz")
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_mnist(tmp_path, "train")


def test_svhn_mat_files_load_with_ten_meaning_zero(tmp_path):
    from scipy.io import savemat

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    savemat(tmp_path / "test_32x32.mat", {"X": x, "y": np.array([[10], [1], [9], [10]], dtype=np.uint8)})
    digits = load_svhn(tmp_path, "test")
    assert digits.labels.tolist() == [0, 1, 9, 0]
    assert np.array_equal(digits.images[2].permute(1, 2, 0).numpy(), x[..., 2])
    savemat(tmp_path / "train_32x32.mat", {"X": x[:16], "y": np.zeros((4, 1))})
    with pytest.raises(ValueError, match="expected"):
        load_svhn(tmp_path, "train")


def test_celeba_official_splits_face_crop_and_attributes(tmp_path):
    rng = np.random.default_rng(2)
    flags = write_celeba(tmp_path, [0, 0, 2, 1, 0], rng)
    train = load_celeba(tmp_path, "train", size=16)
    assert train.images.shape == (3, 3, 16, 16)
    assert train.attribute_names[:4] == ("5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair")
    assert train.attributes.tolist() == flags[[0, 1, 4]].tolist()
    assert load_celeba(tmp_path, "test", size=16).attributes.tolist() == flags[[2]].tolist()
    (tmp_path / "list_eval_partition.txt").unlink()
    with pytest.raises(FileNotFoundError, match="cannot be downloaded automatically"):
        load_celeba(tmp_path)


def test_cartoonset_crops_the_border_composites_on_white_and_reads_the_parts(tmp_path):
    parts = {"eye_angle": (1, 3), "hair_color": (7, 10), "glasses": (11, 12)}
    write_cartoon(tmp_path / "0", "cs1", parts, (255, 0, 0, 255))
    write_cartoon(tmp_path / "1", "cs2", {**parts, "hair_color": (2, 10)}, (0, 0, 255, 255))
    cartoons = load_cartoonset(tmp_path, size=20)
    assert cartoons.attribute_names == ("eye_angle", "hair_color", "glasses")
    assert cartoons.attributes.tolist() == [[1, 7, 11], [1, 2, 11]]
    first = cartoons.images[0].permute(1, 2, 0).numpy()
    assert (first[10, 10] == [255, 0, 0]).all() and (first[0, 0] == 255).all()  # face kept, border now thin white
    (tmp_path / "1" / "cs2.csv").write_text('"eye_angle", 5, 3\n')
    with pytest.raises(ValueError, match="outside"):
        load_cartoonset(tmp_path, size=20)


def test_vggface2_identities_are_labels(tmp_path):
    for identity, count in (("n000002", 2), ("n000010", 3)):
        (tmp_path / "train" / identity).mkdir(parents=True)
        for i in range(count):
            Image.new("RGB", (40, 50), (i * 40, 0, 0)).save(tmp_path / "train" / identity / f"{i:04d}_01.jpg")
    faces = load_vggface2(tmp_path, "train", size=8)
    assert faces.labels.tolist() == [0, 0, 1, 1, 1] and faces.images.shape == (5, 3, 8, 8)
    assert load_vggface2(tmp_path, "train", size=8, per_identity=1).labels.tolist() == [0, 1]
    with pytest.raises(FileNotFoundError, match="registration"):
        load_vggface2(tmp_path, "test")


def test_svhn2mnist_task_trains_from_the_published_files(tmp_path):
    from scipy.io import savemat

    from conftest import TINY
    from xgan.cli import main
    from xgan.config import load_config
    from xgan.data.registry import load_task

    rng = np.random.default_rng(5)
    for split, count in (("train", 24), ("test", 8)):
        savemat(tmp_path / f"{split}_32x32.mat", {"X": rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8),
                                                   "y": rng.integers(1, 11, (count, 1))})
    for prefix, count in (("train", 24), ("t10k", 8)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (count, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", rng.integers(0, 10, count))
    paths = [f"data.path_a={tmp_path}", f"data.path_b={tmp_path}"]
    task = load_task(load_config("svhn2mnist", [*paths, "data.image_size=16"]).data)
    assert [len(s) for s in (task.train_a, task.train_b, task.test_a, task.test_b)] == [24, 24, 8, 8]
    assert task.train_b.images.shape[1:] == (3, 16, 16) and task.test_a.labels.max() <= 9
    assert main(["train", "svhn2mnist", *TINY, *paths, "train.steps=2", "--out", str(tmp_path / "run")]) == 0
    with pytest.raises(ValueError, match="data.path_a"):
        load_task(load_config("svhn2mnist").data)
