import subprocess
import sys

import pytest
from PIL import Image

from conftest import TINY
from xgan.cli import main


def train(run_dir, *extra):
    return main(["train", "digits", *TINY, "train.steps=4", *extra, "--out", str(run_dir)])


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    assert train(run) == 0
    return run


def test_train_writes_a_run_directory(trained_run):
    assert (trained_run / "checkpoints" / "step_00000004" / "model.safetensors").is_file()
    assert (trained_run / "checkpoints" / "latest").read_text().strip() == "step_00000004"
    assert (trained_run / "samples" / "step_00000004.png").is_file()
    assert "steps: 4" in (trained_run / "config.yaml").read_text()


def test_resume_extends_a_finished_run(trained_run, tmp_path):
    run = tmp_path / "run"
    import shutil
    shutil.copytree(trained_run, run)
    assert main(["train", "--resume", "--out", str(run), "train.steps=6"]) == 0
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_00000006"


def test_translate_a_folder_reports_bad_files_and_translates_the_rest(trained_run, tmp_path, capsys):
    inputs = tmp_path / "in"
    (inputs / "nested").mkdir(parents=True)
    Image.new("RGB", (40, 30), "red").save(inputs / "wide.jpg")
    Image.new("LA", (8, 8)).save(inputs / "nested" / "gray_alpha.png")
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    code = main(["translate", str(trained_run), str(inputs), "--to", "b", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "broken.png" in err
    outputs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert outputs == ["nested/gray_alpha_to_b.png", "wide_to_b.png"]
    with Image.open(tmp_path / "out" / "wide_to_b.png") as image:
        assert image.size == (16, 16) and image.mode == "RGB"


def test_translate_a_single_image_succeeds(trained_run, tmp_path):
    Image.new("L", (28, 28), 0).save(tmp_path / "digit.png")
    assert main(["translate", str(trained_run / "checkpoints" / "step_00000004"), str(tmp_path / "digit.png"),
                 "--to", "a", "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "digit_to_a.png").is_file()


@pytest.mark.parametrize("argv, message", [
    (["translate", "{tmp}/no-run", "{tmp}", "--to", "b", "--out", "{tmp}/o"], "checkpoint not found"),
    (["translate", "{run}", "{tmp}/missing.png", "--to", "b", "--out", "{tmp}/o"], "input not found"),
    (["train", "digits", "train.stepz=3", "--out", "{tmp}/r"], "unknown config key 'train.stepz'"),
    (["train", "{tmp}/nope.yaml"], "config file not found"),
    (["train", "--resume", "--out", "{tmp}/empty"], "checkpoint not found"),
])
def test_bad_inputs_exit_non_zero_with_a_clear_message(argv, message, trained_run, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, run=trained_run) for a in argv]
    assert main(argv) != 0
    assert message in capsys.readouterr().err


def test_help_lists_the_presets():
    out = subprocess.run([sys.executable, "-m", "xgan", "--help"], capture_output=True, text=True, check=True).stdout
    assert "presets: digits" in out and "translate" in out
    out = subprocess.run([sys.executable, "-m", "xgan", "train", "--help"], capture_output=True, text=True).stdout
    assert "digits" in out and "--resume" in out
