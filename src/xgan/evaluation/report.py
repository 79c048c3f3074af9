"""`xgan eval`: metrics.json, report.md and its pictures for one checkpoint, written into the run directory."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

from xgan.data import Task
from xgan.data.task import spread_indices
from xgan.evaluation.collapse import SPREAD_THRESHOLD
from xgan.evaluation.evaluate import Evaluation, Evaluator
from xgan.evaluation.inception import is_inception
from xgan.io import atomic_write, atomic_write_text
from xgan.models.base import TranslationModel, other
from xgan.samples import save_image, tile, translation_grid

GRID_COUNT = 8


def semantic_extremes_grid(evaluation: Evaluation, images: dict[str, torch.Tensor], source: str,
                           count: int = GRID_COUNT, scale: int = 3) -> Image.Image:
    """Two blocks of rows (input, translation): the test samples of lowest, then highest, semantic distance."""
    distances = evaluation.semantic_distances[source]
    order = distances.argsort()
    blocks = [order[:count], order.flip(0)[:count]]
    rows = [r for idx in blocks for r in (images[source][idx], evaluation.translations[source][idx])]
    pixels = tile(rows)
    return Image.fromarray(pixels).resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.NEAREST)


def is_ground_truth_baseline(metric: str) -> bool:
    return metric.startswith("gt_") and any(f"_{b}_" in metric for b in ("identity", "mean", "chance"))


NOT_LOSSES = ("stats", "speed", "collapse")  # the Trainer's other scalar groups: diagnostics, not losses


def plotted(tags: list[str]) -> list[str]:
    """The logged scalars the report plots: every phase's losses and the evaluations, without the ground-truth
    baselines (constant lines that would crowd the legend)."""
    return [t for t in tags if t.split("/")[0] not in NOT_LOSSES and not is_ground_truth_baseline(t.split("/")[-1])]


def loss_curves(tensorboard_dir: Path, path: Path) -> bool:
    """Plot every logged loss group (one per phase of the model) and the evaluations against the step; False when
    nothing was logged."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    if not tensorboard_dir.is_dir():
        return False
    events = EventAccumulator(str(tensorboard_dir), size_guidance={"scalars": 0})
    events.Reload()
    tags = plotted(events.Tags()["scalars"])
    if not tags:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({t.split("/")[0] for t in tags})
    figure, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.5), squeeze=False)
    for axis, group in zip(axes[0], groups):
        positive = True
        for tag in (t for t in tags if t.startswith(group + "/")):
            scalars = events.Scalars(tag)
            axis.plot([s.step for s in scalars], [s.value for s in scalars], label=tag.split("/", 1)[1])
            positive = positive and all(s.value > 0 for s in scalars)
        axis.set_title(group)
        axis.set_xlabel("step")
        axis.set_yscale("log" if group != "eval" and positive else "linear")  # some terms are negative
        axis.legend(fontsize=7)
    figure.tight_layout()
    atomic_write(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100), suffix=".png")
    plt.close(figure)
    return True


def write_report(model: TranslationModel, task: Task, evaluator: Evaluator, out_dir: Path, header: dict,
                 tensorboard_dir: Path | None = None, extra_metrics: dict[str, float] | None = None) -> dict:
    """Evaluate, then write metrics.json, report.md and the grids into out_dir; returns what metrics.json holds.
    `extra_metrics` (the GAN bound) join the evaluator's."""
    evaluation = evaluator(model)
    evaluation.metrics.update(extra_metrics or {})
    out_dir.mkdir(parents=True, exist_ok=True)
    pictures = []
    if set(model.directions) == {"a", "b"}:
        fixed = [evaluator.images[d][spread_indices(len(evaluator.images[d]), GRID_COUNT)] for d in "ab"]
        save_image(translation_grid(model, *fixed), out_dir / "translations.png")
        pictures.append(("Test images spread over the split: input, reconstruction, translation, cycle", "translations.png"))
    for source in evaluation.semantic_distances:
        name = f"semantic_extremes_{source}{other(source)}.png"
        save_image(semantic_extremes_grid(evaluation, evaluator.images, source), out_dir / name)
        pictures.append((f"Lowest (top two rows) and highest (bottom two) semantic distance, "
                         f"{source.upper()} -> {other(source).upper()}", name))
    if tensorboard_dir is not None and loss_curves(tensorboard_dir, out_dir / "losses.png"):
        pictures.append(("Logged losses", "losses.png"))
    record = {**header, "metrics": evaluation.metrics, **evaluator.info}
    atomic_write_text(out_dir / "metrics.json", json.dumps(record, indent=2) + "\n")
    atomic_write_text(out_dir / "report.md", report_markdown(record, pictures))
    return record


