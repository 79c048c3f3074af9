"""One typed config per run: dataclasses filled from a YAML preset plus dotted overrides (`train.steps=2000`).

The `model` section's schema is the config class of the model named by `model.name`, so each model keeps its
own options in its own file and an unknown key is an error, not a silently ignored typo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Optional

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from xgan.metric_names import higher_is_better
from xgan.models import MODELS


class ConfigError(ValueError):
    pass


@dataclass
class DataConfig:
    task: str = "digits"
    image_size: int = 32
    printed_train: int = 20000  # rendered printed digits (domain A) for training
    printed_test: int = 2000
    seed: int = 0  # seeds the rendered domain; MNIST's split is fixed
    # task 'folders': data.path holds trainA/ trainB/ testA/ testB/, or two folders path_a and path_b (split here)
    path: str = ""
    path_a: str = ""
    path_b: str = ""
    test_fraction: float = 0.1  # of path_a / path_b held out as the test split
    background: list[int] = field(default_factory=lambda: [255, 255, 255])  # transparency is composited on this
    strict: bool = False  # an unreadable file is an error instead of a skipped file (named in one warning)
    workers: Optional[int] = None  # decoding processes for the first load (then cached); None: one per core
    max_images: Optional[int] = None  # per domain and split, for a quick run on part of a large dataset
    download: bool = False  # svhn2mnist: fetch missing published files (official URLs, MD5-checked, resumable)
    # Training augmentation (data/augment.py): load_size > image_size resizes the training images to it and takes a
    # random image_size crop each step (seed 001: 66 -> 64); 0 off. flip mirrors half of each batch.
    load_size: int = 0
    flip: bool = False
    rotate: float = 0.0  # degrees: each training image turned by a random angle in [-rotate, rotate]; 0 off
    # One-shot translation: domain A's training set is this one image file (augmented copies of it), or `test:N`,
    # the N-th image of the task's A test split (its true counterpart is known to evaluation); "" off.
    image_a: str = ""

    def __post_init__(self) -> None:
        if not 8 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f"data.image_size must be in [8, {MAX_IMAGE_SIZE}], not {self.image_size}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"data.test_fraction must be between 0 and 1 (exclusive), not {self.test_fraction}")
        if len(self.background) != 3 or any(not 0 <= int(v) <= 255 for v in self.background):
            raise ConfigError(f"data.background must be three values in 0..255 (R, G, B), not {list(self.background)}")
        for name in ("printed_train", "printed_test"):
            if getattr(self, name) < 1:
                raise ConfigError(f"data.{name} must be >= 1, not {getattr(self, name)}")
        if self.load_size and not self.image_size <= self.load_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f"data.load_size must be 0 (off) or in [data.image_size={self.image_size}, "
                              f"{MAX_IMAGE_SIZE}], not {self.load_size}")
        if not 0 <= self.rotate <= 180:
            raise ConfigError(f"data.rotate must be in [0, 180] degrees, not {self.rotate}")
        if self.max_images is not None and self.max_images < 1:
            raise ConfigError(f"data.max_images must be >= 1 (or null for all), not {self.max_images}")
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"data.workers must be >= 0 (or null: one per core), not {self.workers}")


PRECISIONS = ("fp32", "bf16", "fp16")
MAX_IMAGE_SIZE = 1024  # a batch of 32 RGB images at 1024 px already takes 400 MB as float32


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-4  # Adam for everything but discriminators (reference settings)
    discriminator_lr: float = 1e-4
    lr_decay_steps: int = 0  # the learning rates fall linearly to 0 over the last N steps (CycleGAN); 0: constant
    lr_decay_fraction: float = 0.0  # the same over this share of train.steps (0.5: the second half, whatever the length)
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    log_every: int = 10  # scalars to TensorBoard and the progress bar
    sample_every: int = 250  # PNG grid of translations
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # older step checkpoints are deleted; the final one is always kept
    on_nonfinite: str = "stop"  # stop | skip: what a NaN/inf loss does
    # skip mode still stops a run that is not learning: this many skipped steps in a row, or more than this share
    # of train.steps skipped in all
    max_skipped_in_a_row: int = 10
    max_skipped_fraction: float = 0.1
    eval_every: int = 0  # score the model (xgan eval's metrics) every N steps on a fixed test subset; 0: never
    eval_count: int = 500  # test images per domain for those scores
    best_metric: Optional[str] = None  # keep checkpoints/best by this metric (e.g. class_preservation_strong_ab)
    # > 0: each evaluation also computes the GAN bound (evaluation/gan_bound.py, label-free) with this many rival
    # updates, as gan_bound_ab, gan_bound_ba and their mean gan_bound
    eval_gan_bound: int = 0
    # auto: KID/FID in the judges' features where the task has class labels, else in a domain classifier's;
    # domain: in the domain classifier's always (label-free, and the space the model-selection table measured)
    eval_features: str = "auto"
    # Collapse alarm (evaluation/collapse.py) on fixed test images: None checks at sample_every, when the grid a
    # user looks at is drawn (the check costs one forward pass of 32 images per domain); 0 never
    collapse_every: Optional[int] = None
    on_collapse: str = "warn"  # warn | stop: what outputs that no longer depend on their inputs do
    # Speed (benchmarks/speed.py measures each): fp32 | bf16 | fp16 autocast (fp16 with a gradient scaler; both
    # for CUDA), channels_last memory format, torch.compile of the model's networks. Adam is fused where it can be.
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    # > 0: an exponential moving average of the model's weights with this decay per step (StarGAN v2's generator:
    # 0.999); samples, evaluations, checkpoints/best and inference read the average, training the live weights
    ema: float = 0.0

    def __post_init__(self) -> None:
        if self.on_nonfinite not in ("stop", "skip"):
            raise ConfigError(f"train.on_nonfinite must be 'stop' or 'skip', not '{self.on_nonfinite}'")
        if self.eval_features not in ("auto", "domain"):
            raise ConfigError(f"train.eval_features must be 'auto' or 'domain', not '{self.eval_features}'")
        if self.on_collapse not in ("warn", "stop"):
            raise ConfigError(f"train.on_collapse must be 'warn' or 'stop', not '{self.on_collapse}'")
        if self.collapse_every is not None and self.collapse_every < 0:
            raise ConfigError(f"train.collapse_every must be >= 0 (0: never), not {self.collapse_every}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"train.precision must be one of {', '.join(PRECISIONS)}, not '{self.precision}'")
        if not 0 <= self.lr_decay_steps <= self.steps:
            raise ConfigError(f"train.lr_decay_steps must be in [0, train.steps={self.steps}], not {self.lr_decay_steps}")
        if not 0 <= self.lr_decay_fraction <= 1:
            raise ConfigError(f"train.lr_decay_fraction must be in [0, 1], not {self.lr_decay_fraction}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"train.ema must be in [0, 1) (0: off; 0.999: StarGAN v2), not {self.ema}")
        if not 0 <= self.max_skipped_fraction <= 1:
            raise ConfigError(f"train.max_skipped_fraction must be in [0, 1], not {self.max_skipped_fraction}")
        if self.lr_decay_steps and self.lr_decay_fraction:
            raise ConfigError("train.lr_decay_steps and train.lr_decay_fraction both set: keep one (the other 0)")
        for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                     "eval_count", "max_skipped_in_a_row"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train.{name} must be >= 1, not {getattr(self, name)}")
        if self.best_metric:
            try:
                higher_is_better(self.best_metric)
            except ValueError as e:
                raise ConfigError(f"train.best_metric: {e}") from None
            if not self.eval_every:
                raise ConfigError("train.best_metric needs train.eval_every > 0")


@dataclass
class Config:
    run_dir: str = "runs/default"
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    model: Any = None  # the config dataclass of MODELS[model.name]


PRESET_DIR = files("xgan").joinpath("presets")


def preset_names() -> list[str]:
    return sorted(p.name[: -len(".yaml")] for p in PRESET_DIR.iterdir() if p.name.endswith(".yaml"))


def _read_source(preset_or_path: str | None, inheriting: tuple[str, ...] = ()) -> Any:
    """The file's or preset's keys over those of the preset its `base` key names (recursively)."""
    if preset_or_path is None:
        return OmegaConf.create({})
    path = Path(preset_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        text = path.read_text()
    elif preset_or_path in preset_names():
        text = PRESET_DIR.joinpath(f"{preset_or_path}.yaml").read_text()
    else:
        raise ConfigError(f"'{preset_or_path}' is neither a config file nor a preset (presets: {', '.join(preset_names())})")
    source = parse_yaml(text, str(preset_or_path))
    if "base" not in source:
        return source
    # a base is a preset name, never a path: a config file cannot make xgan read another file
    base, chain = source.pop("base"), (*inheriting, str(preset_or_path))
    if not isinstance(base, str) or base not in preset_names():
        raise ConfigError(f"{preset_or_path}: base {base!r} is not a preset (presets: {', '.join(preset_names())})")
    if base in chain:
        raise ConfigError(f"{preset_or_path}: presets inherit in a circle: {' -> '.join((*chain, base))}")
    return OmegaConf.merge(_read_source(base, chain), source)


def parse_yaml(text: str, source: str) -> DictConfig:
    """A YAML mapping of plain values: syntax errors, tags (!!python/...) and aliases (which can expand
    exponentially, the "billion laughs") are refused with a message naming `source`."""
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise ConfigError(f"{source}: YAML aliases (*name) are not accepted in a config; write the values out")
        loaded = OmegaConf.create(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {' '.join(str(e).split())}") from None
    except OmegaConfBaseException as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    return loaded


def load_config(preset_or_path: str | None = None, overrides: list[str] = ()) -> Config:
    """Build the run's Config from a preset name or YAML file, then `key.sub=value` overrides."""
    source = _read_source(preset_or_path)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key.sub=value")
    try:
        dotlist = OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as e:
        raise ConfigError(f"bad override: {e}") from None
    model_name = OmegaConf.select(dotlist, "model.name") or OmegaConf.select(source, "model.name") or "xgan"
    if model_name not in MODELS:
        raise ConfigError(f"unknown model.name '{model_name}' (known: {', '.join(sorted(MODELS))})")
    config_class = MODELS[model_name].config_class
    schema = OmegaConf.structured(Config(model=config_class()))
    try:
        for layer, name in ((source, preset_or_path or "config"), (dotlist, "overrides")):
            if isinstance(layer.get("model"), DictConfig):
                move_keys(layer.model, getattr(config_class, "moved_keys", {}), name)
        merged = OmegaConf.merge(schema, source, dotlist)
        config = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        where = f"{preset_or_path}: " if preset_or_path else ""
        raise ConfigError(f"{where}{_describe(e)}") from None
    return config


def move_keys(model: DictConfig, moved: dict[str, str | None], source: str) -> None:
    """Keys of the `model:` section that the model has moved since a config was written (its config class's
    `moved_keys`: old -> new, or None where a term was removed), put where they live now, so saved runs load."""
    for old, new in moved.items():
        parent, _, leaf = old.rpartition(".")
        node = OmegaConf.select(model, parent) if parent else model
        if not isinstance(node, DictConfig) or leaf not in node:
            continue
        value = node[leaf]
        del node[leaf]
        if new is None and value:
            raise ConfigError(f"{source}: model.{old}={value}, but that term was removed (see README)")
        if new is not None:
            OmegaConf.update(model, new, value, force_add=True)


def _describe(e: OmegaConfBaseException) -> str:
    key = getattr(e, "full_key", None)
    message = str(e).splitlines()[0]
    if "not in" in message and key:
        return f"unknown config key '{key}'"
    return f"config key '{key}': {message}" if key else message


def to_yaml(config: Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(config))
