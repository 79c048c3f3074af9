"""Train a model with its shipped preset, score the final checkpoint on the full test splits, print the figures.

    python benchmarks/quality.py --task digits --model xgan          final line: class_preservation <A->B value>
        (under the strong judge, evaluation/judges.py, where the target domain has one; the task's own LeNet judge's
        figure on the line before it)
    python benchmarks/quality.py --task emoji --model xgan           final line: top1_ab <value> identity <value>
        (tasks with known test counterparts: A->B retrieval of the true counterpart in pixel space, and the
        untranslated input's)
    python benchmarks/quality.py --task emoji --model xgan [KEY=VALUE ...] --seeds 0 1 2
        one run per train.seed (overrides go before --seeds, which takes every number after it), a column of figures each and their mean; the final line gives the mean
        (class_preservation_mean <value> on digits). A run whose directory holds this command's finished result
        (quality.json) is read back, not trained again, so seeds may be trained by separate calls in parallel.
    python benchmarks/quality.py --task digits --preset folders data.image_size=32
        another preset on this task (here the label-free folders recipe on digits: data.task is set to --task)
    python benchmarks/quality.py --task digits --model xgan --seeds 0 1 2 --variants preset \\
        model.weights.gan=0.3 train.ema=0.99      each variant once per seed, and a table of them (the seeds' runs
        may be trained by separate calls first: a finished run is read back)
    python benchmarks/quality.py --task digits --model dcgan        a generator from noise (DCGAN): final line kid_b
        <value> (generated images against the domain's test split), the judge's class entropy before it, and a grid
        of 64 in benchmarks/results/generated_<task>_<model>.png; for a generator with classes (acgan, infogan)
        also the judges' reading of the class asked for (class_accuracy) or of the code (code_accuracy)
    python benchmarks/quality.py --task digits --model xgan --ablation --steps 600
        also trains each loss ablation (rec only, +DANN, +semantic, +GAN, +teacher, +task tower, +pseudo-labels)
        for the same steps and writes the table to benchmarks/results/ablation_<task>_<model>.md

Extra KEY=VALUE arguments override the preset. Times are wall-clock and process CPU (all threads) on this
machine, including the one-off training of the judging classifiers and any teacher when not yet cached.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from readme_block import publish, replace_block

from xgan.checkpoint import load_trained
from xgan.config import load_config
from xgan.data.registry import load_task
from xgan.models.classifier import predict
from xgan.evaluation.evaluate import Evaluator
from xgan.io import atomic_write_text
from xgan.samples import generated_grid, save_image
from xgan.trainer import Trainer

RESULTS = Path(__file__).parent / "results"
# Cumulative loss ablation: each row adds its terms to the row above (the later rows' weights are set to 0); the
# last row is the shipped preset itself.
ADDED_TERMS = [
    ("rec only", []),
    ("+ DANN", ["weights.dann"]),
    ("+ semantic", ["weights.semantic"]),
    ("+ GAN", ["weights.gan"]),
    ("+ teacher", ["weights.teacher"]),
    # the information-maximisation terms go with the tower, which they need (the config refuses them without it)
    ("+ task tower", ["adaptation.task_tower", "adaptation.target_entropy", "adaptation.target_diversity"]),
    ("+ pseudo-labels (preset)", ["adaptation.target_pseudo_label"]),
]
ABLATION = [(name, [f"model.{term}=0" for _, later in ADDED_TERMS[i + 1:] for term in later])
            for i, (name, _) in enumerate(ADDED_TERMS)]


def preset_for(task: str, model: str) -> str:
    return task if model == "xgan" else f"{model}-{task}"


def train_and_score(preset: str, overrides: list[str], run_dir: Path) -> dict:
    """Train `preset` with `overrides` into run_dir (a run already there is moved aside) and score its final
    checkpoint on the full test splits."""
    config = load_config(preset, [*overrides, f"run_dir={run_dir}"])
    wall, cpu = time.perf_counter(), time.process_time()
    trainer = Trainer(config, restart=True)
    trainer.fit()
    train_wall, train_cpu = time.perf_counter() - wall, time.process_time() - cpu
    metrics = score(run_dir, trainer.task, trainer.device)
    return {"metrics": metrics, "steps": config.train.steps, "train_wall_min": train_wall / 60,
            "train_cpu_min": train_cpu / 60, "total_wall_min": (time.perf_counter() - wall) / 60,
            "total_cpu_min": (time.process_time() - cpu) / 60, "threads": torch.get_num_threads()}


def score(run_dir: Path, task=None, device: torch.device | str = "cpu") -> dict[str, float]:
    """The metrics of run_dir's final checkpoint on the full test splits of its task (loaded if not given)."""
    model, config, _ = load_trained(run_dir, device)
    evaluator = Evaluator(task if task is not None else load_task(config.data), config.data.task, count=None,
                          device=device)
    evaluation = evaluator(model)
    polarity = by_background(evaluator, evaluation) if config.data.task == "digits" else {}  # printed digits only
    return evaluation.metrics | polarity


