"""Load check of `xgan serve`: N translation requests, C at a time, against a server in its own process.

    python benchmarks/serve_load.py [--checkpoint RUN] [--requests 400] [--concurrency 16] [--readme]
        final line: requests_per_s <value>   (exit status 1 if any request failed)
    python benchmarks/serve_load.py --large [--requests 64] [--concurrency 64] [--readme]
        final line: peak_rss_mb <value>   (exit status 1 if any request failed other than a 429/503 refusal)

Without --checkpoint it serves a freshly initialised model of the digits preset (32 px): the server's speed does
not depend on the weights. Each request uploads a different 32 px PNG and asks for A -> B, which also runs the
nearest-neighbour search over the index of test images. --large uploads 4096x4096 JPEGs of about 300 kB instead
(the size a phone sends), all at once, and reports the server's peak memory (VmHWM), how many uploads it refused
as busy, and how long /api/info took while they were in flight. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from readme_block import publish
from untrained import untrained_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(url + "api/info", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("the server did not come up")


def png(seed: int, size: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def large_jpeg(seed: int, size: int = 4096) -> bytes:
    """A smooth `size`-pixel square photo-like JPEG of ~300 kB: small on the wire, 50 MB once decoded."""
    coarse = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(coarse).resize((size, size), Image.BICUBIC).save(buffer, "JPEG", quality=55)
    return buffer.getvalue()


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, from /proc (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} in /proc/{pid}/status")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class InfoProbe(threading.Thread):
    """Times GET /api/info every 0.2 s while the load runs: a stalled event loop shows up here first."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.latencies, self.done = url, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self.done.wait(0.2):
                start = time.perf_counter()
                try:
                    client.get(self.url + "api/info")
                except httpx.HTTPError:
                    pass
                self.latencies.append(1000 * (time.perf_counter() - start))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a run or checkpoint directory [a fresh model of the digits preset]")
    parser.add_argument("--large", action="store_true", help="upload 4096x4096 JPEGs, all at once")
    parser.add_argument("--requests", type=int, help="[400; 64 with --large]")
    parser.add_argument("--concurrency", type=int, help="[16; 64 with --large]")
    parser.add_argument("--readme", action="store_true", help="also write the figures into README.md")
    args = parser.parse_args()
    args.requests = args.requests or (64 if args.large else 400)
    args.concurrency = args.concurrency or (64 if args.large else 16)
    run = args.checkpoint or untrained_run("digits", [], Path(tempfile.mkdtemp(prefix="xgan_load_")) / "run")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "xgan", "serve", str(run), "--port", str(port), "--device", "cpu"],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_until_up(url, server)
        if args.large:
            distinct = [large_jpeg(seed) for seed in range(8)]  # encoding is slow; the server cannot cache them
            bodies = [distinct[i % len(distinct)] for i in range(args.requests)]
        else:
            bodies = [png(i) for i in range(args.requests)]
        with httpx.Client(timeout=600, limits=httpx.Limits(max_connections=args.concurrency)) as client:
            def request(body: bytes) -> tuple[float, int]:
                start = time.perf_counter()
                try:
                    status = client.post(url + "api/translate?to=b", content=body).status_code
                except httpx.HTTPError:
                    status = 0
                return time.perf_counter() - start, status

            request(png(0))  # warm-up
            rss_before = memory_mb(server.pid, "VmRSS")
            probe = InfoProbe(url)
            probe.start()
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(request, bodies))
            elapsed = time.perf_counter() - start
            probe.done.set()
            probe.join()
            peak_rss = memory_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(30)
    latencies = [1000 * t for t, _ in results]
    accepted = [1000 * t for t, status in results if status == 200]
    refused = sum(status in (429, 503) for _, status in results)
    failed = sum(status not in (200, 429, 503) if args.large else status != 200 for _, status in results)
    rate = len(results) / elapsed
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    info_p99, info_max = percentile(probe.latencies, 0.99), max(probe.latencies, default=float("nan"))
    model = "untrained digits-preset model" if not args.checkpoint else run
    if args.large:
        text = (f"`python benchmarks/serve_load.py --large`: {args.requests} uploads of a 4096×4096 JPEG "
                f"(~{statistics.mean(map(len, bodies)) / 1e3:.0f} kB, A→B), {args.concurrency} at a time, against "
                f"`xgan serve` on this machine's CPU ({os.cpu_count()} cores); {model}; `/api/info` timed every "
                "0.2 s meanwhile.\n\n"
                "| server memory before → peak | answered 200 | refused busy (429/503) | failed | p99 latency "
                "(all / answered) | `/api/info` p99 / max |\n|---|---|---|---|---|---|\n"
                f"| {rss_before:.0f} → {peak_rss:.0f} MB | {len(accepted)} | {refused} | {failed} | "
                f"{p99 / 1000:.1f} s / {percentile(accepted, 0.99) / 1000:.1f} s | "
                f"{info_p99:.0f} ms / {info_max:.0f} ms |\n")
        publish(text, "serve_load_large" if args.readme else None)
        print(f"peak_rss_mb {peak_rss:.0f}")
    else:
        text = (f"`python benchmarks/serve_load.py`: {args.requests} requests (a 32 px PNG each, A→B with neighbour "
                f"search), {args.concurrency} at a time, against `xgan serve` on this machine's CPU "
                f"({os.cpu_count()} cores); {model}.\n\n"
                "| requests/s | p50 latency | p99 latency | failed |\n|---|---|---|---|\n"
                f"| {rate:.1f} | {p50:.0f} ms | {p99:.0f} ms | {failed} |\n")
        publish(text, "serve_load" if args.readme else None)
        print(f"requests_per_s {rate:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
