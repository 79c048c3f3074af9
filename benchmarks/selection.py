"""Label-free model selection, checked against the truth: score every checkpoint of some runs with each label-free
criterion and with the ground-truth error, and print the Spearman rank correlation of each criterion with it.

    python benchmarks/selection.py RUN_DIR [RUN_DIR ...] [--readme selection]

Each run directory's checkpoints (checkpoints/step_*) are scored on the whole test splits of their task. The
true error is 1 - top-1 retrieval of the true counterpart in pixel space where the test splits are paired (emoji,
emoji-lines), else 1 - class preservation (digits: the target's judge reads the source's label), each the mean of
A->B and B->A, as are the directional criteria (KID, FID, the bound). Every criterion is oriented so that larger predicts worse (the collapse spread is negated), so a useful criterion has
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
from xgan.data.registry import load_task
from xgan.data.task import to_model_range
from xgan.evaluation.collapse import SPREAD_THRESHOLD
from xgan.evaluation.evaluate import Evaluator
from xgan.evaluation.features import domain_classifier_space, inception_space
from xgan.evaluation.gan_bound import gan_bound

# name in the table -> (evaluator, metric, sign): sign -1 turns a larger-is-better measure into larger-is-worse. A
# metric ending in _{dir} is the mean of its _ab and _ba values (the A->B one alone for one-way models).
CRITERIA = {
    "semantic distance": ("domain", "semantic_distance", 1),
    "KID, domain-classifier features": ("domain", "kid_{dir}", 1),
    "FID, domain-classifier features": ("domain", "fid_{dir}", 1),
    "KID, Inception": ("inception", "kid_{dir}", 1),
    "FID, Inception": ("inception", "fid_{dir}", 1),
    "GAN bound (Benaim et al.)": ("bound", "gan_bound_{dir}", 1),
    "collapse: smallest spread ratio (negated)": ("domain", "collapse_spread_min", -1),
    "KID, category judge's features (uses labels)": ("judge", "kid_{dir}", 1),
}


def both_ways(metrics: dict[str, float], name: str) -> float | None:
    """metrics[name], or for a name with {dir} the mean over the directions measured (None: not measured)."""
    if "{dir}" not in name:
        return metrics.get(name)
    values = [metrics[name.format(dir=d)] for d in ("ab", "ba") if name.format(dir=d) in metrics]
    return sum(values) / len(values) if values else None


def true_error(metrics: dict[str, float]) -> tuple[str, float]:
    """1 - top-1 retrieval of the true counterpart in pixels (paired test splits), else 1 - class preservation;
    the mean over the directions the model translates."""
    if "gt_top1_pixel_ab" in metrics:
        return "1 - top-1 retrieval of the true counterpart, mean of A→B and B→A", 1 - both_ways(metrics, "gt_top1_pixel_{dir}")
    return "1 - class preservation, mean of A→B and B→A", 1 - both_ways(metrics, "class_preservation_{dir}")


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


def healthy(point: dict) -> bool:
    """Not collapsed by the alarm's rule: a checkpoint training would have warned about is left to the alarm."""
    return point["scores"]["domain"]["collapse_spread_min"] >= SPREAD_THRESHOLD


def table(points: dict[str, list[dict]]) -> str:
    """A column per task over all its checkpoints, and one over those the collapse alarm passes."""
    columns = []
    for t in sorted(points):
        columns.append((f"ρ on {t}, all ({len(points[t])})", points[t]))
        kept = [p for p in points[t] if healthy(p)]
        if len(kept) < len(points[t]):
            columns.append((f"ρ on {t}, not collapsed ({len(kept)})", kept))
    header = ["criterion (larger predicts worse)", *[name for name, _ in columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for criterion, (kind, metric, sign) in CRITERIA.items():
        cells = []
        for _, column in columns:
            values = [(both_ways(p["scores"].get(kind, {}), metric), p["error"]) for p in column]
            pairs = [(sign * v, e) for v, e in values if v is not None]
            cells.append(f"{spearmanr(*zip(*pairs)).statistic:+.2f}" if len(pairs) > 2 else "–")
        lines.append(f"| {criterion} | " + " | ".join(cells) + " |")
    errors = "; ".join(f"{t}: {points[t][0]['error_name']}" for t in sorted(points))
    return "\n".join(lines) + f"\n\nTrue error ({errors}).\n"


def runs_table(points: dict[str, list[dict]]) -> str:
    """Per run: its last checkpoint's figures against the truth, and the lowest collapse spread of any of its
    checkpoints (the alarm's threshold is SPREAD_THRESHOLD)."""
    lines = [f"| run | task | last step | A→B | B→A | category or class preservation / judge's ceiling, A→B · B→A "
             f"| lowest spread (alarm < {SPREAD_THRESHOLD}) |", "|---|---|---|---|---|---|---|"]
    by_run = defaultdict(list)
    for task_points in points.values():
        for p in task_points:
            by_run[p["run"]].append(p)
    for run, run_points in by_run.items():
        last = max(run_points, key=lambda p: p["checkpoint"])
        m = last["scores"]["judge"]
        if "gt_top1_pixel_ab" in m:
            ab, ba = (f"top-1 {m[f'gt_top1_pixel_{d}']:.3f} (identity {m[f'gt_top1_pixel_identity_{d}']:.3f})"
                      for d in ("ab", "ba"))
        else:
            ab, ba = (f"class {m[f'class_preservation_{d}']:.3f}" for d in ("ab", "ba"))
        kept = " · ".join(f"{m[f'class_preservation_{s}{t}'] / m[f'classifier_ceiling_{t}']:.2f}"
                          for s, t in (("a", "b"), ("b", "a")))
        lowest = min(p["scores"]["domain"]["collapse_spread_min"] for p in run_points)
        lines.append(f"| `{Path(run).parent.name}/{Path(run).name}` | {last['task']} | {int(last['checkpoint'][5:])} | {ab} "
                     f"| {ba} | {kept} | {lowest:.3f} |")
    return "\n".join(lines) + "\n"


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
                        help="every checkpoint's scores, one JSON line each; those already there (same settings) "
                             "are reused")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    scorers: dict[tuple, Scorer] = {}
    points: dict[str, list[dict]] = defaultdict(list)
    settings = {"bound_steps": args.bound_steps, "count": args.count, "inception": args.inception}
    done = {}  # checkpoints scored by an earlier call with the same settings are read back, not scored again
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            point = json.loads(line)
            if point.get("settings") == settings:
                done[point["run"], point["checkpoint"]] = point
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for run in args.runs:
        for snapshot in sorted(checkpoint_root(run).glob("step_*")):
            point = done.get((str(run), snapshot.name))
            if point is None:
                model, config, _ = load_trained(snapshot, device, training=True)  # the bound needs its losses
                key = (config.data.task, config.data.image_size)
                if key not in scorers:
                    scorers[key] = Scorer(config, device, args.bound_steps, args.count, args.inception)
                scores = scorers[key](model)
                point = {"run": str(run), "checkpoint": snapshot.name, "task": config.data.task, "scores": scores,
                         "settings": settings}
                done[str(run), snapshot.name] = point
                with args.out.open("a") as out:
                    out.write(json.dumps(point) + "\n")
            point["error_name"], point["error"] = true_error(point["scores"]["judge"])
            points[point["task"]].append(point)
            print(f"{run} {snapshot.name}: error {point['error']:.4f} semantic "
                  f"{point['scores']['domain'].get('semantic_distance')} bound {point['scores']['bound']}", flush=True)
    text = table(points) + "\nEvery run's last checkpoint:\n\n" + runs_table(points)
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