def by_background(evaluator: Evaluator, evaluation) -> dict[str, float]:
    """A->B class preservation split by whether the source's border is lighter than its centre (a dark digit on a
    light background) or not: the printed domain has both, MNIST only light digits on black."""
    if "b" not in evaluator.judges or "a" not in evaluation.translations:
        return {}
    gray = evaluator.images["a"].mean(1)
    border = torch.cat([gray[:, 0], gray[:, -1], gray[:, :, 0], gray[:, :, -1]], dim=1).mean(1)
    quarter = gray.shape[-1] // 4
    centre = gray[:, quarter:-quarter, quarter:-quarter].mean((1, 2))
    light_background = (border > centre).cpu()
    judges = {"class_preservation": evaluator.judges["b"]} | (
        {"class_preservation_strong": evaluator.strong_judges["b"]} if "b" in evaluator.strong_judges else {})
    figures = {}
    for metric, judge in judges.items():
        correct = predict(judge, evaluation.translations["a"]).cpu() == evaluator.labels["a"]
        figures |= {f"{metric}_ab_{name}_background": float(correct[mask].float().mean())
                    for name, mask in (("dark", ~light_background), ("light", light_background)) if mask.any()}
    return figures


def scored_run(preset: str, overrides: list[str], run_dir: Path) -> dict:
    """train_and_score, or the result it saved in run_dir/quality.json for the same preset and overrides."""
    record = run_dir / "quality.json"
    if record.exists():
        saved = json.loads(record.read_text())
        if saved["preset"] == preset and saved["overrides"] == overrides:
            print(f"{run_dir}: finished result read back from {record.name}", flush=True)
            return saved["result"]
    result = train_and_score(preset, overrides, run_dir)
    atomic_write_text(record, json.dumps({"preset": preset, "overrides": overrides, "result": result}))
    return result


def mean_metrics(results: list[dict]) -> dict[str, float]:
    """Each metric averaged over the runs; a metric missing from one run is left out."""
    return {name: sum(r["metrics"][name] for r in results) / len(results)
            for name in results[0]["metrics"] if all(name in r["metrics"] for r in results)}


def mean_result(results: list[dict]) -> dict:
    """Every figure averaged over the runs (a metric missing from one run is left out)."""
    return {key: sum(r[key] for r in results) / len(results) for key in results[0] if key != "metrics"} | {
        "metrics": mean_metrics(results)}


def seeds_summary(preset: str, command: str, seeds: list[int], results: list[dict]) -> str:
    mean = mean_result(results)
    lines = [f"`{command}`: preset `{preset}`, {results[0]['steps']} steps, {results[0]['threads']} threads, one run "
             f"per seed; per seed: training " + ", ".join(f"{r['train_wall_min']:.1f}" for r in results) +
             " min wall, whole benchmark " + ", ".join(f"{r['total_cpu_min']:.1f}" for r in results) +
             " CPU-min (process time, all threads), judges and teacher included.", "",
             "| metric | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |",
             "|---|" + "---|" * (len(seeds) + 1)]
    lines += [f"| {name} | " + " | ".join(f"{r['metrics'].get(name, float('nan')):.4f}" for r in results) +
              f" | **{value:.4f}** |" for name, value in sorted(mean["metrics"].items())]
    return "\n".join(lines) + "\n"


def seed_run(out: Path, task: str, model: str, seed: int) -> Path:
    """Where --seeds keeps the run of one seed (read back by later calls)."""
    return out / f"{task}_{model}_preset_seed{seed}"


