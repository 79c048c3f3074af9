"""One-shot translation (OST) on single emoji: each of a few held-out OpenMoji test images is, in turn, the whole of
domain A's training set, and its translation is scored against its true Fluent Emoji Flat counterpart.

    python benchmarks/one_shot.py [--images 0 1 2] [--cpu-minutes 5] [--threads 1] [--readme]

For each index N: the ost-emoji preset with data.image_a=test:N, trained for the CPU budget (its steps from
compare.py's calibration), then T(x) = G_B(E_A(x)) of that one image x against its counterpart y among all Fluent
test images: the rank of y by pixel distance from T(x) (1: y is the nearest), and the L1 and SSIM of T(x) to y,
each beside the untranslated x (identity) and, for L1 and SSIM, the mean Fluent test image. The images are the
first of the test split, fixed before any result was seen. No label or category is read, and the counterpart only
here. Writes results/one_shot_emoji.{json,md,png}; --readme puts the table into README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from compare import budget_overrides, cpu_seconds_per_step
from quality import RESULTS
from readme_block import publish

from xgan.checkpoint import load_trained
from xgan.config import load_config
from xgan.data.emoji import codepoints
from xgan.data.task import to_model_range
from xgan.evaluation.ground_truth import counterpart_ranks, ssim
from xgan.samples import labelled_grid
from xgan.trainer import Trainer

PRESET = "ost-emoji"


def scores(output: torch.Tensor, truth: int, gallery: torch.Tensor) -> dict[str, float]:
    """Rank of gallery[truth] from `output` (1, 3, H, W), and L1 (fraction of the range) and SSIM to it."""
    target = gallery[truth:truth + 1]
    rank = counterpart_ranks(output.flatten(1), gallery.flatten(1), torch.tensor([truth]))
    return {"rank": int(rank[0]), "l1": float((output - target).abs().mean() / 2), "ssim": float(ssim(output, target)[0])}


def one_image(index: int, cpu_minutes: float, out: Path) -> tuple[dict, torch.Tensor]:
    """Train OST on test image `index` of A for the budget; its figures, and the row x, T(x), y for the picture."""
    overrides = [f"data.image_a=test:{index}"]
    per_step = cpu_seconds_per_step(PRESET, out / f"calibration_{index}", tuple(overrides))
    steps = max(1, int(cpu_minutes * 60 / per_step))
    run = out / f"image_{index}"
    config = load_config(PRESET, [*overrides, *budget_overrides(steps), f"run_dir={run}"])
    trainer = Trainer(config, restart=True)
    cpu = time.process_time()
    trainer.fit()
    cpu_min = (time.process_time() - cpu) / 60
    model, _, _ = load_trained(run)
    task = trainer.task  # as loaded for training; its test splits and ids are what evaluation reads
    x = to_model_range(task.test_a.images[index:index + 1])
    gallery = to_model_range(task.test_b.images)
    truth = int((task.test_b.ids == task.test_a.ids[index]).nonzero()[0, 0])
    with torch.no_grad():
        translated = model.translate(x, "b")
    mean = gallery.mean(0, keepdim=True)
    row = {"index": index, "codepoint": codepoints()[int(task.test_a.ids[index])], "steps": steps,
           "train_cpu_min": cpu_min, "gallery": len(gallery), "run": str(run),
           "ost": scores(translated, truth, gallery), "identity": scores(x, truth, gallery),
           "mean_target": {k: v for k, v in scores(mean, truth, gallery).items() if k != "rank"}}
    return row, torch.cat([x, translated, gallery[truth:truth + 1]])


def table(rows: list[dict], command: str) -> str:
    lines = [f"`{command}`: OST trained on one OpenMoji test image for the budget each (steps: half pretraining "
             "Fluent's auto-encoder, half on the image's augmented copies), its translation scored against the "
             f"true Fluent counterpart among all {rows[0]['gallery']} Fluent test images (pixel space; no labels "
             "read). Rank 1: the counterpart is the nearest image to the translation. Beside each figure, the "
             "untranslated input's (identity), and for L1 / SSIM the mean Fluent test image's.", "",
             "| test image | codepoint | rank of the counterpart (identity) | L1 to it (identity, mean image) "
             "| SSIM to it (identity, mean image) | steps | CPU-min |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        o, i, m = r["ost"], r["identity"], r["mean_target"]
        lines.append(f"| {r['index']} | {r['codepoint']} | {o['rank']} ({i['rank']}) | {o['l1']:.3f} ({i['l1']:.3f}, "
                     f"{m['l1']:.3f}) | {o['ssim']:.3f} ({i['ssim']:.3f}, {m['ssim']:.3f}) | {r['steps']} "
                     f"| {r['train_cpu_min']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[0, 1, 2], help="indices into the A test split")
    parser.add_argument("--cpu-minutes", type=float, default=5.0, help="training budget per image [5]")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--out", default="/tmp/xgan_one_shot", help="run directories go here")
    parser.add_argument("--readme", action="store_true", help="also write the table into README.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = f" --threads {args.threads}" if args.threads else ""
    command = (f"python benchmarks/one_shot.py --images {' '.join(map(str, args.images))} "
               f"--cpu-minutes {args.cpu_minutes:g}{threads}")
    rows, pictures = [], []
    for index in args.images:
        row, picture = one_image(index, args.cpu_minutes, Path(args.out))
        print(json.dumps(row), flush=True)
        rows.append(row)
        pictures.append(picture)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "one_shot_emoji.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1))
    grid = labelled_grid([torch.cat([p[k:k + 1] for p in pictures]) for k in range(3)],
                         ["input A (OpenMoji)", "OST A->B", "true B (Fluent)"], scale=2)
    grid.save(RESULTS / "one_shot_emoji.png")
    text = table(rows, command) + "\n![each input, its OST translation, its true counterpart]" \
                                  "(benchmarks/results/one_shot_emoji.png)\n"
    (RESULTS / "one_shot_emoji.md").write_text(text)
    publish(text, "one_shot_emoji" if args.readme else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
