import base64
import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import xgan
from xgan import serve


@pytest.fixture(scope="module")
def client(tiny_run):
    app = serve.create_app(xgan.load(tiny_run, device="cpu"), {"a": "printed", "b": "mnist"}, index_size=64)
    with TestClient(app) as c:
        yield c


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def decoded(data_url: str) -> Image.Image:
    assert data_url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def digit_png(seed: int = 0, size: int = 40) -> bytes:
    return png_bytes(Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)))


def test_the_page_and_info_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text and 'id="direction"' in page.text
    info = client.get("/api/info").json()
    assert info["domains"] == {"a": "printed", "b": "mnist"} and info["image_size"] == 16
    assert info["samples"] == {"a": 8, "b": 8}
    sample = client.get("/api/sample/b/3")
    assert sample.headers["content-type"] == "image/png" and Image.open(io.BytesIO(sample.content)).size == (16, 16)
    assert client.get("/api/sample/b/99").status_code == 404


@pytest.mark.parametrize("to", ["a", "b"])
def test_an_upload_comes_back_translated_with_neighbours_from_both_domains(client, to):
    result = client.post(f"/api/translate?to={to}", content=digit_png()).json()
    assert result["to"] == to
    assert decoded(result["translation"]).size == (16, 16) and decoded(result["input"]).size == (16, 16)
    assert len(result["neighbors"]) == serve.NEIGHBORS
    assert {n["domain"] for n in result["neighbors"]} <= {"a", "b"}
    distances = [n["distance"] for n in result["neighbors"]]
    assert distances == sorted(distances)


def test_a_sample_is_its_own_first_neighbour(client):
    sample = client.get("/api/sample/a/2").content
    result = client.post("/api/translate?to=b", content=sample).json()
    assert result["neighbors"][0]["domain"] == "a" and result["neighbors"][0]["distance"] < 1e-3


def bomb_png() -> bytes:
    """A tiny PNG that claims 20000 x 20000 pixels: refused from its header, before any decoding."""
    return png_bytes(Image.new("1", (20000, 20000)))


@pytest.mark.parametrize("body, status, message", [
    (b"this is not an image", 415, "not an image"),
    (b"", 400, "empty upload"),
    (lambda: bomb_png(), 413, "above the limit"),
    (lambda: png_bytes(Image.new("RGB", (8, 8)), "PPM"), 415, "PPM images are not accepted"),
    (lambda: digit_png()[:60], 415, "could not be decoded"),
])
def test_bad_uploads_are_refused_with_a_clear_message(client, body, status, message):
    response = client.post("/api/translate?to=b", content=body() if callable(body) else body)
    assert response.status_code == status and message in response.json()["detail"]


def test_oversized_uploads_are_refused_before_reading_them(client, monkeypatch):
    monkeypatch.setattr(serve, "MAX_UPLOAD_BYTES", 1000)
    response = client.post("/api/translate?to=b", content=digit_png(size=64))
    assert response.status_code == 413 and "bytes" in response.json()["detail"]


def test_unknown_direction_is_refused(client):
    assert client.post("/api/translate?to=c", content=digit_png()).status_code == 400


def test_many_concurrent_requests_all_succeed(client):
    bodies = [digit_png(seed) for seed in range(48)] + [b"junk"] * 8
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda body: client.post("/api/translate?to=b", content=body).status_code, bodies))
    assert codes == [200] * 48 + [415] * 8
    assert client.get("/api/info").status_code == 200


def test_a_model_without_shared_embedding_serves_translations_without_neighbours(tmp_path):
    from conftest import TINY_MODEL, TINY_RUN
    from xgan.cli import main

    run = tmp_path / "cyclegan"
    assert main(["train", "cyclegan-digits", *TINY_MODEL["cyclegan"], *TINY_RUN, "train.steps=1", "--out", str(run)]) == 0
    with TestClient(serve.create_app(xgan.load(run, device="cpu"))) as c:
        assert c.get("/api/info").json()["samples"] == {}
        result = c.post("/api/translate?to=a", content=digit_png()).json()
        assert decoded(result["translation"]).size == (16, 16) and result["neighbors"] == []
