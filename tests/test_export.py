import pytest
import torch

from xgan.checkpoint import load_trained
from xgan.cli import main


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_exported_translators_match_pytorch_for_any_batch_size(fmt, tiny_run, tmp_path, capsys):
    assert main(["export", str(tiny_run), "--format", fmt, "--out", str(tmp_path)]) == 0
    model, config, snapshot = load_trained(tiny_run)
    size = config.data.image_size
    for to in ("a", "b"):
        path = tmp_path / f"{snapshot.name}_to_{to}.{'onnx' if fmt == 'onnx' else 'pt'}"
        assert path.exists()
        for batch in (1, 5):
            x = torch.rand(batch, 3, size, size) * 2 - 1
            with torch.no_grad():
                expected = model.translate(x, to=to)
            if fmt == "onnx":
                import onnxruntime

                session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                got = torch.from_numpy(session.run(None, {"images": x.numpy()})[0])
            else:
                got = torch.jit.load(str(path))(x)
            assert got.shape == expected.shape
            assert (got - expected).abs().max() < 1e-4


def test_export_writes_into_the_run_by_default_and_refuses_unknown_formats(tiny_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert main(["export", str(run), "--format", "torchscript", "--to", "b"]) == 0
    assert [p.name for p in (run / "export").iterdir()] == [f"{(run / 'checkpoints' / 'latest').read_text().strip()}_to_b.pt"]
    with pytest.raises(SystemExit):
        main(["export", str(run), "--format", "tflite"])


def test_a_multimodal_translator_exports_with_the_style_as_its_second_input(tmp_path, capsys):
    import onnxruntime
    from conftest import tiny_overrides

    run = tmp_path / "run"
    assert main(["train", "munit-digits", *tiny_overrides("munit"), "model.mlp_dim=16", "train.steps=1",
                 "--out", str(run)]) == 0
    assert main(["export", str(run), "--format", "onnx", "--to", "b", "--out", str(tmp_path / "x")]) == 0
    model, config, snapshot = load_trained(run)
    session = onnxruntime.InferenceSession(str(tmp_path / "x" / f"{snapshot.name}_to_b.onnx"),
                                           providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images", "style"]
    x = torch.rand(3, 3, config.data.image_size, config.data.image_size) * 2 - 1
    styles = model.sample_style(3, "b", torch.Generator().manual_seed(0))
    got = torch.from_numpy(session.run(None, {"images": x.numpy(), "style": styles.numpy()})[0])
    with torch.no_grad():
        assert (got - model.translate(x, "b", styles)).abs().max() < 1e-4
        assert (got - model.translate(x, "b")).abs().max() > 1e-3  # the style given, not the default