def variant_slug(variant: str) -> str:
    """A run directory's name for a variant: 'preset' or its overrides ('model.ema=0.99,train.x=1' ->
    'model.ema-0.99+train.x-1')."""
    return variant.replace("=", "-").replace(",", "+")


def variants_table(command: str, seeds: list[int], rows: list[tuple[str, list[dict]]]) -> str:
    """Per variant: A->B class preservation (strong judge where the target has one) per seed, its mean and
    minimum, and the means of B->A, the own judge's A->B and KID A->B."""
    key = "class_preservation_strong" if "class_preservation_strong_ab" in rows[0][1][0]["metrics"] else \
        "class_preservation"
    lines = [f"`{command}`: every variant trained once per seed, {rows[0][1][0]['steps']} steps, scored on the full "
             f"test splits; A→B and B→A class preservation under the {'strong' if 'strong' in key else 'task'} "
             "judge, 'own' the task's LeNet judge.", "",
             "| variant | " + " | ".join(f"A→B seed {s}" for s in seeds) + " | A→B mean | A→B min | B→A mean "
             "| A→B own judge, mean | KID A→B, mean |", "|---|" + "---|" * (len(seeds) + 5)]
    for variant, results in rows:
        ab = [r["metrics"][f"{key}_ab"] for r in results]
        mean = mean_metrics(results)
        lines.append(f"| {variant} | " + " | ".join(f"{v:.3f}" for v in ab) + f" | **{sum(ab) / len(ab):.3f}** "
                     f"| {min(ab):.3f} | {mean.get(f'{key}_ba', float('nan')):.3f} "
                     f"| {mean.get('class_preservation_ab', float('nan')):.3f} "
                     f"| {mean.get('kid_ab', float('nan')):.1f} |")
    return "\n".join(lines) + "\n"


def ablation_table(rows: list[tuple[str, dict]]) -> str:
    columns = ["class_preservation_ab", "class_preservation_ba", "kid_ab", "kid_ba", "semantic_distance"]
    lines = ["| losses | class preservation A→B | B→A | KID A→B | KID B→A | semantic distance |", "|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | " + " | ".join(f"{r['metrics'].get(c, float('nan')):.3f}" for c in columns) + " |")
    return "\n".join(lines) + "\n"


