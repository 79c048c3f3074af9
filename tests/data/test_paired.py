import logging

import numpy as np
import pytest
import torch
from PIL import Image

from xgan.config import load_config
from xgan.data.paired import edge_map, luminance
from xgan.data.registry import load_task


def square(size: int = 16) -> torch.Tensor:
    """One image: a white 6x6 square on black."""
    image = torch.zeros(1, 3, size, size, dtype=torch.uint8)
    image[:, :, 5:11, 5:11] = 255
    return image


def test_edges_are_black_lines_on_white_along_the_square_border_only():
    edges = edge_map(square())
    assert edges.shape == (1, 3, 16, 16) and edges.dtype == torch.uint8
    assert set(edges.unique().tolist()) == {0, 255}
    lines = edges[0, 0] == 0
    rows, cols = torch.nonzero(lines, as_tuple=True)
    assert 4 <= int(rows.min()) and int(rows.max()) <= 11 and 4 <= int(cols.min()) and int(cols.max()) <= 11
    assert not lines[7:9, 7:9].any()  # the square's flat inside has no edge
    assert not lines[:3].any() and not lines[13:].any()  # nor has the flat background
    assert torch.equal(edge_map(square()), edges)  # read back from the cache


def test_luminance_is_grey_with_the_bt601_weights():
    image = torch.tensor([255, 0, 0], dtype=torch.uint8).view(1, 3, 1, 1)
    grey = luminance(image)
    assert grey.flatten().tolist() == [76, 76, 76]  # 0.299 * 255


@pytest.mark.parametrize("name, derive", [("edges2digits", edge_map), ("gray2emoji", luminance)])
def test_a_paired_task_derives_each_a_image_from_its_b_counterpart(name, derive):
    task = load_task(load_config(None, [f"data.task={name}", "data.image_size=32", "data.max_images=40"]).data)
    assert task.paired
    for a, b in ((task.train_a, task.train_b), (task.test_a, task.test_b)):
        assert len(a) == len(b) == 40
        assert torch.equal(a.images, derive(b.images))
        assert torch.equal(a.labels, b.labels)
    assert torch.equal(task.test_a.ids, task.test_b.ids)  # the ground-truth metrics read the pairs


def test_one_shot_on_a_paired_task_is_no_longer_paired():
    config = load_config(None, ["data.task=edges2digits", "data.image_size=16", "data.max_images=20",
                                "data.image_a=test:3"])
    assert not load_task(config.data).paired


def side_by_side(path, left, right, size=(8, 8)):
    picture = Image.new("RGB", (2 * size[0], size[1]), left)
    picture.paste(Image.new("RGB", size, right), (size[0], 0))
    picture.save(path)


def test_the_aligned_layout_splits_each_picture_into_its_a_and_b_halves(tmp_path):
    for split, count in (("train", 3), ("val", 2)):
        (tmp_path / split).mkdir()
        for i in range(count):
            side_by_side(tmp_path / split / f"{i}.png", (10 * i, 0, 0), (0, 0, 10 * i + 100))
    task = load_task(load_config(None, ["data.task=paired-folders", f"data.path={tmp_path}", "data.image_size=8",
                                        "data.workers=0"]).data)
    assert task.paired and (len(task.train_a), len(task.test_a)) == (3, 2)
    for a, b in ((task.train_a, task.train_b), (task.test_a, task.test_b)):
        assert (a.images[:, 1:] == 0).all() and (b.images[:, :2] == 0).all()  # red left halves, blue right ones
        assert torch.equal(a.images[:, 0, 0, 0] // 10, b.images[:, 2, 0, 0] // 10 - 10)  # the same picture's halves


def test_the_aligned_layout_without_a_test_folder_names_what_is_missing(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(FileNotFoundError, match="needs train/ and test/"):
        load_task(load_config(None, ["data.task=paired-folders", f"data.path={tmp_path}"]).data)


def test_two_folders_pair_by_name_and_leave_out_a_file_without_partner(tmp_path, caplog):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder in (a, b):
        folder.mkdir()
    for i in range(10):
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(a / f"{i}.png")
        Image.new("RGB", (8, 8), (0, 0, 20 * i)).save(b / f"{i}.jpg")
    Image.new("RGB", (8, 8)).save(a / "lonely.png")
    config = load_config(None, ["data.task=paired-folders", f"data.path_a={a}", f"data.path_b={b}",
                                "data.image_size=8", "data.workers=0", "data.test_fraction=0.2"])
    with caplog.at_level(logging.WARNING, logger="xgan"):
        task = load_task(config.data)
    assert "lonely" in caplog.text
    assert task.paired and (len(task.train_a), len(task.test_a)) == (8, 2)
    for x, y in ((task.train_a, task.train_b), (task.test_a, task.test_b)):
        red, blue = x.images[:, 0, 4, 4].int(), y.images[:, 2, 4, 4].int()
        assert (red - blue).abs().max() <= 6  # each pair is the same index (JPEG moves a value by a few levels)


def test_two_folders_sharing_no_name_is_an_error_naming_both(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, name in ((a, "x"), (b, "y")):
        folder.mkdir()
        Image.new("RGB", (8, 8)).save(folder / f"{name}.png")
    with pytest.raises(ValueError, match="nothing pairs") as error:
        load_task(load_config(None, ["data.task=paired-folders", f"data.path_a={a}", f"data.path_b={b}"]).data)
    assert str(a) in str(error.value) and str(b) in str(error.value)


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_task(load_config(None, ["data.task=paired-folders", f"data.path_a={tmp_path / 'nowhere'}",
                                     f"data.path_b={tmp_path}"]).data)
