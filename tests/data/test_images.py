import numpy as np
import pytest
from PIL import Image

from xgan.data.images import ImageReadError, find_images, read_image


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
