import base64
import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

import xgan
from xgan import serve
from xgan.cli import main
from xgan.data.folders import scan_folder
from xgan.data.images import ImageReadError, find_images, read_image
from xgan.data.task import to_model_range, to_uint8


def test_grayscale_rgba_palette_and_16_bit_images_become_rgb(tmp_path):
    Image.new("L", (10, 8), 200).save(tmp_path / "gray.png")
    Image.new("RGBA", (10, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")  # fully transparent red
    Image.new("P", (10, 8), 3).save(tmp_path / "palette.gif")
    Image.fromarray(np.full((8, 10), 65535, dtype=np.uint16)).save(tmp_path / "deep.png")
    Image.new("CMYK", (10, 8), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg")
    gray = read_image(tmp_path / "gray.png")
    assert gray.shape == (8, 10, 3) and (gray == 200).all()
    assert (read_image(tmp_path / "clear.png") == 255).all()  # composited on white
    assert read_image(tmp_path / "palette.gif").shape == (8, 10, 3)
    assert (read_image(tmp_path / "deep.png") == 255).all()
    assert read_image(tmp_path / "cmyk.jpg", size=4).shape == (4, 4, 3)


def test_exif_orientation_is_applied(tmp_path):
    image = Image.new("RGB", (10, 4))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert read_image(tmp_path / "rotated.jpg").shape == (10, 4, 3)


def test_corrupt_and_truncated_files_name_the_file(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    good = tmp_path / "good.png"
    Image.new("RGB", (64, 64), "blue").save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    for name in ("junk.png", "cut.png"):
        with pytest.raises(ImageReadError, match=name):
            read_image(tmp_path / name)


def test_find_images_walks_folders_and_refuses_empty_ones(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "sub" / "x.JPG")
    (tmp_path / "notes.txt").write_text("not an image")
    assert find_images(tmp_path) == [tmp_path / "sub" / "x.JPG"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no image files"):
        find_images(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not found"):
        find_images(tmp_path / "missing")


def test_an_image_above_the_pixel_limit_is_refused_from_its_header_without_pillows_warning(tmp_path, monkeypatch):
    import warnings

    from xgan.data import images

    Image.new("1", (300, 200)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 10_000)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40_000)  # Pillow warns from 40k pixels (60k here), refuses from 80k
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageReadError, match="big.png.*300x200 pixels, above the limit"):
            read_image(tmp_path / "big.png")


def test_training_translate_the_api_and_the_server_prepare_an_image_alike(tiny_run, tmp_path):
    """One image, larger than the model's 16 px and partly transparent, through every path: the model's output
    is the same byte for byte, so inference sees what training on an image folder saw."""
    rng = np.random.default_rng(0)
    pixels = np.concatenate([rng.integers(0, 256, (40, 24, 3)), rng.integers(128, 256, (40, 24, 1))], -1).astype(np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(pixels, "RGBA").save(tmp_path / "in" / "x.png")
    translator = xgan.load(tiny_run, device="cpu")

    with torch.no_grad():  # training: the folders task's decoding
        seen_in_training = to_model_range(scan_folder(tmp_path / "in", translator.image_size, workers=0).images)
        trained = to_uint8(translator.model.translate(seen_in_training, to="b"))[0].permute(1, 2, 0).numpy()
    assert main(["translate", str(tiny_run), str(tmp_path / "in"), "--to", "b", "--out", str(tmp_path / "out")]) == 0
    with TestClient(serve.create_app(translator, index_size=16)) as client:
        answer = client.post("/api/translate?to=b", content=(tmp_path / "in" / "x.png").read_bytes())
    served = answer.json()["translation"].removeprefix("data:image/png;base64,")
    outputs = {
        "xgan translate": np.asarray(Image.open(tmp_path / "out" / "x_to_b.png")),
        "xgan serve": np.asarray(Image.open(io.BytesIO(base64.b64decode(served)))),
        "PIL": np.asarray(translator.translate(Image.fromarray(pixels, "RGBA"), to="b", size="model")),
        "NumPy": translator.translate(pixels, to="b", size="model"),
        "tensor": (translator.translate(torch.from_numpy(pixels).permute(2, 0, 1) / 255, to="b", size="model") * 255)
        .round().byte().permute(1, 2, 0).numpy(),
    }
    assert {path: (out == trained).all() for path, out in outputs.items()} == {path: True for path in outputs}


def test_outputs_return_to_the_input_size_through_the_same_resize(tiny_run):
    translator = xgan.load(tiny_run, device="cpu")
    pixels = np.random.default_rng(1).integers(0, 256, (30, 20, 3), dtype=np.uint8)
    at_input = {"PIL": np.asarray(translator.translate(Image.fromarray(pixels), to="b")),
                "NumPy": translator.translate(pixels, to="b"),
                "tensor": (translator.translate(torch.from_numpy(pixels).permute(2, 0, 1) / 255, to="b") * 255).round()
                .byte().permute(1, 2, 0).numpy()}
    assert all(out.shape == (30, 20, 3) for out in at_input.values())
    assert (at_input["PIL"] == at_input["NumPy"]).all() and (at_input["PIL"] == at_input["tensor"]).all()
