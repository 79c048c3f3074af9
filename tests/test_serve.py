import base64
import io
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

import xgan
from xgan import serve

WAIT = 30  # seconds: a generous bound for anything the tests wait on, on a loaded CI machine


@pytest.fixture(scope="module")
def translator(tiny_run):
    return xgan.load(tiny_run, device="cpu")


@pytest.fixture(scope="module")
def client(translator):
    app = serve.create_app(translator, {"a": "printed", "b": "mnist"}, index_size=64)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def live_server(translator):
    """(host, port) of the app under uvicorn as `xgan serve` runs it, with 1 s header and body deadlines; its
    log records reach the root logger (log_config=None), so caplog sees them."""
    app = serve.create_app(translator, index_size=64, body_timeout=1.0)
    server = uvicorn.Server(serve.server_config(app, "127.0.0.1", 0, header_timeout=1.0, log_config=None,
                                                log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield server.servers[0].sockets[0].getsockname()[:2]
    server.should_exit = True
    thread.join(WAIT)


def read_until_closed(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection; socket.timeout if it keeps it open."""
    connection.settimeout(WAIT)
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


class HeldDecodes:
    """serve.to_rgb (the end of decoding) made to wait until released, counting the decodes that reached it."""

    def __init__(self, monkeypatch) -> None:
        self.entered, self.reached, self.release = 0, threading.Event(), threading.Event()
        real = serve.to_rgb

        def held(image):
            self.entered += 1
            self.reached.set()
            self.release.wait(2 * WAIT)
            return real(image)

        monkeypatch.setattr(serve, "to_rgb", held)


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
        assert result["styles"] == []  # one output: no style codes


def test_a_paired_model_serves_its_one_direction_and_a_generator_is_refused_naming_sample(tmp_path):
    from conftest import tiny_overrides
    from xgan.cli import main

    run = tmp_path / "pix2pix"
    assert main(["train", "pix2pix-edges2digits", *tiny_overrides("pix2pix"), "train.steps=1", "--out", str(run)]) == 0
    with TestClient(serve.create_app(xgan.load(run, device="cpu"))) as c:
        assert c.get("/api/info").json()["directions"] == ["b"]
        assert c.post("/api/translate?to=b", content=digit_png()).status_code == 200
        assert c.post("/api/translate?to=a", content=digit_png()).status_code == 400
    generator = tmp_path / "dcgan"
    assert main(["train", "dcgan-digits", *tiny_overrides("dcgan"), "train.steps=1", "--out", str(generator)]) == 0
    with pytest.raises(ValueError, match="xgan sample"):
        serve.serve(str(generator))
    pictures = xgan.load(generator, device="cpu").generate(3, seed=0)
    assert len(pictures) == 3 and pictures[0].size == (16, 16)
    assert np.array_equal(np.asarray(pictures[0]), np.asarray(xgan.load(generator, device="cpu").generate(3, seed=0)[0]))


@pytest.fixture(scope="module")
def munit_client(munit_run):
    with TestClient(serve.create_app(xgan.load(munit_run, device="cpu"))) as c:
        yield c


def test_a_multimodal_model_shows_a_row_of_random_styles_the_same_for_every_upload(munit_client):
    first, again = (munit_client.post("/api/translate?to=b", content=digit_png()).json() for _ in range(2))
    assert len(first["styles"]) == serve.STYLE_SAMPLES and first["styles"] == again["styles"]
    pictures = [np.asarray(decoded(url)) for url in first["styles"]]
    assert pictures[0].shape == (16, 16, 3) and not np.array_equal(pictures[0], pictures[1])


def test_a_reference_image_gives_its_style_code_and_the_translation_takes_it(munit_client, munit_run):
    info = munit_client.get("/api/info").json()
    assert info["style_dim"] == 8 and info["reference_style"] is True
    answer = munit_client.post("/api/style?domain=b", content=digit_png(seed=3))
    assert answer.status_code == 200
    code = answer.json()["style"]
    translator = xgan.load(munit_run, device="cpu")
    reference = Image.open(io.BytesIO(digit_png(seed=3)))
    assert code == pytest.approx(translator.style_of(reference, "b")[0].tolist(), abs=1e-5)
    styled = munit_client.post(f"/api/translate?to=b&style={','.join(map(str, code))}", content=digit_png()).json()
    plain = munit_client.post("/api/translate?to=b", content=digit_png()).json()
    expected = translator.translate(Image.open(io.BytesIO(digit_png())), to="b", size="model",
                                    style=torch.tensor([code]))
    assert np.array_equal(np.asarray(decoded(styled["translation"])), np.asarray(expected))
    assert styled["translation"] != plain["translation"]  # the default is the prior's mean, not this style


@pytest.mark.parametrize("style, message", [("1,2", "style must be 8 comma-separated finite numbers"),
                                            (",".join(["nan"] * 8), "finite"), ("a,b", "comma-separated")])
def test_a_malformed_style_is_refused_with_its_shape(munit_client, style, message):
    answer = munit_client.post(f"/api/translate?to=b&style={style}", content=digit_png())
    assert answer.status_code == 400 and message in answer.json()["detail"]


def test_a_model_without_style_codes_refuses_a_style_and_a_reference(client):
    assert client.get("/api/info").json()["reference_style"] is False
    assert client.post("/api/translate?to=b&style=0", content=digit_png()).status_code == 400
    answer = client.post("/api/style?domain=b", content=digit_png())
    assert answer.status_code == 400 and "cannot read a style" in answer.json()["detail"]


def test_decodes_run_in_worker_threads_capped_while_info_answers(translator, monkeypatch):
    app = serve.create_app(translator, index_size=64, max_decodes=1)
    decodes = HeldDecodes(monkeypatch)
    with TestClient(app) as c, ThreadPoolExecutor(3) as pool:
        uploads = [pool.submit(c.post, "/api/translate?to=b", content=digit_png(seed)) for seed in (0, 1)]
        try:
            assert decodes.reached.wait(WAIT)
            info = pool.submit(c.get, "/api/info").result(timeout=WAIT)  # the event loop is free
            assert info.status_code == 200
            deadline = time.monotonic() + WAIT
            while app.state.decoders.statistics().tasks_waiting < 1:  # the second upload, for the one slot
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert decodes.entered == 1
        finally:
            decodes.release.set()
        assert [u.result(timeout=WAIT).status_code for u in uploads] == [200, 200]
        assert decodes.entered == 2


def test_uploads_past_the_pixel_budget_get_503_until_it_frees(translator, monkeypatch):
    app = serve.create_app(translator, index_size=64, max_pixels_in_flight=40 * 40 + 100)
    decodes = HeldDecodes(monkeypatch)
    with TestClient(app) as c, ThreadPoolExecutor(2) as pool:
        first = pool.submit(c.post, "/api/translate?to=b", content=digit_png(0, size=40))
        try:
            assert decodes.reached.wait(WAIT)
            second = pool.submit(c.post, "/api/translate?to=b", content=digit_png(1, size=40)).result(timeout=WAIT)
        finally:
            decodes.release.set()
        assert second.status_code == 503 and "server busy" in second.json()["detail"]
        assert second.headers["retry-after"].isdigit()
        assert first.result(timeout=WAIT).status_code == 200
        assert app.state.pixels.used == 0
        assert c.post("/api/translate?to=b", content=digit_png(2, size=40)).status_code == 200
        assert c.post("/api/translate?to=b", content=digit_png()[:60]).status_code == 415  # a failed decode
        assert app.state.pixels.used == 0  # ... gives its pixels back too


REQUEST_LINE_AND_HOST = b"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1\r\n"


@pytest.mark.parametrize("first", [b"", REQUEST_LINE_AND_HOST + b"\r\n"], ids=["new connection", "after an answer"])
def test_a_connection_stalling_in_its_headers_is_closed(live_server, first):
    with socket.create_connection(live_server, timeout=WAIT) as connection:
        if first:
            connection.sendall(first)
            answer = b""
            while not answer.endswith(b"}"):  # the JSON body of /api/info
                answer += connection.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
        connection.sendall(REQUEST_LINE_AND_HOST)  # and never the blank line that ends the headers
        assert read_until_closed(connection) == b""


def test_an_upload_that_stalls_gets_408_and_its_connection_closed(live_server):
    with socket.create_connection(live_server, timeout=WAIT) as connection:
        connection.sendall(b"POST /api/translate?to=b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
                           + digit_png()[:100])
        received = read_until_closed(connection)
    assert received.startswith(b"HTTP/1.1 408") and b"did not arrive within 1 s" in received


def test_a_client_leaving_mid_upload_costs_one_log_line(live_server, caplog):
    caplog.set_level(logging.INFO, logger="xgan.serve")
    with socket.create_connection(live_server, timeout=WAIT) as connection:
        connection.sendall(b"POST /api/translate?to=b HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n"
                           + digit_png()[:100])
    deadline = time.monotonic() + WAIT
    while not [r for r in caplog.records if r.name.startswith(("xgan", "uvicorn"))] and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # room for a traceback that would follow
    records = [r for r in caplog.records if r.name.startswith(("xgan", "uvicorn"))]
    assert [(r.name, r.levelno) for r in records] == [("xgan.serve", logging.INFO)]
    assert "disconnected during its upload" in records[0].getMessage() and not records[0].exc_info
