"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, uploads an image to
`xgan serve`'s page and waits for the translation (scripts/install_browser.sh installs the browser)."""

import base64
import io
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from PIL import Image

import xgan
from xgan import serve

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (scripts/install_browser.sh "
                                                          "installs Debian's as root)")
# Headless without a sandbox (CI runs as root) and without background connections, which a closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def running(run) -> Iterator[str]:
    """The demo of the run under uvicorn in a thread, for the with block: its URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve.create_app(xgan.load(run, device="cpu"), {"a": "printed", "b": "mnist"}, index_size=64)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the demo server did not start"
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server_url(tiny_run):
    with running(tiny_run) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(server_url, browser):
    page = browser.new_page()
    page.goto(server_url)
    yield page
    page.close()


def test_uploading_an_image_shows_its_translation_and_neighbours(page, tmp_path):
    path = tmp_path / "digit.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
    page.select_option("#direction", "b")
    page.set_input_files("#file", str(path))
    page.wait_for_selector("#translation[data-ready='1']", timeout=30_000)
    src = page.get_attribute("#translation", "src")
    translated = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert translated.size == (16, 16)
    assert page.locator("#neighbors img").count() == serve.NEIGHBORS
    assert "mnist" in page.inner_text("#translation-caption")


def test_a_non_image_upload_shows_the_servers_message(page, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a picture")
    page.set_input_files("#file", str(path))
    page.wait_for_function("document.getElementById('error').textContent.length > 0", timeout=30_000)
    assert "not an image" in page.inner_text("#error")


def test_clicking_a_sample_translates_it(page):
    page.evaluate("document.getElementById('translation').dataset.ready = ''")
    page.click("#samples img >> nth=9")  # the second sample of domain B
    page.wait_for_selector("#translation[data-ready='1']", timeout=30_000)
    assert page.input_value("#direction") == "a"  # a B sample goes B -> A
    assert page.locator("#neighbors figcaption").first.inner_text().startswith("mnist")


def test_a_reference_image_styles_the_translation_of_a_multimodal_model(munit_run, browser, tmp_path):
    with running(munit_run) as url:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("!document.getElementById('reference-box').hidden", timeout=30_000)
        source, reference = tmp_path / "digit.png", tmp_path / "reference.png"
        for path, seed in ((source, 0), (reference, 3)):
            Image.fromarray(np.random.default_rng(seed).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(path)
        page.select_option("#direction", "b")
        page.set_input_files("#file", str(source))
        page.wait_for_selector("#translation[data-ready='1']", timeout=30_000)
        plain = page.get_attribute("#translation", "src")
        page.evaluate("document.getElementById('translation').dataset.ready = ''")
        page.set_input_files("#reference", str(reference))  # the last upload is translated again in its style
        page.wait_for_selector("#translation[data-ready='1']", timeout=30_000)
        assert "in the reference's style" in page.inner_text("#translation-caption")
        translator = xgan.load(munit_run, device="cpu")
        expected = translator.translate(Image.open(source), to="b", size="model",
                                        style=translator.style_of(Image.open(reference), "b"))
        src = page.get_attribute("#translation", "src")
        assert src != plain
        shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
        assert np.abs(shown.astype(int) - np.asarray(expected).astype(int)).max() <= 1  # the code went as text
        page.close()