def summary(preset: str, command: str, result: dict) -> str:
    m = result["metrics"]
    lines = [f"`{command}`: preset `{preset}`, {result['steps']} steps, {result['threads']} threads; training "
             f"{result['train_wall_min']:.1f} min wall, whole benchmark {result['total_wall_min']:.1f} min wall / "
             f"{result['total_cpu_min']:.1f} CPU-min (process time, all threads), judges and teacher included.", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {value:.4f} |" for name, value in sorted(m.items())]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="digits")
    parser.add_argument("--model", default="xgan")
    parser.add_argument("--preset", help="train this preset on --task instead of the task's own for --model")
    parser.add_argument("--steps", type=int, help="override the preset's train.steps")
    parser.add_argument("--ablation", action="store_true", help="also train each loss ablation")
    parser.add_argument("--seeds", type=int, nargs="+", help="one run per train.seed; per-seed figures and the mean")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--variants", nargs="+", metavar="KEY=VALUE[,KEY=VALUE]",
                        help="with --seeds: each variant (overrides joined by commas; 'preset' for none) trained per "
                             "seed into OUT/<variant>/, and a table of all (runs already there are read back)")
    parser.add_argument("--out", default="/tmp/xgan_quality", help="run directories go here")
    parser.add_argument("--readme", metavar="BLOCK", help="also write the figures into README.md's BLOCK")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    preset = args.preset or preset_for(args.task, args.model)
    overrides = [*([f"data.task={args.task}"] if args.preset else []), *args.overrides,
                 *([f"train.steps={args.steps}"] if args.steps else [])]
    if args.seeds and args.ablation:
        parser.error("--seeds and --ablation: one at a time")
    if args.variants and not args.seeds:
        parser.error("--variants needs --seeds")
    out = Path(args.out)
    if args.variants:
        rows = []
        for variant in args.variants:
            extra = [] if variant == "preset" else variant.split(",")
            rows.append((variant, [scored_run(preset, [*overrides, *extra, f"train.seed={seed}"],
                                              seed_run(out / variant_slug(variant), args.task, args.model, seed))
                                   for seed in args.seeds]))
        command = (f"python benchmarks/quality.py --task {args.task} --model {args.model}"
                   f"{' --threads ' + str(args.threads) if args.threads else ''} --seeds "
                   f"{' '.join(map(str, args.seeds))} --variants {' '.join(args.variants)}")
        publish(variants_table(command, args.seeds, rows), args.readme)
        return 0
    results = []
    if args.seeds:
        for seed in args.seeds:
            result = scored_run(preset, [*overrides, f"train.seed={seed}"], seed_run(out, args.task, args.model, seed))
            results.append((f"seed {seed}", result))
            print(json.dumps({"run": f"seed {seed}", **result}), flush=True)
    else:
        for name, ablated in ABLATION if args.ablation else ABLATION[-1:]:
            slug = name.strip("+ ").split(" ")[0].replace("(", "") if args.ablation else "preset"
            result = train_and_score(preset, [*overrides, *ablated], out / f"{args.task}_{args.model}_{slug}")
            results.append((name, result))
            print(json.dumps({"run": name, **result}), flush=True)
    final = mean_result([r for _, r in results]) if args.seeds else results[-1][1]
    # the overrides before --seeds, whose list would otherwise swallow them
    command = (f"python benchmarks/quality.py --task {args.task} "
               f"{'--preset ' + args.preset if args.preset else '--model ' + args.model}"
               f"{''.join(' ' + o for o in args.overrides)}"
               f"{' --ablation' if args.ablation else ''}{' --steps ' + str(args.steps) if args.steps else ''}"
               f"{' --threads ' + str(args.threads) if args.threads else ''}"
               f"{' --seeds ' + ' '.join(map(str, args.seeds)) if args.seeds else ''}")
    if args.seeds:
        text = seeds_summary(preset, command, args.seeds, [r for _, r in results])
    elif args.ablation:
        text = (f"Loss ablation of `{preset}` at {final['steps']} steps each (`{command}`), full test splits; each row "
                f"adds one loss to the row above.\n\n{ablation_table(results)}")
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"ablation_{args.task}_{args.model}.md"
        path.write_text(text)
        print(f"table: {path}")
    else:
        text = summary(preset, command, final)
    if args.readme:
        replace_block(args.readme, text)
    print(f"train_minutes_wall {final['train_wall_min']:.1f}  cpu_minutes {final['total_cpu_min']:.1f}  "
          f"total_minutes_wall {final['total_wall_min']:.1f}")
    metrics = final["metrics"]
    generated = sorted(k for k in metrics if k in ("kid_a", "kid_b"))  # a generator from noise (DCGAN)
    domain = generated[0][-1] if generated else ""
    if generated and not args.ablation:
        run = (seed_run(out, args.task, args.model, args.seeds[0]) if args.seeds
               else out / f"{args.task}_{args.model}_preset")
        grid = RESULTS / f"generated_{args.task}_{args.model}.png"
        save_image(generated_grid(load_trained(run)[0], 64), grid)
        print(f"grid {grid}")
    if generated:
        for name in sorted(k for k in metrics if k.startswith(("class_accuracy", "code_accuracy"))):  # AC-GAN, InfoGAN
            print(f"{name} {metrics[name]:.4f}")
        entropy = metrics.get(f"class_entropy_{domain}", float("nan"))
        print(f"class_entropy_{domain} {entropy:.4f}\nkid_{domain} {metrics[f'kid_{domain}']:.4f}")
    elif "gt_top1_pixel_ab" in metrics:
        print(f"top1_ab {metrics['gt_top1_pixel_ab']:.4f} identity {metrics['gt_top1_pixel_identity_ab']:.4f}")
    else:  # A->B under the strong judge where the target has one (evaluation/judges.py), and under the task's own
        name = "class_preservation_mean" if args.seeds else "class_preservation"
        key = "class_preservation_strong_ab" if "class_preservation_strong_ab" in metrics else "class_preservation_ab"
        if args.seeds:
            print(f"class_preservation_min_seed {min(r['metrics'][key] for _, r in results):.4f}")
        if key != "class_preservation_ab":
            print(f"{name}_own_judge {metrics.get('class_preservation_ab', float('nan')):.4f}")
        print(f"{name} {metrics.get(key, float('nan')):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
