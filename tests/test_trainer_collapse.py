import logging

import pytest
import torch

from conftest import TINY, random_task
from xgan.config import ConfigError
from xgan.evaluation.collapse import CollapseError

NO_TEACHER = ["model.teacher=''", "model.weights.teacher=0"]  # nothing to train before the first step


def constant_outputs(trainer) -> None:
    """The trained model's outputs no longer depend on the inputs (training itself is untouched)."""
    trainer.model.translate = lambda x, to: torch.zeros_like(x)
    trainer.model.reconstruct = lambda x, domain: torch.zeros_like(x)


def logged_collapse(trainer) -> dict[int, dict[str, float]]:
    logged: dict[int, dict[str, float]] = {}
    log_scalars = trainer.log_scalars

    def spy(scalars):
        collapse = {k: v for k, v in scalars.items() if k.startswith("collapse/")}
        if collapse:
            logged[trainer.step] = collapse
        log_scalars(scalars)
    trainer.log_scalars = spy
    return logged


@pytest.fixture
def trainer_of(tiny_config):
    from xgan.trainer import Trainer

    def make(*overrides: str):
        return Trainer(tiny_config(*NO_TEACHER, "train.steps=4", *overrides), task=random_task())
    return make


def test_a_healthy_run_logs_the_measures_at_the_sample_cadence_and_stays_quiet(trainer_of, caplog):
    trainer = trainer_of("train.on_collapse=stop")  # would raise on a false alarm
    logged = logged_collapse(trainer)
    with caplog.at_level(logging.WARNING, logger="xgan"):
        trainer.fit()
    assert sorted(logged) == [2, 4]  # train.sample_every=2 in the tiny config; collapse_every unset follows it
    assert set(logged[2]) == {f"collapse/{k}" for k in ("spread_ab", "spread_ba", "distinct_ab", "distinct_ba",
                                                        "spread_rec_a", "spread_rec_b")}
    assert all(v > 0.05 for k, v in logged[4].items() if "spread" in k)
    assert "no longer depend" not in caplog.text


def test_collapse_warns_with_the_step_and_goes_on(trainer_of, caplog):
    trainer = trainer_of("train.collapse_every=3")
    constant_outputs(trainer)
    logged = logged_collapse(trainer)
    with caplog.at_level(logging.WARNING, logger="xgan"):
        trainer.fit()
    assert trainer.step == 4 and sorted(logged) == [3, 4]  # its own cadence, and the last step
    assert "step 3: the outputs no longer depend on the inputs (spread_ab=0.0000" in caplog.text
    assert "step 4: the outputs no longer depend" in caplog.text


def test_on_collapse_stop_stops_the_run_naming_step_and_numbers_before_saving_it(trainer_of):
    trainer = trainer_of("train.on_collapse=stop")
    constant_outputs(trainer)
    with pytest.raises(CollapseError, match=r"step 2: the outputs no longer depend .*spread_rec_a=0\.0000.*below 0\.05"):
        trainer.fit()
    assert trainer.step == 2 and not (trainer.run_dir / "checkpoints").exists()


def test_collapse_every_zero_never_checks(trainer_of):
    trainer = trainer_of("train.collapse_every=0", "train.on_collapse=stop")
    constant_outputs(trainer)
    logged = logged_collapse(trainer)
    trainer.fit()
    assert trainer.step == 4 and logged == {}


@pytest.mark.parametrize("override, message", [("train.on_collapse=halt", "train.on_collapse must be"),
                                               ("train.collapse_every=-1", "train.collapse_every must be")])
def test_bad_collapse_settings_are_config_errors(tiny_config, override, message):
    with pytest.raises(ConfigError, match=message):
        tiny_config(override)


def test_the_cli_exits_non_zero_with_the_message(tmp_path, monkeypatch, capsys):
    import xgan.evaluation.collapse as collapse
    from xgan.cli import main

    monkeypatch.setattr(collapse, "collapse_measures", lambda model, a, b: {"spread_ab": 0.01, "distinct_ab": 0.03})
    code = main(["train", "digits", *TINY, *NO_TEACHER, "train.steps=4", "train.on_collapse=stop",
                 "--out", str(tmp_path / "run")])
    assert code == 1
    error = capsys.readouterr().err
    assert "xgan: error: step 2: the outputs no longer depend on the inputs (spread_ab=0.0100" in error
