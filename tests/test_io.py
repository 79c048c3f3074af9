import os

import pytest

from xgan.io import atomic_write, atomic_write_dir, atomic_write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")

    def crash(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise KeyboardInterrupt  # as a kill mid-write would

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_failed_directory_write_leaves_the_old_directory(tmp_path):
    target = tmp_path / "snap"
    atomic_write_dir(target, lambda d: (d / "a").write_text("1"))

    def crash(d):
        (d / "a").write_text("2")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_dir(target, crash)
    assert (target / "a").read_text() == "1"
    assert sorted(os.listdir(tmp_path)) == ["snap"]
    atomic_write_dir(target, lambda d: (d / "b").write_text("3"))  # replaced whole
    assert os.listdir(target) == ["b"]


def test_written_files_are_readable_like_ordinarily_created_ones(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")
    assert os.stat(tmp_path / "a.txt").st_mode == os.stat(tmp_path / "b.txt").st_mode