def report_markdown(record: dict, pictures: list[tuple[str, str]]) -> str:
    metrics = record["metrics"]
    lines = [f"# Evaluation of {record.get('checkpoint', 'a checkpoint')}", ""]
    lines += [f"- {k}: {v}" for k, v in record.items()
              if k not in ("metrics", "feature_space", "classifier", "ground_truth")]
    for domain, name in record["feature_space"].items():
        lines.append(f"- KID/FID feature space for domain {domain.upper()}: `{name}` ({feature_space_note(name)})")
    for domain, name in record["classifier"].items():
        lines.append(f"- classifier judging domain {domain.upper()}: `{name}`")
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items()) if not name.startswith("gt_")]
    if any(name.startswith("collapse_spread") for name in metrics):
        lines += ["", f"collapse_spread_*: the spread of the outputs over the test images divided by that of real "
                      f"images of their domain (0: the outputs ignore their inputs; training's alarm is below "
                      f"{SPREAD_THRESHOLD}); collapse_distinct_*: the share of distinct nearest real target images "
                      f"(xgan/evaluation/collapse.py)."]
    if "ground_truth" in record:
        lines += ground_truth_section(record["ground_truth"], metrics)
    for caption, file in pictures:
        lines += ["", f"**{caption}**", "", f"![{caption}]({file})"]
    return "\n".join(lines) + "\n"


def feature_space_note(name: str) -> str:
    if is_inception(name):
        return ("Inception: the standard TF-FID InceptionV3 pool3 space, 2048-d, images resized bilinearly to "
                "299x299; compare with Inception FID/KID computed at the same image count and resolution")
    return "not Inception: compare only with figures from the same space"


GT_MEASURES = ("top1_pixel", "top5_pixel", "median_rank_pixel", "top1_feature", "top5_feature", "median_rank_feature",
               "l1", "ssim", "feature_distance")


def ground_truth_section(info: dict, metrics: dict[str, float]) -> list[str]:
    """The gt_ metrics as one table per direction: the model beside its two baselines."""
    lines = ["", "## Ground truth: known counterparts", "",
             "Test images of the two domains with the same id are true counterparts. For each translated test "
             "image: the rank of its counterpart among all target test images by nearest neighbour "
             f"(pixel space: {info['pixel_space']}; feature space: the target's KID/FID space named above), "
             "top-1/top-5 the share ranked first/within five, and its per-pixel L1 (in [0, 1] units), SSIM and "
             "feature distance to the counterpart. Baselines: *identity* is the untranslated input; *mean* is "
             "the mean target test image as every output; retrieval has *chance* instead (the counterpart at a "
             "uniform rank: top-k = k/N, median (N+1)/2), since one constant query ranks the gallery arbitrarily. "
             "See xgan/evaluation/ground_truth.py for the formulas."]
    for direction, count in info["pairs"].items():
        source, target = direction[0].upper(), direction[1].upper()
        lines += ["", f"{source} -> {target}: {count} pairs, {info['gallery'][direction[1]]} {target} test images",
                  "", "| measure | model | identity | mean / chance |", "|---|---|---|---|"]
        for measure in GT_MEASURES:
            baseline = "chance" if measure.startswith(("top", "median")) else "mean"
            cells = [metrics.get(f"gt_{measure}{suffix}_{direction}") for suffix in ("", "_identity", f"_{baseline}")]
            lines.append(f"| {measure} | " + " | ".join("-" if c is None else f"{c:.4f}" for c in cells) + " |")
    return lines
