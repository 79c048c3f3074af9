import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import xgan
from xgan.api import as_pictures
from xgan.data.registry import load_task
from xgan.data.images import model_input, resize_image
from xgan.data.task import to_model_range, to_uint8


@pytest.fixture(scope="module")
def translator(tiny_run):
    return xgan.load(tiny_run, device="cpu")


def reference(translator, images: np.ndarray, to: str) -> torch.Tensor:
    """What the model itself gives for uint8 (N, H, W, 3) images, as uint8 at the model's size."""
    with torch.no_grad():
        x = model_input([resize_image(Image.fromarray(image), translator.image_size) for image in images])
        return to_uint8(translator.model.translate(x, to=to))


def test_numpy_batch_at_model_size_equals_the_model_output(translator):
    images = np.random.default_rng(0).integers(0, 256, (3, 40, 24, 3), dtype=np.uint8)
    out = translator.translate(images, to="b", size="model")
    assert out.shape == (3, 16, 16, 3) and out.dtype == np.uint8
    expected = reference(translator, images, "b")
    np.testing.assert_array_equal(out, expected.permute(0, 2, 3, 1).numpy())


def test_outputs_keep_the_input_kind_layout_and_size(translator):
    rng = np.random.default_rng(1)
    gray = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    assert translator.translate(gray, to="a").shape == (20, 30, 3)
    rgba = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    assert translator.translate(rgba, to="b", size="model").shape == (16, 16, 3)

    pil = [Image.fromarray(gray), Image.fromarray(rgba, "RGBA").resize((50, 10))]
    out = translator.translate(pil, to="b")
    assert [o.size for o in out] == [(30, 20), (50, 10)] and all(o.mode == "RGB" for o in out)
    assert translator.translate(pil[0], to="b").size == (30, 20)

    tensor = torch.rand(2, 3, 24, 24)
    out = translator.translate(tensor, to="b")
    assert out.shape == (2, 3, 24, 24) and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    assert translator.translate(tensor[0], to="b", size="model").shape == (3, 16, 16)


def test_the_same_image_as_pil_numpy_and_tensor_translates_identically(translator):
    pixels = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    from_numpy = translator.translate(pixels, to="b")
    from_pil = np.asarray(translator.translate(Image.fromarray(pixels), to="b"))
    from_tensor = translator.translate(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255, to="b")
    np.testing.assert_array_equal(from_numpy, from_pil)
    np.testing.assert_array_equal(from_numpy, (from_tensor * 255).round().byte().permute(1, 2, 0).numpy())


def test_embed_returns_the_encoders_embedding(translator):
    images = torch.rand(4, 3, 16, 16)
    z = translator.embed(images, domain="a")
    assert z.shape == (4, translator.config.model.embedding_dim)
    with torch.no_grad():
        expected = translator.model.encode(to_model_range((images * 255).round().byte()), "a")
    torch.testing.assert_close(z, expected)


def test_a_test_image_is_its_own_nearest_neighbour(translator, tiny_run):
    task = load_task(translator.config.data)
    query = task.test_b.images[5].permute(1, 2, 0).numpy()
    found = translator.neighbors(query, domain="b", k=3)
    assert (found[0].domain, found[0].index) == ("b", 5) and found[0].distance < 1e-3  # cdist rounding
    assert [n.distance for n in found] == sorted(n.distance for n in found)
    assert found[0].image.size == (16, 16)


@pytest.mark.parametrize("images, message", [
    (np.zeros((8, 8, 3), dtype=np.float32), "uint8"),
    (np.zeros((2, 8, 8, 2), dtype=np.uint8), "(H, W)"),
    (torch.zeros(8, 8), "(C, H, W)"),
    ("face.png", "PIL images"),
])
def test_bad_inputs_are_refused_with_a_clear_message(translator, images, message):
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        translator.translate(images, to="b")


@pytest.mark.parametrize("values, message", [
    ([-0.3, 0.5, 1.2], "tensor images must be in [0, 1]; got min -0.3, max 1.2"),
    ([0.0, 255.0], "got min 0, max 255"),
    ([0.5, float("nan")], "NaN/inf"),
    ([0.5, float("inf")], "NaN/inf"),
])
def test_float_tensors_outside_the_unit_range_are_refused_not_clamped(translator, values, message):
    images = torch.full((2, 3, 8, 8), 0.5)
    images.view(-1)[:len(values)] = torch.tensor(values)
    with pytest.raises(ValueError, match=re.escape(message)):
        translator.translate(images, to="b")
    with pytest.raises(ValueError, match=re.escape(message)):
        translator.embed(images[0], domain="a")


def test_bad_direction_and_size_are_refused(translator):
    with pytest.raises(ValueError, match="domain"):
        translator.translate(np.zeros((8, 8), np.uint8), to="c")
    with pytest.raises(ValueError, match="size"):
        translator.translate(np.zeros((8, 8), np.uint8), to="b", size="large")


def test_the_readme_example_runs(tiny_run, tmp_path, monkeypatch):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "digits").symlink_to(tiny_run)
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (28, 28, 3), dtype=np.uint8)).save(tmp_path / "digit.png")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md (Python API)", "exec"), {})


def test_style_codes_give_several_translations_of_one_image_and_are_checked(tmp_path, translator):
    from conftest import TINY_RUN
    from xgan.cli import main

    run = tmp_path / "augcgan"
    assert main(["train", "augcgan-digits", *TINY_RUN, "model.width=0.125", "model.residual_blocks=1",
                 "train.steps=1", "--out", str(run)]) == 0
    multimodal = xgan.load(run, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    codes = multimodal.sample_style(2, "b", seed=3)
    assert torch.equal(codes, multimodal.sample_style(2, "b", seed=3))
    first, second = (multimodal.translate(np.stack([image]), "b", style=code[None]) for code in codes)
    assert not np.array_equal(first, second)
    assert np.array_equal(first, multimodal.translate(np.stack([image]), "b", style=codes[:1]))
    with pytest.raises(ValueError, match="one code per image"):
        multimodal.translate(np.stack([image, image]), "b", style=codes[:1])
    with pytest.raises(ValueError, match="no style codes"):
        translator.translate(np.stack([image]), "b", style=codes[:1])


def test_a_reference_image_style_translates_as_the_model_would_with_that_style(tmp_path, translator):
    from conftest import tiny_overrides
    from xgan.cli import main

    run = tmp_path / "munit"
    assert main(["train", "munit-digits", *tiny_overrides("munit"), "model.mlp_dim=16", "train.steps=1",
                 "--out", str(run)]) == 0
    multimodal = xgan.load(run, device="cpu")
    rng = np.random.default_rng(0)
    image, reference = (rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8) for _ in range(2))
    style = multimodal.style_of(reference, "b")
    assert style.shape == (1, 8)
    with torch.no_grad():  # B's style encoder on the reference, as the model reads it
        expected = multimodal.model.style_b(multimodal.model_input(as_pictures(reference)[0])).cpu()
    assert torch.equal(style, expected)
    other_style = multimodal.style_of(rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8), "b")
    assert not np.array_equal(multimodal.translate(image, "b", style=style),
                              multimodal.translate(image, "b", style=other_style))
    with pytest.raises(ValueError, match="cannot read a style"):
        translator.style_of(reference, "b")
