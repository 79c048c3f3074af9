"""How far printed digits alone get on MNIST: a LeNet trained on domain A's labelled printed digits, scored on
MNIST's test split, with the inputs the digits preset's task tower sees (model.tower_deform) and without.

    python benchmarks/source_only.py [--steps 600] [--seeds 0 1] [--readme source_only]

The gap it shows is the domain gap that XGAN's adaptation terms have to close; MNIST's labels are read only
to score.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable

import torch
import torch.nn.functional as F

from readme_block import publish
from xgan.config import load_config
from xgan.data import Task
from xgan.data.registry import load_task
from xgan.data.task import to_model_range
from xgan.models.classifier import LeNet, predict
from xgan.models.deform import deform

INPUTS = {  # what the classifier trains on
    "printed digits as rendered": lambda x: x,
    "random affine warps": lambda x: deform(x, elastic=0.0),
    "affine + elastic, 2 px (tower_deform=2, the preset)": lambda x: deform(x, elastic=2.0),
}


def mnist_accuracy(transform: Callable[[torch.Tensor], torch.Tensor], steps: int, seed: int, task: Task) -> float:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    printed, labels = to_model_range(task.train_a.images), task.train_a.labels.long()
    model = LeNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(steps):
        idx = torch.randint(len(printed), (128,), generator=generator)
        loss = F.cross_entropy(model(transform(printed[idx])), labels[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    model.eval()
    guesses = predict(model, to_model_range(task.test_b.images))
    return float((guesses == task.test_b.labels.long()).float().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600, help="Adam steps of 128 printed digits")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--readme", metavar="BLOCK", help="also write the table into README.md's BLOCK")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = load_task(load_config("digits").data)
    rows = []
    for name, transform in INPUTS.items():
        start = time.process_time()
        scores = [mnist_accuracy(transform, args.steps, seed, task) for seed in args.seeds]
        minutes = (time.process_time() - start) / 60 / len(args.seeds)
        rows.append(f"| {name} | {' / '.join(f'{s:.3f}' for s in scores)} | {sum(scores) / len(scores):.3f} "
                    f"| {minutes:.1f} |")
        print(rows[-1], flush=True)
    seeds = " ".join(str(s) for s in args.seeds)
    text = (f"`python benchmarks/source_only.py --steps {args.steps} --seeds {seeds}`: a LeNet trained on the printed "
            f"train split only ({args.steps} steps of 128), accuracy on MNIST's test split (1,996 digits).\n\n"
            f"| trained on | MNIST accuracy, seed {' / '.join(str(s) for s in args.seeds)} | mean | CPU-min per run |\n"
            f"|---|---|---|---|\n" + "\n".join(rows))
    publish(text, args.readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
