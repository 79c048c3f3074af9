"""The `xgan` command: train a translator, translate images with it."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np
import torch

from xgan.data.images import ImageReadError, find_images, read_image

EPILOG_TRAIN = """examples:
  xgan train digits                          the offline digits task (printed <-> handwritten)
  xgan train digits train.steps=2000 model.sharing=full
  xgan train my_config.yaml --resume         continue the run in my_config's run_dir from its latest checkpoint
"""


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

    translate = commands.add_parser("translate", help="translate an image or a folder of images",
                                    description="Translate images with a trained checkpoint. Images of domain A "
                                                "go --to b, images of domain B go --to a.")
    translate.add_argument("checkpoint", help="a checkpoint directory or a run directory (its latest checkpoint)")
    translate.add_argument("input", help="an image file or a folder (searched recursively)")
    translate.add_argument("--to", choices=("a", "b"), required=True, help="the domain to translate into")
    translate.add_argument("--out", required=True, help="output folder (PNG files, same relative names)")
    translate.add_argument("--device", default="auto", help="auto | cpu | cuda | mps [auto]")
    translate.add_argument("--batch-size", type=int, default=64)
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_config_of, resolve_checkpoint
    from xgan.config import load_config
    from xgan.trainer import Trainer

    if "=" in args.config:  # `xgan train train.steps=9`: an override, not a config name
        args.overrides, args.config = [args.config, *args.overrides], "digits"
    overrides = list(args.overrides) + ([f"run_dir={args.out}"] if args.out else [])
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
    saved = Trainer(config, resume=resume).fit()
    print(f"done: {config.run_dir} (checkpoint {saved}, samples in {Path(config.run_dir) / 'samples'})")
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    from xgan.checkpoint import load_config_of, load_weights, resolve_checkpoint
    from xgan.data.task import to_model_range, to_uint8
    from xgan.io import atomic_write
    from xgan.trainer import build_model, pick_device
    from PIL import Image

    snapshot = resolve_checkpoint(args.checkpoint)
    config = load_config_of(snapshot)
    device = pick_device(args.device)
    model = build_model(config, device)
    load_weights(model, snapshot)
    model.eval()
    size, source = config.data.image_size, Path(args.input)
    paths = find_images(source)
    root = source if source.is_dir() else source.parent
    out_dir, failed, written = Path(args.out), [], 0
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
        x = to_model_range(torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)).to(device)
        with torch.no_grad():
            y = to_uint8(model.translate(x, to=args.to)).permute(0, 2, 3, 1).cpu().numpy()
        for path, pixels in zip(batch_paths, y):
            target = out_dir / path.relative_to(root).with_name(f"{path.stem}_to_{args.to}.png")
            atomic_write(target, lambda tmp, p=pixels: Image.fromarray(p).save(tmp, format="PNG"), suffix=".png")
            written += 1
    print(f"translated {written} image(s) into {out_dir}" + (f"; {len(failed)} failed" if failed else ""))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from xgan.checkpoint import CheckpointError
    from xgan.config import ConfigError
    from xgan.trainer import NonFiniteLossError

    try:
        return {"train": cmd_train, "translate": cmd_translate}[args.command](args)
    except (ConfigError, CheckpointError, NonFiniteLossError, FileNotFoundError, ValueError) as e:
        print(f"xgan: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, (ConfigError, FileNotFoundError)) else 1


if __name__ == "__main__":
    sys.exit(main())
