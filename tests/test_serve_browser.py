"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, uploads an image to
`xgan serve`'s page and waits for the translation (scripts/install_browser.sh installs the browser)."""

import base64
import io
import shutil
import socket
import threading
import time

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


@pytest.fixture(scope="module")
def server_url(tiny_run):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = serve.create_app(xgan.load(tiny_run, device="cpu"), {"a": "printed", "b": "mnist"}, index_size=64)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "the demo server did not start"
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server_url):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server_url)
        yield page
        browser.close()


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
