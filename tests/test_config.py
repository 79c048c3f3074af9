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
