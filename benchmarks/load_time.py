"""How long `xgan.load(RUN)` takes in a fresh process with an empty cache, and what it imports.

    python benchmarks/load_time.py RUN [--repeats 5]

Each repeat is a new interpreter (imports included, as a user's script pays them) with XGAN_CACHE pointing at an
empty folder, so nothing cached (a trained teacher or judge) can hide work the load should not do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

PROBE = """
import json, sys, time
start = time.perf_counter()
import xgan
model = xgan.load(sys.argv[1])
seconds = time.perf_counter() - start
heavy = [m for m in ("matplotlib", "tensorboard", "xgan.trainer", "xgan.evaluation.evaluate") if m in sys.modules]
print(json.dumps({"seconds": seconds, "imported": heavy}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run directory or checkpoint")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            out = subprocess.run([sys.executable, "-c", PROBE, args.run], capture_output=True, text=True, check=True,
                                 env={"XGAN_CACHE": cache, "PATH": "", "HOME": cache, "OMP_NUM_THREADS": "2"})
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = [r["seconds"] for r in results]
    print(f"xgan.load({args.run}) in a fresh process, empty cache, {args.repeats} repeats: median "
          f"{statistics.median(seconds):.2f} s (min {min(seconds):.2f}, max {max(seconds):.2f}); "
          f"imported of matplotlib/tensorboard/trainer/evaluator: {sorted({m for r in results for m in r['imported']}) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
