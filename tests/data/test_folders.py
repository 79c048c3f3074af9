import logging

import numpy as np
import pytest
from PIL import Image

from conftest import TINY
from xgan.cli import main
from xgan.config import load_config
from xgan.data.registry import load_task
from xgan.data import folders as folders_module
from xgan.data.folders import scan_folder


def write_images(folder, count, colour=(200, 30, 30), size=(20, 12)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", size, colour).save(folder / f"{i:03d}.png")


def mixed_folder(folder):
    """One file per decoding case, plus a corrupt and a truncated file."""
    (folder / "sub").mkdir(parents=True)
    Image.new("L", (10, 8), 200).save(folder / "gray.png")
    Image.new("RGBA", (10, 8), (255, 0, 0, 0)).save(folder / "clear.png")
    Image.new("P", (10, 8), 3).save(folder / "palette.gif")
    Image.fromarray(np.full((8, 10), 65535, dtype=np.uint16)).save(folder / "deep.png")
    Image.new("CMYK", (10, 8), (0, 0, 0, 0)).save(folder / "cmyk.jpg")
    Image.new("RGB", (9, 9), "green").save(folder / "sub" / "nested.webp")
    Image.new("RGB", (9, 9), "blue").save(folder / "photo.JPEG")
    (folder / "junk.png").write_bytes(b"not an image")
    (folder / "cut.png").write_bytes((folder / "gray.png").read_bytes()[:40])
    (folder / "notes.txt").write_text("ignored: not an image extension")


@pytest.fixture
def layout(tmp_path):
    root = tmp_path / "data"
    mixed_folder(root / "trainA")
    write_images(root / "trainB", 6, (10, 10, 200))
    write_images(root / "testA", 2)
    write_images(root / "testB", 3)
    return root


def config(*overrides):
    return load_config("folders", [*TINY, "data.image_size=16", *overrides])


def test_the_cyclegan_layout_loads_every_readable_image_and_names_the_skipped_ones(layout, caplog):
    with caplog.at_level(logging.WARNING, logger="xgan"):
        task = load_task(config(f"data.path={layout}").data)
    assert [len(s) for s in (task.train_a, task.train_b, task.test_a, task.test_b)] == [7, 6, 2, 3]
    assert task.train_a.images.shape[1:] == (3, 16, 16) and task.train_a.labels is None
    assert "2 of 9 files could not be read" in caplog.text and "junk.png" in caplog.text and "cut.png" in caplog.text


def test_strict_mode_and_missing_or_empty_folders_are_errors_before_training(layout, tmp_path):
    with pytest.raises(ValueError, match="junk.png"):
        load_task(config(f"data.path={layout}", "data.strict=true").data)
    (layout / "testB").rename(layout / "elsewhere")
    with pytest.raises(FileNotFoundError, match="testB"):
        load_task(config(f"data.path={layout}").data)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        load_task(config(f"data.path_a={tmp_path / 'empty'}", f"data.path_b={layout / 'trainB'}").data)
    with pytest.raises(ValueError, match="data.path"):
        load_task(config().data)


def test_two_folders_are_split_into_train_and_test(tmp_path):
    write_images(tmp_path / "x", 20)
    write_images(tmp_path / "y", 10, (0, 0, 0))
    task = load_task(config(f"data.path_a={tmp_path / 'x'}", f"data.path_b={tmp_path / 'y'}", "data.test_fraction=0.2").data)
    assert [len(s) for s in (task.train_a, task.test_a, task.train_b, task.test_b)] == [16, 4, 8, 2]


def test_decoded_folders_are_cached_and_a_changed_file_invalidates_the_cache(tmp_path, monkeypatch):
    write_images(tmp_path / "x", 5)
    first = scan_folder(tmp_path / "x", 8, cache=tmp_path / "cache")

    def broken(job):
        raise AssertionError("decoded again")

    monkeypatch.setattr(folders_module, "_decode", broken)
    again = scan_folder(tmp_path / "x", 8, cache=tmp_path / "cache")
    assert again.files == first.files and np.array_equal(again.images, first.images)
    Image.new("RGB", (20, 12), "white").save(tmp_path / "x" / "003.png")
    with pytest.raises(AssertionError, match="decoded again"):
        scan_folder(tmp_path / "x", 8, cache=tmp_path / "cache")


def test_worker_processes_decode_exactly_as_the_main_process(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(80):
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(folder / f"{i:02d}.png")
    here, pooled = scan_folder(folder, 8, workers=0), scan_folder(folder, 8, workers=2)
    assert pooled.files == here.files and np.array_equal(pooled.images, here.images)


def test_data_check_reports_counts_sizes_and_skipped_files(layout, capsys):
    assert main(["data", "check", str(layout), "--size", "16"]) == 0
    out = capsys.readouterr().out
    assert "trainA: 9 image files, 7 readable, 2 skipped" in out and "skipped" in out and "junk.png" in out
    assert "trainB: 6 image files, 6 readable, 0 skipped; sizes 20x12 (6)" in out
    assert main(["data", "check", str(layout), "--strict"]) == 1


def test_train_on_two_folders_end_to_end(tmp_path):
    write_images(tmp_path / "x", 20)
    write_images(tmp_path / "y", 20, (0, 0, 0))
    run = tmp_path / "run"
    assert main(["train", "folders", *TINY, "train.steps=2", f"data.path_a={tmp_path / 'x'}",
                 f"data.path_b={tmp_path / 'y'}", "--out", str(run)]) == 0
    assert (run / "checkpoints" / "latest").exists()


def test_faces_to_cartoons_task_reads_celeba_and_cartoonset(tmp_path):
    from data.fixtures import write_cartoon, write_celeba

    write_celeba(tmp_path / "celeba", [0, 0, 0, 2], np.random.default_rng(0))
    for i in range(10):
        write_cartoon(tmp_path / "cartoons", f"cs{i}", {"hair_color": (i % 3, 10)}, (i * 20, 0, 0, 255))
    task = load_task(load_config("faces2cartoon", [f"data.path_a={tmp_path / 'celeba'}",
                                                   f"data.path_b={tmp_path / 'cartoons'}", "data.image_size=16",
                                                   "data.test_fraction=0.2"]).data)
    assert [len(s) for s in (task.train_a, task.test_a, task.train_b, task.test_b)] == [3, 1, 8, 2]
    assert task.train_a.attributes.shape == (3, 40) and task.test_b.attribute_names == ("hair_color",)


def test_faces_to_cartoons_evaluation_scores_hair_colour_and_glasses_across_domains(tmp_path):
    import json

    from data.fixtures import write_cartoon, write_celeba

    write_celeba(tmp_path / "celeba", [0] * 40 + [2] * 12, np.random.default_rng(1))
    palette = [(20, 20, 20, 255), (230, 200, 120, 255), (120, 70, 40, 255)]
    for i in range(30):
        parts = {"hair_color": (i % 3, 10), "glasses": (i % 2, 12), "face_shape": (0, 7)}
        write_cartoon(tmp_path / "cartoons", f"cs{i:02d}", parts, palette[i % 3])
    run = tmp_path / "run"
    paths = [f"data.path_a={tmp_path / 'celeba'}", f"data.path_b={tmp_path / 'cartoons'}", "data.test_fraction=0.2"]
    assert main(["train", "faces2cartoon", *TINY, *paths, "train.steps=2", "--out", str(run)]) == 0
    assert main(["eval", str(run)]) == 0
    record = json.loads(next((run / "eval").glob("*/metrics.json")).read_text())
    metrics = record["metrics"]
    for name in ("attribute_preservation_glasses_ab", "attribute_preservation_glasses_ba",
                 "attribute_ceiling_glasses_a", "attribute_ceiling_glasses_b"):
        assert 0 <= metrics[name] <= 1, name
    assert "CartoonSet hair_color" in record["attribute_mapping"][0]


def test_an_unreadable_subfolder_is_named_and_counted_as_skipped_and_an_unreadable_root_is_an_error(
        tmp_path, monkeypatch, caplog):
    import os

    write_images(tmp_path / "A" / "fine", 3)
    write_images(tmp_path / "A" / "locked", 2)
    real_scandir = os.scandir

    def scandir(path="."):  # root reads every folder, so permissions are simulated
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    locked = str(tmp_path / "A" / "locked")
    with caplog.at_level(logging.WARNING, logger="xgan"):
        scan = folders_module.checked(scan_folder(tmp_path / "A", 16, workers=0), tmp_path / "A", strict=False)
    assert len(scan.files) == 3 and "Permission denied" in scan.skipped[locked] and locked in caplog.text
    with pytest.raises(ValueError, match="locked"):
        folders_module.checked(scan_folder(tmp_path / "A", 16, workers=0), tmp_path / "A", strict=True)
    with pytest.raises(ValueError, match=f"cannot list folder '{locked}': Permission denied"):
        scan_folder(tmp_path / "A" / "locked", 16, workers=0)


def test_an_image_above_the_pixel_limit_is_skipped_before_it_is_decoded(tmp_path, monkeypatch):
    from xgan.data import images

    write_images(tmp_path / "A", 2, size=(8, 8))
    Image.new("RGB", (64, 64)).save(tmp_path / "A" / "bomb.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 32 * 32)
    scan = scan_folder(tmp_path / "A", 16, workers=0)
    assert len(scan.files) == 2 and "64x64 pixels, above the limit" in scan.skipped[str(tmp_path / "A" / "bomb.png")]
