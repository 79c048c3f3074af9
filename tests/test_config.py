from dataclasses import asdict

import pytest

from xgan import config as config_module
from xgan.config import ConfigError, TrainConfig, load_config, preset_names, to_yaml


def test_presets_load_with_overrides_typed():
    assert "digits" in preset_names()
    config = load_config("digits", ["train.steps=7", "model.sharing=full", "model.weights.gan=0.5"])
    assert config.train.steps == 7 and config.model.sharing == "full" and config.model.weights.gan == 0.5
    assert config.train.lr == 2e-4  # set by the preset
    assert config.train.beta1 == 0.5 and config.train.discriminator_lr == 1e-4  # reference defaults fill the rest
    assert TrainConfig().lr == 1e-4  # the reference Adam setting is the default


def test_saved_yaml_reloads_to_the_same_config(tmp_path):
    config = load_config("digits", ["train.steps=9", "model.dann_classes=4"])
    path = tmp_path / "c.yaml"
    path.write_text(to_yaml(config))
    assert load_config(str(path)) == config


@pytest.mark.parametrize("overrides, message", [
    (["train.stepz=3"], "unknown config key 'train.stepz'"),
    (["model.weights.recon=1"], "unknown config key 'model.weights.recon'"),
    (["train.steps=many"], "train.steps"),
    (["train.steps"], "key.sub=value"),
    (["train.on_nonfinite=ignore"], "on_nonfinite"),
    (["model.name=nomodel"], "unknown model.name"),
])
def test_bad_overrides_are_named(overrides, message):
    with pytest.raises((ConfigError, ValueError), match=message):
        load_config("digits", overrides)


def test_bad_sources_are_named(tmp_path):
    with pytest.raises(ConfigError, match="preset"):
        load_config("no-such-preset")
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  stepz: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'train.stepz'"):
        load_config(str(bad))


@pytest.mark.parametrize("override, message", [
    ("data.image_size=0", "data.image_size must be in"),
    ("data.image_size=100000", "data.image_size must be in"),
    ("data.test_fraction=-0.1", "data.test_fraction must be between 0 and 1"),
    ("data.background=[1,2]", "data.background must be three values"),
    ("data.background=[0,0,300]", "data.background must be three values"),
    ("train.max_skipped_fraction=2", "train.max_skipped_fraction must be in"),
    ("train.ema=1", "train.ema must be in"),
])
def test_out_of_range_settings_are_refused_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("digits", [override])


@pytest.mark.parametrize("preset, overrides", [
    ("digits", ["model.width=0"]),
    ("dtn-digits", ["model.width=-1", "model.encoder=xgan.models.teachers:coarse_colours"]),  # f untrained: fast
    ("cyclegan-digits", ["model.width=0"]),
])
def test_a_width_of_zero_or_less_is_refused_instead_of_becoming_one_channel(preset, overrides):
    from xgan.models import build_model

    with pytest.raises(ValueError, match="model.width must be > 0"):
        build_model(load_config(preset, overrides))


@pytest.mark.parametrize("text, message", [
    ("train:\n\tsteps: 3\n", "cannot start any token"),  # a tab
    ("train: {steps: [3\n", "expected ',' or ']'"),
    ("train:\n  steps: 3\n  steps: 4\n", "duplicate key"),
    ("train: !!python/object/apply:os.system [echo]\n", "could not determine a constructor"),
    ("a: &a [x, x, x]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n", "YAML aliases"),
])
def test_a_broken_or_hostile_yaml_file_is_a_config_error_naming_it(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"mine.yaml: .*{message}"):
        load_config(str(path))


@pytest.mark.parametrize("preset", preset_names())
def test_every_shipped_preset_loads_and_builds_its_model_at_its_size(preset):
    from xgan.models import build_model, teachers

    config = load_config(preset)
    assert config.model.name and config.data.image_size >= 8
    for option in ("teacher", "encoder"):  # frozen extractors are named from the built-ins only
        spec = getattr(config.model, option, "")
        assert not spec or spec in teachers.BUILTIN, (option, spec)
    build_model(config, pretrained=False)  # the architecture, without training any teacher


def test_a_config_inherits_its_base_presets_keys_and_overrides_some(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("base: digits\nrun_dir: runs/mine\ntrain:\n  steps: 77\nmodel:\n  weights:\n    gan: 0.5\n")
    config = load_config(str(mine))
    assert config == load_config("digits", ["run_dir=runs/mine", "train.steps=77", "model.weights.gan=0.5"])
    saved = tmp_path / "saved.yaml"
    saved.write_text(to_yaml(config))  # what a run and its checkpoints keep: complete, no base to look up
    assert "base" not in saved.read_text() and load_config(str(saved)) == config


def test_shipped_presets_that_inherit_differ_from_their_base_in_what_they_say():
    digits, svhn = asdict(load_config("digits")), asdict(load_config("svhn2mnist"))
    assert svhn["model"] == digits["model"] and svhn["train"]["lr"] == digits["train"]["lr"]
    assert (svhn["data"]["task"], svhn["train"]["steps"]) == ("svhn2mnist", 5000)
    fixed, finetuned = asdict(load_config("dtn-digits")), asdict(load_config("dtn-finetuned-digits"))
    assert finetuned["model"] == {**fixed["model"], "finetune_encoder": True} and not fixed["model"]["finetune_encoder"]
    assert {**finetuned, "run_dir": "", "model": None} == {**fixed, "run_dir": "", "model": None}


def test_a_circle_of_bases_and_an_unknown_base_are_refused_naming_the_file(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text("base: b\n")
    (tmp_path / "b.yaml").write_text("base: a\n")
    (tmp_path / "c.yaml").write_text("base: no-such-preset\n")
    monkeypatch.setattr(config_module, "PRESET_DIR", tmp_path)
    with pytest.raises(ConfigError, match="b: presets inherit in a circle: a -> b -> a"):
        load_config("a")
    with pytest.raises(ConfigError, match="c: base 'no-such-preset' is not a preset"):
        load_config("c")
    mine = tmp_path / "mine.yaml"
    mine.write_text(f"base: {tmp_path / 'a.yaml'}\n")  # a base names a preset, never a file to read
    with pytest.raises(ConfigError, match="mine.yaml: base .* is not a preset"):
        load_config(str(mine))



def test_a_config_saved_before_the_adaptation_terms_moved_still_loads(tmp_path):
    """Every XGAN run saved before December 2026 names model.task_classes etc.; their runs must stay loadable."""
    old = tmp_path / "config.yaml"
    old.write_text("model:\n  name: xgan\n  task_classes: 7\n  tower_deform: 2.0\n"
                   "  weights:\n    task_tower: 1.0\n    teacher_consistency: 0.0\n")
    config = load_config(str(old))
    assert (config.model.adaptation.task_classes, config.model.adaptation.tower_deform) == (7, 2.0)
    assert config.model.adaptation.task_tower == 1.0
    assert load_config(str(old), ["model.weights.target_pseudo_label=0.5"]).model.adaptation.target_pseudo_label == 0.5
    old.write_text("model:\n  name: xgan\n  weights:\n    teacher_consistency: 1.0\n")
    with pytest.raises(ConfigError, match="teacher_consistency=1.0, but that term was removed"):
        load_config(str(old))
