"""Every registered model, the moment it is registered: it trains, checkpoints, resumes exactly, loads for inference
without its training parts, translates from the command line, evaluates and exports."""

import numpy as np
import pytest
import torch
from conftest import tiny_overrides
from PIL import Image
from safetensors.torch import load_file

from xgan.checkpoint import load_trained
from xgan.cli import main
from xgan.config import load_config
from xgan.models import MODELS
from xgan.models import build_model

@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_trains_resumes_translates_evaluates_and_exports(name, tmp_path, capsys):
    base = tmp_path / "model.yaml"  # the model's defaults on the digits task, no preset
    base.write_text(f"model:\n  name: {name}\n")
    overrides = [str(base), *tiny_overrides(name)]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", *overrides, "train.steps=4", "--out", str(straight)]) == 0
    assert main(["train", *overrides, "train.steps=2", "--out", str(resumed)]) == 0
    assert main(["train", "--out", str(resumed), "--resume", "train.steps=4"]) == 0
    weights = [load_file(run / "checkpoints" / "step_00000004" / "model.safetensors") for run in (straight, resumed)]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0]), "resume is not exact"

    model, config, _ = load_trained(straight)
    whole = build_model(config, training=True, pretrained=False)
    assert set(model.state_dict()) <= set(whole.state_dict())  # inference builds a part of the trained model
    assert not model.training
    if model.latent_dim:  # a generator from noise (DCGAN): it samples, evaluates, and has no translator to export
        assert main(["sample", str(straight), "-n", "10", "--out", str(tmp_path / "grid.png")]) == 0
        grid = np.asarray(Image.open(tmp_path / "grid.png"))
        columns = model.latent_classes or 8  # a generator with classes draws a column per class
        assert grid.shape == (-(-10 // columns) * config.data.image_size, columns * config.data.image_size, 3)
        assert main(["eval", str(straight), "--count", "8", "--out", str(tmp_path / "eval")]) == 0
        metrics = (tmp_path / "eval" / "metrics.json").read_text()
        assert f"kid_{model.generated_domain}" in metrics
        one_class = ["sample", str(straight), "-n", "3", "--class", "1", "--out", str(tmp_path / "one.png")]
        if model.latent_classes:  # the judge reads the class asked for, or the code up to a permutation
            read = "class_accuracy" if model.reads_labels_a else "code_accuracy"
            assert f"{read}_{model.generated_domain}" in metrics
            assert main(one_class) == 0
            assert Image.open(tmp_path / "one.png").size == (3 * config.data.image_size, config.data.image_size)
        else:
            assert main(one_class) != 0
            assert "generates without classes" in capsys.readouterr().err
        assert main(["export", str(straight), "--format", "torchscript", "--out", str(tmp_path / "x")]) != 0
        assert "cannot be exported" in capsys.readouterr().err
        return
    to = model.directions[0]
    image = tmp_path / "in.png"
    Image.fromarray(np.full((20, 20, 3), 128, np.uint8)).save(image)
    assert main(["translate", str(straight), str(image), "--to", to, "--out", str(tmp_path / "out")]) == 0
    translated = np.asarray(Image.open(tmp_path / "out" / f"in_to_{to}.png"))
    assert translated.shape == (config.data.image_size, config.data.image_size, 3)

    assert main(["eval", str(straight), "--count", "8", "--out", str(tmp_path / "eval")]) == 0
    assert (tmp_path / "eval" / "metrics.json").is_file()
    if not model.exportable:  # translation by optimisation (CoGAN): refused with the reason
        assert main(["export", str(straight), "--to", to, "--format", "torchscript", "--out", str(tmp_path / "x")]) != 0
        assert "cannot be exported" in capsys.readouterr().err
        return
    assert main(["export", str(straight), "--to", to, "--format", "torchscript", "--out", str(tmp_path / "export")]) == 0
    exported = torch.jit.load(str(next((tmp_path / "export").glob(f"*_to_{to}.pt"))))
    x = torch.rand(2, 3, config.data.image_size, config.data.image_size) * 2 - 1
    with torch.no_grad():
        if model.style_dim:  # a multimodal translator takes the style codes as its second input
            style = model.sample_style(2, to, torch.Generator().manual_seed(0))
            assert torch.allclose(exported(x, style), model.translate(x, to, style), atol=1e-5)
        else:
            assert torch.allclose(exported(x), model.translate(x, to), atol=1e-5)


def test_the_template_is_registered_and_its_config_is_all_read():
    """models/template.py is what a new author copies: it must stay a working, registered model."""
    config = load_config(None, ["model.name=template", *tiny_overrides("template")])
    model = MODELS["template"](config.model, config.data.image_size)
    assert [(p.name, p.critic) for p in model.phases()] == [("generators", False), ("critics", True)]
