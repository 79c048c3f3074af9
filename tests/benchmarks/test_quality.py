import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import quality  # noqa: E402


def result(top1: float, cpu: float, **extra: float) -> dict:
    return {"metrics": {"gt_top1_pixel_ab": top1, **extra}, "steps": 100, "train_wall_min": cpu,
            "train_cpu_min": cpu, "total_wall_min": cpu, "total_cpu_min": cpu, "threads": 1}


def test_the_mean_over_seeds_averages_every_figure_the_runs_share():
    mean = quality.mean_result([result(0.1, 2.0, kid_ab=3.0), result(0.2, 4.0)])
    assert mean["metrics"] == {"gt_top1_pixel_ab": pytest.approx(0.15)}  # kid_ab is missing from seed 1
    assert mean["total_cpu_min"] == 3.0 and mean["steps"] == 100


def test_the_seeds_table_has_a_column_per_seed_and_the_mean():
    text = quality.seeds_summary("emoji", "python benchmarks/quality.py --seeds 0 1", [0, 1],
                                 [result(0.1, 2.0), result(0.3, 4.0)])
    row = next(line for line in text.splitlines() if line.startswith("| gt_top1_pixel_ab"))
    assert row == "| gt_top1_pixel_ab | 0.1000 | 0.3000 | **0.2000** |"
    assert "| metric | seed 0 | seed 1 | mean |" in text


def test_a_finished_seed_is_read_back_and_a_changed_command_trains_again(tmp_path, monkeypatch):
    """Seeds trained by separate calls (in parallel) are collected by one final call without training them again;
    a run of other settings in that directory is not mistaken for this one."""
    trained = []

    def fake_train(preset, overrides, run_dir):
        trained.append(overrides)
        return result(0.5, 1.0)

    monkeypatch.setattr(quality, "train_and_score", fake_train)
    run = tmp_path / "emoji_xgan_preset_seed0"
    run.mkdir()
    assert quality.scored_run("emoji", ["train.seed=0"], run)["metrics"]["gt_top1_pixel_ab"] == 0.5
    assert json.loads((run / "quality.json").read_text())["overrides"] == ["train.seed=0"]
    quality.scored_run("emoji", ["train.seed=0"], run)
    assert len(trained) == 1
    quality.scored_run("emoji", ["train.seed=0", "train.steps=10"], run)
    assert len(trained) == 2


def test_the_variants_table_has_each_variants_seeds_mean_and_minimum():
    def run(ab: float) -> dict:
        return {"metrics": {"class_preservation_strong_ab": ab, "class_preservation_strong_ba": 0.5,
                            "class_preservation_ab": ab - 0.1, "kid_ab": 100.0}, "steps": 1200}

    text = quality.variants_table("cmd", [0, 1], [("preset", [run(0.6), run(0.8)]), ("train.ema=0.99", [run(0.9), run(0.7)])])
    rows = [line for line in text.splitlines() if line.startswith("| preset") or line.startswith("| train.ema")]
    assert rows[0] == "| preset | 0.600 | 0.800 | **0.700** | 0.600 | 0.500 | 0.600 | 100.0 |"
    assert rows[1].startswith("| train.ema=0.99 | 0.900 | 0.700 | **0.800** | 0.700 |")
    assert quality.variant_slug("model.a=1,train.b=2") == "model.a-1+train.b-2"
