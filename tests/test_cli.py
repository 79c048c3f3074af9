import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
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


@pytest.fixture
def copied_run(trained_run, tmp_path):
    """A copy of the trained run that a test may extend."""
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


def test_resume_extends_a_finished_run(copied_run):
    assert main(["train", "--resume", "--out", str(copied_run), "train.steps=6"]) == 0
    assert (copied_run / "checkpoints" / "latest").read_text().strip() == "step_00000006"


def test_an_override_right_after_resume_is_an_override_not_a_checkpoint(copied_run):
    assert main(["train", "--out", str(copied_run), "--resume", "train.steps=6"]) == 0
    assert (copied_run / "checkpoints" / "latest").read_text().strip() == "step_00000006"


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
    (["eval", "{run}", "--features", "{tmp}/inception.pt"], "feature extractor not found"),
    (["neighbors", "{run}", "{tmp}/missing.png", "--domain", "a"], "missing.png"),
])
def test_bad_inputs_exit_non_zero_with_a_clear_message(argv, message, trained_run, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, run=trained_run) for a in argv]
    assert main(argv) != 0
    assert message in capsys.readouterr().err


def test_help_lists_the_presets():
    out = subprocess.run([sys.executable, "-m", "xgan", "--help"], capture_output=True, text=True, check=True).stdout
    assert "presets: " in out and "translate" in out
    for preset in ("digits", "cyclegan-digits", "dtn-digits", "dtn-finetuned-digits", "folders", "faces2cartoon"):
        assert preset in out
    out = subprocess.run([sys.executable, "-m", "xgan", "train", "--help"], capture_output=True, text=True).stdout
    assert "digits" in out and "--resume" in out


def test_eval_writes_metrics_report_and_grids_into_the_run(trained_run, capsys):
    import json
    assert main(["eval", str(trained_run), "--count", "40"]) == 0
    out_dir = trained_run / "eval" / "step_00000004"
    record = json.loads((out_dir / "metrics.json").read_text())
    metrics = record["metrics"]
    assert record["step"] == 4 and record["test_images_per_domain"] == {"a": 16, "b": 40}
    assert metrics["classifier_ceiling_b"] > 0.7  # the MNIST judge (trained here on 16 px digits), far above chance
    for name in ("class_preservation_ab", "class_preservation_ba", "kid_ab", "fid_ba", "semantic_distance"):
        assert name in metrics and metrics[name] == metrics[name]  # present and not NaN
    report = (out_dir / "report.md").read_text()
    assert "not Inception" in report and "semantic_extremes_ab.png" in report and "losses.png" in report
    for picture in ("translations.png", "semantic_extremes_ab.png", "semantic_extremes_ba.png", "losses.png"):
        assert (out_dir / picture).is_file()
    assert "class_preservation_ab" in capsys.readouterr().out


def test_eval_gan_bound_adds_the_label_free_error_estimate(trained_run, tmp_path):
    import json
    assert main(["eval", str(trained_run), "--count", "16", "--gan-bound", "2", "--out", str(tmp_path / "e")]) == 0
    record = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert record["gan_bound_steps"] == 2
    assert all(0 < record["metrics"][f"gan_bound_{d}"] < 1 for d in ("ab", "ba"))
    assert "gan_bound_ab" in (tmp_path / "e" / "report.md").read_text()


def test_neighbors_writes_a_grid_and_lists_the_nearest_test_images(trained_run, tmp_path, capsys):
    Image.new("L", (28, 28), 0).save(tmp_path / "query.png")
    assert main(["neighbors", str(trained_run), str(tmp_path / "query.png"), "--domain", "b", "-k", "3"]) == 0
    assert (tmp_path / "query_neighbors.png").is_file()
    out = capsys.readouterr().out
    assert "1. test " in out and "3. test " in out


def test_translate_keeps_every_output_when_inputs_share_a_name(trained_run, tmp_path, capsys):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.new("RGB", (20, 20), "red").save(inputs / "x.png")
    Image.new("RGB", (20, 20), "blue").save(inputs / "x.jpg")
    Image.new("RGB", (20, 20), "green").save(inputs / "y.png")
    assert main(["translate", str(trained_run), str(inputs), "--to", "b", "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_jpg_to_b.png", "x_png_to_b.png", "y_to_b.png"]
    assert "translated 3 of 3 image(s)" in captured.out and "keep the extension" in captured.err


@pytest.mark.parametrize("argv", [
    ["translate", "{run}", "{tmp}", "--to", "b", "--out", "{tmp}/o", "--batch-size", "-1"],
    ["neighbors", "{run}", "{tmp}/q.png", "--domain", "a", "-k", "-3"],
    ["eval", "{run}", "--count", "-5"],
    ["serve", "{run}", "--port", "70000"],
])
def test_counts_below_one_are_refused_by_the_parser(argv, trained_run, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main([a.format(tmp=tmp_path, run=trained_run) for a in argv])
    assert exited.value.code == 2 and "error: argument" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["train", "digits", "train.device=cuda", "--out", "{tmp}/r"], "CUDA is not available"),
    (["translate", "{run}", "{tmp}", "--to", "b", "--out", "{tmp}/o", "--device", "tpu"], "is not a device"),
    (["train", "digits", *TINY, "--out", "{tmp}/a_file"], "is a file"),
    (["train", "digits", *TINY, "--out", "{run}"], "already holds another run"),
    (["train", "digits", *TINY, "model.teacher=payload_nowhere:make", "model.weights.teacher=1", "--out", "{tmp}/t"],
     "payload_nowhere"),
])
def test_bad_settings_exit_non_zero_with_the_value_named(argv, message, trained_run, tmp_path, capsys):
    import torch

    if "CUDA" in message and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    (tmp_path / "a_file").write_text("")
    assert main([a.format(tmp=tmp_path, run=trained_run) for a in argv]) != 0
    assert message in capsys.readouterr().err


