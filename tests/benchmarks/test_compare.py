import json
import sys
from pathlib import Path

import pytest
from conftest import tiny_overrides

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from compare import compared, cpu_seconds_per_step  # noqa: E402

from xgan.config import load_config  # noqa: E402


@pytest.mark.parametrize("preset", [preset for task in ("digits", "edges2digits") for _, preset in compared(task)])
def test_the_calibration_step_runs_every_compared_preset(preset, tmp_path):
    """compare.py sizes each model's budget from a few timed steps, which must run on the presets as shipped
    (the XGAN preset's batches carry domain A's labels for its task tower)."""
    assert cpu_seconds_per_step(preset, tmp_path / "run", tuple(tiny_overrides(load_config(preset).model.name))) > 0


def test_the_mean_row_averages_every_seed_and_says_how_many():
    from compare import mean_row
    rows = [{"label": "XGAN, seed 0", "metrics": {"gt_top1_pixel_ab": 0.1, "kid_ab": 3.0}, "images_per_s": 10,
             "train_cpu_min": 5, "train_wall_min": 6, "steps": 100, "parameters": 1},
            {"label": "XGAN, seed 1", "metrics": {"gt_top1_pixel_ab": 0.2}, "images_per_s": 20,
             "train_cpu_min": 7, "train_wall_min": 8, "steps": 100, "parameters": 1}]
    mean = mean_row("XGAN", rows)
    assert mean["metrics"] == {"gt_top1_pixel_ab": pytest.approx(0.15)}  # kid_ab is missing from seed 1
    assert mean["train_cpu_min"] == 6 and "mean of 2 seeds" in mean["label"]


def test_every_preset_of_a_task_is_compared_and_readme_labels_come_first():
    from xgan.config import preset_names
    digits = compared("digits")
    assert [label for label, _ in digits[:4]] == ["XGAN", "XGAN, label-free (folders recipe)", "DTN", "fine-tuned DTN"]
    assert {preset for _, preset in digits} == {p for p in preset_names() if p == "digits" or p.endswith("-digits")} - {
        "dcgan-digits", "acgan-digits", "infogan-digits"}  # a generator from noise translates nothing
    assert [preset for _, preset in compared("emoji")][:3] == ["emoji", "dtn-emoji", "cyclegan-emoji"]
    assert "svhn2mnist" not in {preset for _, preset in digits}


def test_calibration_times_a_phase_that_starts_part_way_as_often_as_it_trains(tmp_path, monkeypatch):
    from xgan.models.ost import OST
    calls, losses = [], OST.losses
    monkeypatch.setattr(OST, "losses", lambda self, phase, batch: calls.append(phase) or losses(self, phase, batch))
    cpu_seconds_per_step("ost-digits", tmp_path / "run", (*tiny_overrides("ost"), "data.load_size=18",
                                                          "model.one_shot_start=0.5", "train.steps=100"))
    # two warm-up steps at the end, then steps 0, 1, 49, 50, 98, 99: the one-shot phase runs from step 50
    assert calls.count("one_shot_a") == 2 + 3 and calls.count("autoencoder_b") == 2 + 6


def test_calibration_times_windows_as_long_as_the_longest_phase_interval(tmp_path, monkeypatch):
    from xgan.models.drit import DRIT
    calls, losses = [], DRIT.losses
    monkeypatch.setattr(DRIT, "losses", lambda self, phase, batch: calls.append(phase) or losses(self, phase, batch))
    cpu_seconds_per_step("drit-digits", tmp_path / "run", (*tiny_overrides("drit"), "train.steps=100"))
    # windows of 3 steps: 97-99 (warm-up), then 0-2, 48-50, 96-98; the generator trains at the multiples of 3
    assert calls.count("generator") == 1 + 3 and calls.count("content_critic") == 3 + 9


def test_the_tables_say_which_models_read_domain_a_labels():
    """XGAN's digits preset (task tower, printed-digit teacher) and DTN's f (a printed-digit LeNet) read them;
    CycleGAN, and DTN on emoji (a colour-layout f), do not."""
    from compare import reads_labels

    assert [reads_labels(p) for p in ("digits", "dtn-digits", "cyclegan-digits", "dtn-emoji", "cycada-digits")] == [
        "yes", "yes", "no", "no", "yes"]  # CyCADA's semantic loss reads them through its printed-digit classifier


