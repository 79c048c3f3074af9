import hashlib
import http.server
import threading
from functools import partial

import pytest

from xgan.data.download import DownloadError, Remote, fetch, manual_steps


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files with HTTP Range support (the standard library's handler has none)."""

    def send_head(self):
        path = self.translate_path(self.path)
        try:
            data = open(path, "rb").read()
        except OSError:
            self.send_error(404)
            return None
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])
        return None

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(RangeHandler, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_port}/"
    httpd.shutdown()


def test_download_verifies_the_checksum_and_resumes_a_partial_file(server, tmp_path):
    served, url = server
    payload = bytes(range(256)) * 4000
    (served / "data.bin").write_bytes(payload)
    remote = Remote(url + "data.bin", "data.bin", hashlib.md5(payload).hexdigest())
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "data.bin.part").write_bytes(payload[:1000])  # an interrupted earlier download
    assert fetch(remote, cache).read_bytes() == payload
    assert not (cache / "data.bin.part").exists()


def test_a_wrong_checksum_never_reaches_the_final_name(server, tmp_path):
    served, url = server
    (served / "data.bin").write_bytes(b"tampered")
    with pytest.raises(DownloadError, match="MD5"):
        fetch(Remote(url + "data.bin", "data.bin", "0" * 32), tmp_path)
    assert not (tmp_path / "data.bin").exists()


def test_unreachable_and_missing_files_are_clear_errors(server, tmp_path):
    _, url = server
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(Remote(url + "nothing.bin", "nothing.bin", None), tmp_path)
    message = manual_steps("CelebA", "the page", ["list_attr_celeba.txt"], tmp_path, "needs a login")
    assert "needs a login" in message and str(tmp_path / "list_attr_celeba.txt") in message
