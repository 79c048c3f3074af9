"""Label-free model selection, checked against the truth: score every checkpoint of some runs with each label-free
criterion and with the ground-truth error, and print the Spearman rank correlation of each criterion with it.

    python benchmarks/selection.py RUN_DIR [RUN_DIR ...] [--readme selection]

Each run directory's checkpoints (checkpoints/step_*) are scored on the whole test splits of their task. The
true error is 1 - A->B top-1 retrieval of the true counterpart in pixel space where the test splits are paired
(emoji, emoji-lines), else 1 - A->B class preservation (digits: the MNIST judge reads the source's label). Every
criterion is oriented so that larger predicts worse (the collapse spread is negated), so a useful criterion has
rho near +1. Runs of one task are pooled; a table row per criterion, a column per task.

Label-free criteria: the semantic consistency distance (seed 000), KID and FID against the target's test images in
a domain classifier's features (trained on the two domains' training images, no class label) and, with
--inception (the `inception` extra), in Inception's, the GAN bound of Benaim et al. (evaluation/gan_bound.py) and the collapse
alarm's smallest spread ratio. For reference, KID in the category judge's features, which are trained on labels.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import torch
from readme_block import replace_block
from scipy.stats import spearmanr

from xgan.checkpoint import checkpoint_root, load_trained
from xgan.data import load_task
from xgan.data.task import to_model_range
from xgan.evaluation.evaluate import Evaluator
from xgan.evaluation.features import domain_classifier_space, inception_space
from xgan.evaluation.gan_bound import gan_bound

# name in the table -> (evaluator, metric, sign): sign -1 turns a larger-is-better measure into larger-is-worse
CRITERIA = {
    "semantic distance": ("domain", "semantic_distance", 1),
    "KID A→B, domain-classifier features": ("domain", "kid_ab", 1),
    "FID A→B, domain-classifier features": ("domain", "fid_ab", 1),
    "KID A→B, Inception": ("inception", "kid_ab", 1),
    "FID A→B, Inception": ("inception", "fid_ab", 1),
    "GAN bound A→B (Benaim et al.)": ("bound", "gan_bound_ab", 1),
    "collapse: smallest spread ratio (negated)": ("domain", "collapse_spread_min", -1),
    "KID A→B, category judge's features (uses labels)": ("judge", "kid_ab", 1),
}


def true_error(metrics: dict[str, float]) -> tuple[str, float]:
    if "gt_top1_pixel_ab" in metrics:
        return "1 - top-1 A→B", 1 - metrics["gt_top1_pixel_ab"]
    return "1 - class preservation A→B", 1 - metrics["class_preservation_ab"]


class Scorer:
    """The evaluators of one task, built once for all its checkpoints."""

    def __init__(self, config, device: torch.device, bound_steps: int, count: int | None, inception: bool) -> None:
        self.task = load_task(config.data)
        name = config.data.task
        self.evaluators = {"judge": Evaluator(self.task, name, count, device=device),
                           "domain": Evaluator(self.task, name, count, domain_classifier_space(self.task, name), device)}
        if inception:
            self.evaluators["inception"] = Evaluator(self.task, name, count, inception_space(), device)
        self.bound_steps, self.lr = bound_steps, config.train.lr
        self.train = {"a": self.task.train_a, "b": self.task.train_b}
        self.test = {"a": to_model_range(self.task.test_a.spread(count).images).to(device),
                     "b": to_model_range(self.task.test_b.spread(count).images).to(device)}

    def __call__(self, model) -> dict[str, dict[str, float]]:
        scores = {kind: evaluator(model).metrics for kind, evaluator in self.evaluators.items()}
        spreads = [v for k, v in scores["domain"].items() if k.startswith("collapse_spread")]
        scores["domain"]["collapse_spread_min"] = min(spreads)
        scores["bound"] = gan_bound(model, self.train, self.test, steps=self.bound_steps, lr=self.lr)
        return scores


def table(points: dict[str, list[dict]]) -> str:
    tasks = sorted(points)
    header = ["criterion (larger predicts worse)", *[f"ρ on {t} ({len(points[t])} checkpoints)" for t in tasks]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for criterion, (kind, metric, sign) in CRITERIA.items():
        cells = []
        for t in tasks:
            pairs = [(sign * p["scores"][kind][metric], p["error"]) for p in points[t]
                     if kind in p["scores"] and metric in p["scores"][kind]]
            cells.append(f"{spearmanr(*zip(*pairs)).statistic:+.2f}" if len(pairs) > 2 else "–")
        lines.append(f"| {criterion} | " + " | ".join(cells) + " |")
    errors = "; ".join(f"{t}: {points[t][0]['error_name']}" for t in tasks)
    return "\n".join(lines) + f"\n\nTrue error ({errors}).\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--bound-steps", type=int, default=50, help="updates of the GAN bound's rival [50]")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--count", type=int, help="test images per domain, evenly spread [all]")
    parser.add_argument("--inception", action="store_true", help="also KID/FID in Inception's features (the extra; "
                                                                  "about 1 CPU-min per checkpoint at 238 images)")
    parser.add_argument("--readme", metavar="BLOCK", help="also write the table into README.md's BLOCK")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/selection.jsonl"),
                        help="every checkpoint's scores, one JSON line each")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    scorers: dict[tuple, Scorer] = {}
    points: dict[str, list[dict]] = defaultdict(list)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for run in args.runs:
            for snapshot in sorted(checkpoint_root(run).glob("step_*")):
                model, config, _ = load_trained(snapshot, device)
                key = (config.data.task, config.data.image_size)
                if key not in scorers:
                    scorers[key] = Scorer(config, device, args.bound_steps, args.count, args.inception)
                scores = scorers[key](model)
                error_name, error = true_error(scores["judge"])
                point = {"run": str(run), "checkpoint": snapshot.name, "task": config.data.task,
                         "error_name": error_name, "error": error, "scores": scores}
                points[config.data.task].append(point)
                out.write(json.dumps(point) + "\n")
                out.flush()
                print(f"{run} {snapshot.name}: error {error:.4f} semantic {scores['domain'].get('semantic_distance')} "
                      f"bound {scores['bound']}", flush=True)
    text = table(points)
    runs = " ".join(str(r) for r in args.runs)
    split = f"{args.count} test images per domain" if args.count else "whole test splits"
    text = (f"`python benchmarks/selection.py {runs}{f' --count {args.count}' if args.count else ''}` (GAN bound: "
            f"{args.bound_steps} rival updates), every checkpoint, {split}:\n\n{text}")
    print(text)
    if args.readme:
        replace_block(args.readme, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
