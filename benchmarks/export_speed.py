"""ONNX export check and CPU latency: onnxruntime against PyTorch for the XGAN translator at 64 px.

    python benchmarks/export_speed.py [--checkpoint RUN] [--readme]
        final line: onnx_max_abs_diff <value>

Without --checkpoint it exports a freshly initialised XGAN at 64 px with the seed's layer table (width 1.0):
latency and agreement do not depend on the weights. Latency is the median of --repeats calls on one image after
warm-up, at the machine's default thread count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from readme_block import publish
from untrained import untrained_run

from xgan.checkpoint import load_trained
from xgan.export import export_direction


def median_ms(call, repeats: int) -> float:
    for _ in range(10):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a run or checkpoint directory [a fresh XGAN at 64 px]")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--readme", action="store_true", help="also write the figures into README.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="xgan_export_"))
    run = args.checkpoint or untrained_run("digits", ["data.image_size=64", "model.width=1.0", "model.weights.teacher=0"],
                                           work / "run")
    model, config, snapshot = load_trained(run)
    size = config.data.image_size
    path = export_direction(model, "b", size, "onnx", work / "to_b.onnx")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for batch in (1, 7, 32):
        x = torch.rand(batch, 3, size, size, generator=generator) * 2 - 1
        with torch.no_grad():
            expected = model.translate(x, to="b").numpy()
        worst = max(worst, float(np.abs(session.run(None, {"images": x.numpy()})[0] - expected).max()))

    one = torch.rand(1, 3, size, size, generator=generator) * 2 - 1
    with torch.no_grad():
        torch_ms = median_ms(lambda: model.translate(one, to="b"), args.repeats)
    ort_ms = median_ms(lambda: session.run(None, {"images": one.numpy()}), args.repeats)

    text = (f"`python benchmarks/export_speed.py`: XGAN at {size} px ({'untrained, ' if not args.checkpoint else ''}"
            f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters), A→B translator, "
            f"{torch.get_num_threads()} CPU threads, PyTorch {torch.__version__}, onnxruntime {onnxruntime.__version__}.\n\n"
            "| measure | value |\n|---|---|\n"
            f"| ONNX vs PyTorch, max abs difference (batches 1, 7, 32; outputs in [−1, 1]) | {worst:.2e} |\n"
            f"| one {size} px image, PyTorch eager (median of {args.repeats}) | {torch_ms:.2f} ms |\n"
            f"| one {size} px image, onnxruntime (median of {args.repeats}) | {ort_ms:.2f} ms |\n")
    publish(text, "export" if args.readme else None)
    print(f"onnx_max_abs_diff {worst:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
