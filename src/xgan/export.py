"""Export one translation direction of a trained model as ONNX or TorchScript, for other runtimes.

Both take a float32 (N, 3, S, S) batch in [-1, 1] (S: the model's image size; N: any) and return the translated
batch in the same range: pixels p in [0, 255] map to p / 127.5 - 1. A multimodal model's translator (style codes:
MUNIT, Augmented CycleGAN) takes the (N, style_dim) style codes as its second input ("style").
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn

from xgan.io import atomic_write
from xgan.models.base import TranslationModel

FORMATS = ("onnx", "torchscript")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}
ONNX_OPSET = 18


class Direction(nn.Module):
    """model.translate(x, to) as a module of one input, as exporters want."""

    def __init__(self, model: TranslationModel, to: str) -> None:
        super().__init__()
        self.model, self.to = model, to

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.translate(images, to=self.to)


class StyledDirection(Direction):
    """model.translate(x, to, style) of a multimodal model: the style codes are the second input."""

    def forward(self, images: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.model.translate(images, to=self.to, style=style)


def export_direction(model: TranslationModel, to: str, image_size: int, fmt: str, path: str | Path) -> Path:
    """Write the a->b (to='b') or b->a (to='a') translator of `model` to `path` atomically."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {FORMATS}, not {fmt!r}")
    if not model.exportable:
        raise ValueError(f"{type(model).__name__} translates by an optimisation per input, which cannot be "
                         "exported; use xgan translate or the Python API")
    device = next(model.parameters()).device
    example: tuple[torch.Tensor, ...] = (torch.zeros(2, 3, image_size, image_size, device=device),)
    if model.style_dim:
        module = StyledDirection(model.eval(), to).eval()
        example += (torch.randn(2, model.style_dim, device=device),)
    else:
        module = Direction(model.eval(), to).eval()
    path = Path(path)
    if fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(module, example)
        atomic_write(path, lambda tmp: traced.save(tmp), suffix=".pt")
    else:
        atomic_write(path, lambda tmp: onnx_export(module, example, tmp), suffix=".onnx")
    return path


def onnx_export(module: nn.Module, example: tuple[torch.Tensor, ...], path: str) -> None:
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # it lists the torchvision ops it cannot find
    batch = torch.export.Dim("batch", min=1)
    names = ["images", "style"][:len(example)]
    program = torch.onnx.export(module, example, dynamo=True, input_names=names, output_names=["translated"],
                                dynamic_shapes=tuple({0: batch} for _ in example), opset_version=ONNX_OPSET,
                                verbose=False)
    program.save(path)
