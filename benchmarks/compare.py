"""XGAN against its baselines on one task, each trained for the same CPU-time budget.

    python benchmarks/compare.py --task digits [--cpu-minutes 10] [--readme]
    python benchmarks/compare.py --task emoji  [--cpu-minutes 10] [--readme]     (models with a preset for the task)
    python benchmarks/compare.py --task emoji --seeds 0 1 2 --threads 1     every model with each train.seed: a row
                                                                               per seed and their mean
    python benchmarks/compare.py --task digits --presets dualgan-digits       train one model; the others' rows come
                                                                               from results/compare_digits.json

For each model it times a few training steps, sets train.steps to fill the budget (CPU seconds of this process,
all threads), trains with the model's shipped preset, and scores the final checkpoint on the full test splits
with xgan eval's metrics. Writes benchmarks/results/compare_<task>.json (each preset's rows and run, updated after
each model), compare_<task>.md (the table) and compare_<task>.png (the same test inputs translated by each model
whose run directory still exists), and with --readme puts both into README.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from quality import RESULTS, mean_metrics, score, train_and_score
from readme_block import publish

from xgan.checkpoint import load_trained
from xgan.config import load_config
from xgan.data.registry import PAIRED_TASKS, load_task
from xgan.data.task import to_model_range
from xgan.models import TranslationModel, build_model
from xgan.samples import labelled_grid
from xgan.trainer import Trainer

# labels of the presets named in README's tables; any other `<name>-<task>` preset is compared under its name
LABELS = {"{task}": "XGAN", "folders-{task}": "XGAN, label-free (folders recipe)", "dtn-{task}": "DTN", "dtn-finetuned-{task}": "fine-tuned DTN", "cyclegan-{task}": "CycleGAN",
          "cycada-{task}": "CycleGAN + semantic (CyCADA)",
          "discogan-{task}": "DiscoGAN", "dualgan-{task}": "DualGAN", "distancegan-{task}": "DistanceGAN",
          "augcgan-{task}": "Augmented CycleGAN", "cut-{task}": "CUT", "fastcut-{task}": "FastCUT", "ost-{task}": "OST",
          "unit-{task}": "UNIT", "munit-{task}": "MUNIT", "cogan-{task}": "CoGAN", "drit-{task}": "DRIT++",
          "stargan-{task}": "StarGAN", "starganv2-{task}": "StarGAN v2",
          "pix2pix-{task}": "pix2pix", "bicyclegan-{task}": "BicycleGAN", "pix2pixhd-{task}": "pix2pixHD"}


def compared(task: str) -> list[tuple[str, str]]:
    """(label, preset) of every shipped preset for `task`: `<task>` is XGAN's, `<name>-<task>` another model's, so
    a model is compared as soon as it has a preset (a translator: generators from noise, DCGAN, are not)."""
    from xgan.config import preset_names

    presets = [p for p in preset_names() if (p == task or p.endswith(f"-{task}")) and inference_model(p).directions]
    labels = {pattern.format(task=task): label for pattern, label in LABELS.items()}
    known = [p for p in labels if p in presets]  # README's order first
    return [(labels.get(p, p.removesuffix(f"-{task}")), p) for p in known + sorted(set(presets) - set(known))]


CALIBRATION_WINDOWS = 3


def cpu_seconds_per_step(preset: str, run_dir: Path, overrides: tuple[str, ...] = ()) -> float:
    """Process CPU time of one training step of `preset`, after a warm-up window at the end of its schedule, timed
    over windows of consecutive steps spread over it, each as long as the longest phase interval (at least 2): a
    phase that starts part-way (OST's) or runs every n-th step (DualGAN's generator, DRIT's every third) is timed
    as often as it trains."""
    trainer = Trainer(load_config(preset, [f"run_dir={run_dir}", "train.eval_every=0", "train.best_metric=",
                                           *overrides]))
    span = max(2, *(phase.every for phase in trainer.phases.values()))
    last = max(trainer.config.train.steps - span, 0)
    anchors = [round(i * last / (CALIBRATION_WINDOWS - 1)) for i in range(CALIBRATION_WINDOWS)]

    def run(first: int) -> None:
        for step in range(first, first + span):
            trainer.step = step
            trainer.train_step(trainer.batch(step))

    run(last)  # warm-up, at the last steps, where every phase runs
    start = time.process_time()
    for anchor in anchors:
        run(anchor)
    return (time.process_time() - start) / (span * CALIBRATION_WINDOWS)


def budget_overrides(steps: int) -> list[str]:
    return [f"train.steps={steps}", "train.eval_every=0", "train.best_metric=",
            f"train.sample_every={max(1, steps // 4)}", f"train.checkpoint_every={steps}"]


def side_by_side(runs: list[tuple[str, Path]], task_config, count: int = 10, scale: int = 2) -> Image.Image:
    """Per direction: the test inputs, then one row per model that translates that way."""
    task = load_task(task_config)
    rows, names = [], []
    for source, target, images in (("a", "b", task.test_a), ("b", "a", task.test_b)):
        x = to_model_range(images.spread(count).images)
        rows.append(x)
        names.append(f"input {source.upper()}")
        for label, run in runs:
            model, _, _ = load_trained(run)
            if target in model.directions:
                with torch.no_grad():
                    rows.append(model.translate(x, to=target))
                names.append(f"{label} {source.upper()}->{target.upper()}")
    return labelled_grid(rows, names, scale, label_width=170)


def mean_row(label: str, rows: list[dict]) -> dict:
    """The seeds' mean of every metric and figure (a metric missing from one seed is left out)."""
    metrics = mean_metrics(rows)
    figures = {k: float(np.mean([r[k] for r in rows])) for k in ("images_per_s", "train_cpu_min", "train_wall_min")}
    return {**rows[0], **figures, "metrics": metrics, "label": f"**{label}, mean of {len(rows)} seeds**"}


@functools.cache  # once per preset, not per row or column
def inference_model(preset: str) -> TranslationModel:
    """The preset's model as inference builds it (no weights): what the table asks of it."""
    return build_model(load_config(preset), training=False, pretrained=False)


def reads_labels(preset: str) -> str:
    """'yes' where the preset's model trains on domain A's class labels (directly or through a part trained on
    them), else 'no': the figures an unlabelled user can expect are the 'no' rows'."""
    return "yes" if inference_model(preset).reads_labels_a else "no"


def multimodal(preset: str) -> bool:
    """Whether the preset's model draws many outputs per input (style codes), so its diversity is measured."""
    return inference_model(preset).style_dim > 0


def diversity_cell(row: dict) -> str:
    """A→B diversity in the target's feature space, with the real images' spread in brackets; 0 by construction
    for a model with one output per input."""
    m = row["metrics"]
    if not multimodal(row["preset"]):
        return "0 (one output)"
    if "diversity_feature_ab" not in m:
        return "—"
    return f"{fmt(m['diversity_feature_ab'], 2)} ({fmt(m['diversity_real_feature_ab'], 2)})"


def both_judges(metrics: dict, direction: str) -> str:
    """Class preservation under the task's own judge and, where the target has one, the strong judge."""
    own = fmt(metrics.get(f"class_preservation_{direction}"))
    strong = metrics.get(f"class_preservation_strong_{direction}")
    return own if strong is None else f"{own} / {fmt(strong)}"


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def table(rows: list[dict]) -> str:
    if any(paired_task(r["preset"]) for r in rows):
        return paired_table(rows)
    if any("gt_top1_pixel_ab" in r["metrics"] for r in rows):
        return ground_truth_table(rows)
    lines = ["| model | reads A's labels | class preservation A→B, own / strong judge | B→A, own / strong | KID A→B "
             "| KID B→A | diversity A→B (real) "
             "| train images/s | parameters (trained) | steps | CPU-min | wall min |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["metrics"]
        lines.append(f"| {r['label']} | {reads_labels(r['preset'])} | {both_judges(m, 'ab')} | {both_judges(m, 'ba')} "
                     f"| {fmt(m.get('kid_ab'), 1)} | {fmt(m.get('kid_ba'), 1)} | {diversity_cell(r)} | {r['images_per_s']:.0f} "
                     f"| {r['parameters'] / 1e6:.2f} M | {r['steps']} | {r['train_cpu_min']:.1f} | {r['train_wall_min']:.1f} |")
    return "\n".join(lines) + "\n"


def ground_truth_table(rows: list[dict]) -> str:
    """For tasks whose test images know their true counterparts: retrieval of it (pixels), SSIM to it, each with
    the untranslated input's figure in brackets; category preservation; the smallest collapse spread."""
    lines = ["| model | reads A's labels | top-1 A→B (identity) | top-1 B→A (identity) | SSIM A→B (identity) "
             "| category preservation A→B | B→A | lowest collapse spread | diversity A→B (real) | train images/s "
             "| parameters (trained) | steps | CPU-min | wall min |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def with_identity(m: dict, name: str, direction: str) -> str:
        if f"gt_{name}_{direction}" not in m:
            return "—"
        return f"{fmt(m[f'gt_{name}_{direction}'])} ({fmt(m[f'gt_{name}_identity_{direction}'])})"

    for r in rows:
        m = r["metrics"]
        spreads = [v for k, v in m.items() if k.startswith("collapse_spread")]
        lines.append(f"| {r['label']} | {reads_labels(r['preset'])} | {with_identity(m, 'top1_pixel', 'ab')} "
                     f"| {with_identity(m, 'top1_pixel', 'ba')} "
                     f"| {with_identity(m, 'ssim', 'ab')} | {fmt(m.get('class_preservation_ab'))} "
                     f"| {fmt(m.get('class_preservation_ba'))} | {fmt(min(spreads) if spreads else None)} "
                     f"| {diversity_cell(r)} | {r['images_per_s']:.0f} | {r['parameters'] / 1e6:.2f} M | {r['steps']} | {r['train_cpu_min']:.1f} "
                     f"| {r['train_wall_min']:.1f} |")
    return "\n".join(lines) + "\n"


def paired_task(preset: str) -> bool:
    return load_config(preset).data.task in PAIRED_TASKS


def paired_table(rows: list[dict]) -> str:
    """For paired tasks (data/paired.py): the distance of A→B to each test input's true target (L1, SSIM), its
    retrieval, class preservation, KID and diversity; the untranslated input's figure in brackets."""
    judges = ("class preservation A→B, own / strong judge" if any("class_preservation_strong_ab" in r["metrics"]
                                                                   for r in rows) else "category preservation A→B")
    lines = ["| model | trains on the pairs | L1 A→B (identity) | SSIM A→B (identity) | top-1 A→B (identity) "
             f"| {judges} | KID A→B | diversity A→B (real) | train images/s "
             "| parameters (trained) | steps | CPU-min | wall min |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def with_identity(m: dict, name: str) -> str:
        return f"{fmt(m.get(f'gt_{name}_ab'))} ({fmt(m.get(f'gt_{name}_identity_ab'))})"

    for r in rows:
        m = r["metrics"]
        pairs = "yes" if inference_model(r["preset"]).paired else "no (hidden)"
        lines.append(f"| {r['label']} | {pairs} | {with_identity(m, 'l1')} | {with_identity(m, 'ssim')} "
                     f"| {with_identity(m, 'top1_pixel')} | {both_judges(m, 'ab')} | {fmt(m.get('kid_ab'), 1)} "
                     f"| {diversity_cell(r)} | {r['images_per_s']:.0f} | {r['parameters'] / 1e6:.2f} M | {r['steps']} "
                     f"| {r['train_cpu_min']:.1f} | {r['train_wall_min']:.1f} |")
    return "\n".join(lines) + "\n"


PAIRED_TEXT = ("L1 (per pixel, as a fraction of the range) and SSIM against each test input's true target, top-1 "
               "its retrieval among all test targets in pixel space, with the untranslated input's figure in "
               "brackets. Multimodal models (BicycleGAN) are scored at z = 0. 'no (hidden)': an unpaired model "
               "trained on the same images, its A and B batches drawn "
               "independently, so the pairing never reaches it: what the pairs are worth. ")
GROUND_TRUTH_TEXT = ("Top-1 and SSIM against each test image's true counterpart, in pixel space, with the untranslated "
                     "input's figure in brackets. ")
DIGIT_JUDGES_TEXT = ("Class preservation: the task's own LeNet judge, then the strong judge trained offline on 68,004 "
                     "MNIST or 60,000 printed digits (src/xgan/evaluation/judges.py). ")
CATEGORY_TEXT = "Category preservation reads the emoji categories with a judge per domain (evaluation only). "
DIVERSITY_TEXT = ("Diversity (MUNIT's and DRIT's protocol): the mean distance between consecutive outputs of 100 test "
                  "inputs under 20 random styles each, in the target's evaluation feature space (as KID; no LPIPS "
                  "weights offline), with the real target images' mean pairwise distance in brackets; a model with "
                  "one output per input has 0. ")
LABELS_TEXT = ("Reads A's labels: the model trains on domain A's class labels, directly or through a frozen part "
               "trained on them (XGAN's digits task tower and teacher, DTN's digit f); the other rows use no label, as "
               "a user with two unlabelled folders. ")


def description(rows: list[dict], preset: str) -> str:
    """What the table's columns mean, for this task: only what its rows report."""
    config = load_config(preset)
    strong = any("class_preservation_strong_ab" in r["metrics"] for r in rows)
    space = ("a domain classifier's features (no category labels)" if config.train.eval_features == "domain"
             else "each target judge's LeNet features (not Inception)")
    paired = paired_task(preset)
    parts = [PAIRED_TEXT if paired else GROUND_TRUTH_TEXT if any("gt_top1_pixel_ab" in r["metrics"] for r in rows)
             else "", f"KID in {space}. ", DIGIT_JUDGES_TEXT if strong else CATEGORY_TEXT if any(
                 "class_preservation_ab" in r["metrics"] for r in rows) else "",
             DIVERSITY_TEXT,
             "Train images/s counts the images of both domains. Parameters: the trained ones (not frozen teachers "
             "or DTN's fixed f). ", "" if paired else LABELS_TEXT]
    return "".join(parts).rstrip()


def cached_rows(task: str) -> dict:
    """compare_<task>.json: per preset, the budget it was trained for, its rows and its run directory, so that
    `--presets` trains only some models and the table keeps the others' rows."""
    path = RESULTS / f"compare_{task}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def rescore(task: str, preset: str) -> None:
    """New metrics for a cached row from its run's final checkpoint: a metric added since it was trained (the
    diversity of a multimodal model) without training it again."""
    entry = cached_rows(task).get(preset)
    if entry is None or len(entry["rows"]) != 1 or not (Path(entry["run"]) / "checkpoints").is_dir():
        raise SystemExit(f"{preset}: no single-seed row with its run directory to score again")
    metrics = score(Path(entry["run"]))
    cache = cached_rows(task)  # read again: another compare.py may have added a model while this one scored
    cache[preset]["rows"][0]["metrics"] = metrics
    save_rows(task, cache)


def save_rows(task: str, cache: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    partial = RESULTS / f"compare_{task}.json.partial"  # replaced whole: a kill leaves the old file
    partial.write_text(json.dumps(cache, indent=1))
    os.replace(partial, RESULTS / f"compare_{task}.json")


def header(entries: list[dict]) -> str:
    """The commands that produced the rows (one per distinct budget, seeds and threads)."""
    commands = []
    for entry in entries:
        if entry["command"] not in commands:
            commands.append(entry["command"])
    return "; ".join(f"`{c}`" for c in commands)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--cpu-minutes", type=float, default=10.0, help="training budget per model [10]")
    parser.add_argument("--out", default="/tmp/xgan_compare", help="run directories go here")
    parser.add_argument("--readme", action="store_true", help="also write the table and picture into README.md")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="train.seed of each run [0]")
    parser.add_argument("--presets", nargs="*", help="train only these presets (none: only write the table); the "
                                                     "other models' rows are read from benchmarks/results/"
                                                     "compare_<task>.json if trained for the same CPU budget [all]")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1: no thread spins on a loaded machine, "
                                                    "which would count as CPU time)")
    parser.add_argument("--rescore", action="store_true",
                        help="score the --presets' existing runs again with today's metrics instead of training them "
                             "(their training figures are kept)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    every = compared(args.task)
    unknown = set(args.presets or []) - {preset for _, preset in every}
    if unknown:
        parser.error(f"not a preset of task {args.task}: {sorted(unknown)} (these are: {[p for _, p in every]})")
    seeds = f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds != [0] else ""
    threads = f" --threads {args.threads}" if args.threads else ""
    command = f"python benchmarks/compare.py --task {args.task} --cpu-minutes {args.cpu_minutes:g}{seeds}{threads}"
    for label, preset in every:
        if args.presets is not None and preset not in args.presets:
            continue
        slug = preset.replace("-", "_")
        if args.rescore:
            rescore(args.task, preset)
            continue
        per_step = cpu_seconds_per_step(preset, out / f"{slug}_calibration")
        steps = max(1, int(args.cpu_minutes * 60 / per_step))
        seeded = []
        for seed in args.seeds:
            run = out / (slug if seed == args.seeds[0] else f"{slug}_seed{seed}")
            result = train_and_score(preset, [*budget_overrides(steps), f"train.seed={seed}"], run)
            model, config, _ = load_trained(run)
            trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
            result.update(label=label if len(args.seeds) == 1 else f"{label}, seed {seed}", preset=preset,
                          parameters=trained,
                          images_per_s=2 * config.train.batch_size * steps / (60 * result["train_wall_min"]))
            seeded.append(result)
            print(json.dumps(result), flush=True)
        cache = cached_rows(args.task)  # read again: another compare.py may have added a model meanwhile
        cache[preset] = {"cpu_minutes": args.cpu_minutes, "command": command, "run": str(out / slug),
                         "rows": seeded if len(seeded) == 1 else [*seeded, mean_row(label, seeded)]}
        save_rows(args.task, cache)

    entries, cache = [], cached_rows(args.task)
    for label, preset in every:
        entry = cache.get(preset)
        if entry is None or entry["cpu_minutes"] != args.cpu_minutes:
            print(f"{preset}: no row for {args.cpu_minutes:g} CPU-minutes (train it with --presets {preset})")
            continue
        entries.append({**entry, "label": label})
    for entry in entries:
        if len(entry["rows"]) == 1:  # one seed: the row is named as the model is now
            entry["rows"][0]["label"] = entry["label"]
    rows = [row for entry in entries for row in entry["rows"]]
    runs = [(entry["label"], Path(entry["run"])) for entry in entries if (Path(entry["run"]) / "checkpoints").is_dir()]
    missing = [entry["label"] for entry in entries if (entry["label"], Path(entry["run"])) not in runs]
    picture = RESULTS / f"compare_{args.task}.png"
    side_by_side(runs, load_config(every[0][1]).data).save(picture)
    shown = f" (not shown, their runs are gone: {', '.join(missing)})" if missing else ""
    text = (f"{header(entries)}: each "
            f"model trained with its shipped preset for {args.cpu_minutes:g} CPU-minutes (no GPU), "
            "scored on the full test splits. " + description(rows, every[0][1]) + "\n\n" + table(rows)
            + f"\n![the same test inputs translated by each model{shown}]"
            f"(benchmarks/results/{picture.name})\n")
    (RESULTS / f"compare_{args.task}.md").write_text(text)
    publish(text, f"compare_{args.task}" if args.readme else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
