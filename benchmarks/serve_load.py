"""Load check of `xgan serve`: N translation requests, C at a time, against a server in its own process.

    python benchmarks/serve_load.py [--checkpoint RUN] [--requests 400] [--concurrency 16] [--readme]
        final line: requests_per_s <value>   (exit status 1 if any request failed)

Without --checkpoint it serves a freshly initialised model of the digits preset (32 px): the server's speed does
not depend on the weights. Each request uploads a different 32 px PNG and asks for A -> B, which also runs the
nearest-neighbour search over the index of test images.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a run or checkpoint directory [a fresh model of the digits preset]")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--readme", action="store_true", help="also write the figures into README.md")
    args = parser.parse_args()
    run = args.checkpoint or untrained_run("digits", [], Path(tempfile.mkdtemp(prefix="xgan_load_")) / "run")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "xgan", "serve", str(run), "--port", str(port), "--device", "cpu"],
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_until_up(url, server)
        bodies = [png(i) for i in range(args.requests)]
        with httpx.Client(timeout=120, limits=httpx.Limits(max_connections=args.concurrency)) as client:
            def request(body: bytes) -> tuple[float, int]:
                start = time.perf_counter()
                try:
                    status = client.post(url + "api/translate?to=b", content=body).status_code
                except httpx.HTTPError:
                    status = 0
                return time.perf_counter() - start, status

            request(bodies[0])  # warm-up
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                results = list(pool.map(request, bodies))
            elapsed = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(30)
    latencies = sorted(1000 * t for t, _ in results)
    failed = sum(status != 200 for _, status in results)
    rate = len(results) / elapsed
    p50, p99 = statistics.median(latencies), latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    text = (f"`python benchmarks/serve_load.py`: {args.requests} requests (a 32 px PNG each, A→B with neighbour search), "
            f"{args.concurrency} at a time, against `xgan serve` on this machine's CPU ({os.cpu_count()} cores); "
            f"{'untrained digits-preset model' if not args.checkpoint else run}.\n\n"
            "| requests/s | p50 latency | p99 latency | failed |\n|---|---|---|---|\n"
            f"| {rate:.1f} | {p50:.0f} ms | {p99:.0f} ms | {failed} |\n")
    publish(text, "serve_load" if args.readme else None)
    print(f"requests_per_s {rate:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