def test_the_paired_comparison_holds_the_paired_models_and_an_unpaired_one_and_says_which_saw_the_pairs():
    from compare import paired_table

    presets = [preset for _, preset in compared("edges2digits")]
    assert set(presets) == {"pix2pix-edges2digits", "bicyclegan-edges2digits", "pix2pixhd-edges2digits",
                            "cyclegan-edges2digits"}
    metrics = {"gt_l1_ab": 0.1, "gt_l1_identity_ab": 0.4, "gt_ssim_ab": 0.8, "gt_ssim_identity_ab": 0.2}
    rows = [{"label": preset, "preset": preset, "metrics": metrics, "images_per_s": 1, "parameters": 1e6,
             "steps": 1, "train_cpu_min": 1, "train_wall_min": 1} for preset in presets]
    lines = paired_table(rows).splitlines()[2:]
    assert [line.split(" | ")[1] for line in lines] == ["no (hidden)" if p.startswith("cyclegan") else "yes"
                                                        for p in presets]
    assert all("0.100 (0.400)" in line and "0.800 (0.200)" in line for line in lines)


def test_each_table_explains_only_the_judges_and_feature_space_its_task_uses():
    from compare import description

    digits = description([{"metrics": {"class_preservation_ab": 0.5, "class_preservation_strong_ab": 0.5}}],
                         "pix2pix-edges2digits")
    assert "strong judge" in digits and "LeNet features" in digits and "true target" in digits
    emoji = description([{"metrics": {"class_preservation_ab": 0.5}}], "pix2pix-edges2emoji")
    assert "MNIST" not in emoji and "domain classifier's features" in emoji and "emoji categories" in emoji
    unpaired = description([{"metrics": {"class_preservation_ab": 0.5, "class_preservation_strong_ab": 0.5}}],
                           "cyclegan-digits")
    assert "Reads A's labels" in unpaired and "true target" not in unpaired


def test_rescoring_refuses_a_row_without_its_run_and_names_the_preset(tmp_path, monkeypatch):
    import compare
    monkeypatch.setattr(compare, "RESULTS", tmp_path)
    (tmp_path / "compare_digits.json").write_text(json.dumps(
        {"unit-digits": {"cpu_minutes": 10, "command": "c", "run": str(tmp_path / "gone"), "rows": [{"metrics": {}}]}}))
    with pytest.raises(SystemExit, match="unit-digits: no single-seed row with its run directory"):
        compare.rescore("digits", "unit-digits")
    with pytest.raises(SystemExit, match="munit-digits"):
        compare.rescore("digits", "munit-digits")


def test_the_diversity_column_reads_the_metric_and_says_one_output_models_have_none():
    from compare import diversity_cell
    row = {"preset": "munit-digits", "metrics": {"diversity_feature_ab": 1.234, "diversity_real_feature_ab": 5.0}}
    assert diversity_cell(row) == "1.23 (5.00)"
    assert diversity_cell({"preset": "munit-digits", "metrics": {}}) == "—"  # scored before the metric existed
    assert diversity_cell({"preset": "unit-digits", "metrics": {}}) == "0 (one output)"


def test_rescoring_replaces_the_rows_metrics_from_its_run_and_keeps_its_training_figures(tmp_path, monkeypatch):
    import compare
    run = tmp_path / "munit_digits"
    (run / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(compare, "RESULTS", tmp_path)
    monkeypatch.setattr(compare, "score", lambda path: {"diversity_feature_ab": 1.5, "scored": str(path)})
    (tmp_path / "compare_digits.json").write_text(json.dumps(
        {"munit-digits": {"cpu_minutes": 10, "command": "c", "run": str(run),
                          "rows": [{"metrics": {"kid_ab": 3.0}, "steps": 600, "train_cpu_min": 10.1}]}}))
    compare.rescore("digits", "munit-digits")
    row = json.loads((tmp_path / "compare_digits.json").read_text())["munit-digits"]["rows"][0]
    assert row == {"metrics": {"diversity_feature_ab": 1.5, "scored": str(run)}, "steps": 600, "train_cpu_min": 10.1}
