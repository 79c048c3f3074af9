import pytest

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
    (["model.name=pix2pix"], "unknown model.name"),
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
    from xgan.models import teachers
    from xgan.models import build_model

    config = load_config(preset)
    assert config.model.name and config.data.image_size >= 8
    for option in ("teacher", "encoder"):  # frozen extractors are named from the built-ins only
        spec = getattr(config.model, option, "")
        assert not spec or spec in teachers.BUILTIN, (option, spec)
    build_model(config, pretrained=False)  # the architecture, without training any teacher
