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

from readme_block import publish

PROBE = """
import json, sys, time
start = time.perf_counter()
import xgan
model = xgan.load(sys.argv[1])
seconds = time.perf_counter() - start
heavy = [m for m in ("matplotlib", "tensorboard", "xgan.trainer", "xgan.evaluation.evaluate") if m in sys.modules]
print(json.dumps({"seconds": seconds, "imported": heavy}))
"""


TORCH_IMPORT = "import time; t = time.perf_counter(); import torch; print(time.perf_counter() - t)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run directory or checkpoint")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--readme", metavar="BLOCK", help="also write the figures into README.md's BLOCK")
    args = parser.parse_args()
    results = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            out = subprocess.run([sys.executable, "-c", PROBE, args.run], capture_output=True, text=True, check=True,
                                 env={"XGAN_CACHE": cache, "PATH": "", "HOME": cache, "OMP_NUM_THREADS": "2"})
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = [r["seconds"] for r in results]
    torch_import = [float(subprocess.run([sys.executable, "-c", TORCH_IMPORT], capture_output=True, text=True,
                                         check=True).stdout) for _ in range(args.repeats)]
    heavy = sorted({m for r in results for m in r["imported"]})
    publish(f"`python benchmarks/load_time.py RUN --repeats {args.repeats}` (RUN: a digits-preset run): `xgan.load` in a "
            f"fresh process with an empty cache took a median {statistics.median(seconds):.2f} s (min "
            f"{min(seconds):.2f}, max {max(seconds):.2f}), of which `import torch` alone is a median "
            f"{statistics.median(torch_import):.2f} s; it imported {', '.join(heavy) or 'none'} of matplotlib, "
            f"tensorboard, the Trainer and the evaluator.", args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
