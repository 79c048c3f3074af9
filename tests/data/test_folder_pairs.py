import logging

import pytest
import torch
from PIL import Image

from conftest import TINY
from xgan.config import load_config
from xgan.data.registry import load_task


def write(path, shade: int) -> None:
    """A flat image whose red channel names it, so a pairing can be read back from the pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (shade, 0, 255 - shade)).save(path)


def layout(root, test_a: dict[str, int], test_b: dict[str, int]):
    for name in ("trainA", "trainB"):
        for i in range(3):
            write(root / name / f"{i}.png", 100)
    for folder, files in (("testA", test_a), ("testB", test_b)):
        for name, shade in files.items():
            write(root / folder / name, shade)
    return root


def load(root, *overrides):
    return load_task(load_config("folders", [*TINY, "data.image_size=8", f"data.path={root}", *overrides]).data)


def pairs(task) -> set[tuple[int, int]]:
    """(red of the A image, red of the B image), to the nearest 10 (JPEG's loss), for every pair of equal ids."""
    a, b = task.test_a, task.test_b
    return {(round(int(a.images[i, 0, 0, 0]), -1), round(int(b.images[j, 0, 0, 0]), -1))
            for i in range(len(a)) for j in range(len(b)) if a.ids[i] >= 0 and a.ids[i] == b.ids[j]}


def test_same_names_pair_whatever_the_extension_and_the_rest_gets_minus_one(tmp_path):
    root = layout(tmp_path, {"cat.png": 10, "sub/dog.png": 20, "lonely.png": 30},
                  {"cat.jpg": 110, "sub/dog.png": 120, "dog.png": 190, "other.png": 140})
    task = load(root)
    assert pairs(task) == {(10, 110), (20, 120)}  # sub/dog pairs with sub/dog, not with the top-level dog
    assert sorted(task.test_a.ids.tolist()).count(-1) == 1 and sorted(task.test_b.ids.tolist()).count(-1) == 2
    assert task.train_a.ids is None and task.train_b.ids is None


def test_a_name_two_files_of_one_folder_share_pairs_nothing(tmp_path, caplog):
    root = layout(tmp_path, {"x.png": 10, "y.png": 20}, {"x.png": 110, "x.jpg": 130, "y.png": 120})
    with caplog.at_level(logging.WARNING, logger="xgan"):
        task = load(root)
    assert pairs(task) == {(20, 120)}
    assert "testB: 1 name(s) shared by several files (x)" in caplog.text


def test_unrelated_names_give_no_ids(tmp_path):
    task = load(layout(tmp_path, {"a1.png": 10}, {"b1.png": 110}))
    assert task.test_a.ids is None and task.test_b.ids is None


def test_pairs_csv_overrides_names_and_skips_missing_files(tmp_path, caplog):
    root = layout(tmp_path, {"1.png": 10, "2.png": 20, "3.png": 30}, {"1.png": 110, "two.png": 120, "deep/3.png": 130})
    (root / "pairs.csv").write_text("testA,testB\n1.png,deep/3.png\n2.png,two.png\n3.png,gone.png\n\n")
    with caplog.at_level(logging.WARNING, logger="xgan"):
        task = load(root)
    assert pairs(task) == {(10, 130), (20, 120)}  # the csv, not the equal names 1.png
    assert "1 pair(s) name a file that is missing or could not be read: 3.png,gone.png" in caplog.text
    with pytest.raises(ValueError, match="missing or could not be read"):
        load(root, "data.strict=true")


def test_a_file_in_two_pairs_or_a_bad_row_is_an_error(tmp_path):
    root = layout(tmp_path, {"1.png": 10, "2.png": 20}, {"1.png": 110, "2.png": 120})
    (root / "pairs.csv").write_text("1.png,1.png\n2.png,1.png\n")
    with pytest.raises(ValueError, match=r"testB/1.png is in more than one pair"):
        load(root)
    (root / "pairs.csv").write_text("1.png,1.png,extra\n")
    with pytest.raises(ValueError, match="row 1 has 3 column"):
        load(root)


def test_the_evaluator_reads_folder_pairs(tmp_path):
    from torch import nn

    from xgan.evaluation.evaluate import Evaluator
    from xgan.evaluation.features import FeatureSpace
    from xgan.models.base import TranslationModel

    class Identity(TranslationModel):
        def translate(self, x: torch.Tensor, to: str) -> torch.Tensor:
            return x

    shades = {f"{i}.png": 10 * i for i in range(8)}
    task = load(layout(tmp_path, shades, {**{f"{i}.png": 10 * i for i in range(6)}, "extra.png": 200}))
    evaluator = Evaluator(task, "folders", count=None, features=FeatureSpace("flat", nn.Flatten()))
    metrics = evaluator(Identity()).metrics
    assert evaluator.info["ground_truth"]["pairs"] == {"ab": 6, "ba": 6}
    assert metrics["gt_top1_pixel_ab"] == 1.0 and metrics["gt_l1_ab"] == 0  # same pictures on both sides
    assert torch.equal(task.test_a.images[:6], task.test_b.images[:6])