def test_sigint_during_training_saves_the_step_and_prints_the_resume_command(tmp_path):
    import os
    import signal
    import time

    run = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "xgan", "train", "digits", *TINY, "train.steps=100000",
                                "train.checkpoint_every=100000", "train.sample_every=100000", "--out", str(run)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (run / "config.yaml").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)  # training has started once the run's config is written
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=240)
    assert process.returncode == 128 + signal.SIGINT, err
    assert "Traceback" not in err and f"resume with: xgan train --resume {run}" in out
    step = int((run / "checkpoints" / "latest").read_text().strip()[5:])
    assert step >= 1 and os.path.isdir(run / "checkpoints" / f"step_{step:08d}")


def test_translate_samples_writes_k_reproducible_outputs_per_input_for_a_multimodal_model(tmp_path, capsys):
    """--samples K draws K style codes per input (seeded): K different files, the same files again with the same
    seed; a model without style codes refuses --samples."""
    from conftest import TINY_RUN
    run = tmp_path / "run"
    tiny = ["model.width=0.125", "model.residual_blocks=1"]
    assert main(["train", "augcgan-digits", *TINY_RUN, *tiny, "train.steps=2", "--out", str(run)]) == 0
    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(image)
    outputs = []
    for out in ("one", "two"):
        assert main(["translate", str(run), str(image), "--to", "b", "--samples", "3", "--seed", "7",
                     "--out", str(tmp_path / out)]) == 0
        outputs.append([np.asarray(Image.open(tmp_path / out / f"in_to_b_{k}.png")) for k in range(3)])
    assert all(np.array_equal(x, y) for x, y in zip(*outputs))  # the seed fixes the codes
    assert not np.array_equal(outputs[0][0], outputs[0][1])  # different codes, different outputs

    cycle = tmp_path / "cycle"
    assert main(["train", "cyclegan-digits", *TINY_RUN, *tiny, "train.steps=1", "--out", str(cycle)]) == 0
    assert main(["translate", str(cycle), str(image), "--to", "b", "--samples", "2", "--out", str(tmp_path / "no")]) != 0
    assert "has no style codes" in capsys.readouterr().err
    assert not (tmp_path / "no").exists()


def test_translate_reference_gives_every_output_the_style_of_one_target_image(tmp_path, capsys):
    """--reference IMAGE: the outputs take that image's style (MUNIT's style encoder); two references, two
    results; a model that cannot read a style refuses it."""
    from conftest import tiny_overrides
    run = tmp_path / "run"
    assert main(["train", "munit-digits", *tiny_overrides("munit"), "model.mlp_dim=16", "train.steps=1",
                 "--out", str(run)]) == 0
    rng = np.random.default_rng(0)
    for name in ("in", "ref1", "ref2"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    outputs = []
    for ref in ("ref1", "ref2"):
        assert main(["translate", str(run), str(tmp_path / "in.png"), "--to", "b", "--reference",
                     str(tmp_path / f"{ref}.png"), "--out", str(tmp_path / ref)]) == 0
        outputs.append(np.asarray(Image.open(tmp_path / ref / "in_to_b.png")))
    assert not np.array_equal(*outputs)
    cycle = tmp_path / "cycle"
    assert main(["train", "cyclegan-digits", *tiny_overrides("cyclegan"), "train.steps=1", "--out", str(cycle)]) == 0
    assert main(["translate", str(cycle), str(tmp_path / "in.png"), "--to", "b", "--reference",
                 str(tmp_path / "ref1.png"), "--out", str(tmp_path / "no")]) != 0
    assert "cannot read a style from an image" in capsys.readouterr().err


def test_eval_adds_the_translation_trained_protocol_in_both_directions(tiny_run, tmp_path, capsys, monkeypatch):
    from xgan.evaluation import protocols
    from xgan.models.classifier import ClassifierSettings
    fast = ClassifierSettings(epochs=1, max_images=64)  # the protocol's LeNet on a few translations: seconds
    monkeypatch.setattr(protocols.translation_trained_accuracy, "__defaults__", (fast, "cpu"))
    assert main(["eval", str(tiny_run), "--count", "8", "--translation-trained", "--out", str(tmp_path / "e")]) == 0
    printed = dict(line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("translation_"))
    assert set(printed) == {"translation_trained_accuracy_ab", "translation_trained_accuracy_ba"}
    assert all(0 <= float(v) <= 1 for v in printed.values())
