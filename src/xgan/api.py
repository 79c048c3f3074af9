"""The Python API: load a trained run and translate, embed and search images from Python.

    import xgan
    translator = xgan.load("runs/digits")                  # a run directory or a checkpoint directory
    handwritten = translator.translate(Image.open("7.png"), to="b")

Inputs, one image or a batch, in any size (resized to the model's size as training data was):
  * PIL images (any mode; transparency composited on white), or a list of them (sizes may differ);
  * NumPy uint8 arrays: (H, W) grayscale, (H, W, C) one image, (N, H, W, C) a batch; C is 1, 3 or 4;
  * torch tensors with values in [0, 1] (or uint8): (C, H, W) one image, (N, C, H, W) a batch.
Outputs have the input's kind and layout (NumPy: uint8 HWC with 3 channels; tensors: float in [0, 1] on the
input's device), at the input's size with `size="input"` (the default) or at the model's with `size="model"`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
from PIL import Image

from xgan.data.images import to_rgb
from xgan.data.task import resize_uint8, to_model_range, to_uint8
from xgan.models.base import TranslationModel, other
from xgan.samples import to_pil

ImageLike = Union[Image.Image, np.ndarray, torch.Tensor, Sequence[Image.Image]]


@dataclass
class Neighbor:
    """One test image near a query in the shared embedding."""

    domain: str
    index: int  # position in that domain's test split
    distance: float
    image: Image.Image


def load(path: str | Path, device: str = "auto") -> Translator:
    """The translator saved in a run directory (its latest checkpoint) or in one checkpoint directory.
    `device`: auto (CUDA, else MPS, else CPU) | cpu | cuda | cuda:1 | mps."""
    from xgan.checkpoint import load_trained
    from xgan.devices import pick_device

    model, config, snapshot = load_trained(path, pick_device(device, option="device"))
    return Translator(model, config, snapshot)


class Translator:
    """A trained model in eval mode, with conversions from and to the image types users hold."""

    def __init__(self, model: TranslationModel, config, snapshot: Path | None = None) -> None:
        self.model, self.config, self.snapshot = model.eval(), config, snapshot
        self.image_size: int = config.data.image_size
        self.device = next(model.parameters()).device
        self._index = None

    @torch.no_grad()
    def translate(self, images: ImageLike, to: str = "b", size: str = "input") -> ImageLike:
        """Images of domain `other(to)` translated into domain `to` ('a' or 'b')."""
        other(to)
        if to not in self.model.directions:
            raise ValueError(f"this {self.config.model.name} model translates only into {self.model.directions}")
        if size not in ("input", "model"):
            raise ValueError(f"size must be 'input' or 'model', not {size!r}")
        batch, restore = as_batch(images)
        x = to_model_range(resize_uint8(batch, self.image_size)).to(self.device)
        y = to_uint8(self.model.translate(x, to=to)).cpu()
        return restore(y, size == "input")

    @torch.no_grad()
    def embed(self, images: ImageLike, domain: str = "a") -> torch.Tensor:
        """(N, D) shared embeddings, on the CPU, of images of `domain`."""
        other(domain)
        batch, _ = as_batch(images)
        z = self.model.encode(to_model_range(resize_uint8(batch, self.image_size)).to(self.device), domain)
        if z is None:
            raise ValueError(f"model '{self.config.model.name}' has no shared embedding")
        return z.cpu()

    def neighbors(self, image: ImageLike, domain: str = "a", k: int = 8) -> list[Neighbor]:
        """The k test images of both domains nearest to one query image of `domain`, nearest first."""
        z = self.embed(image, domain)
        if len(z) != 1:
            raise ValueError(f"neighbors takes one query image, not {len(z)}")
        index = self.embedding_index()
        indices, distances = index.nearest(z.to(index.embeddings.device), k)
        return [Neighbor(*index.position(i), float(d), to_pil(index.images[i]))
                for i, d in zip(indices[0].tolist(), distances[0].tolist())]

    def embedding_index(self, per_domain: int | None = None):
        """The test images of both domains with their embeddings, built on first use (the task's test splits)."""
        from xgan.data.registry import load_task
        from xgan.evaluation.neighbors import EmbeddingIndex

        if self._index is None:
            if not self.model.has_embedding:
                raise ValueError(f"model '{self.config.model.name}' has no shared embedding to search")
            self._index = EmbeddingIndex.build(self.model, load_task(self.config.data), per_domain)
        return self._index


def as_batch(images: ImageLike):
    """(uint8 (N, 3, H, W) tensor, restore) where restore(uint8 output batch, to_input_size) gives the outputs
    back in the input's kind and layout."""
    if isinstance(images, Image.Image):
        batch, restore_many = as_batch([images])
        return batch, lambda y, at_input: restore_many(y, at_input)[0]
    if isinstance(images, (list, tuple)) and images and all(isinstance(i, Image.Image) for i in images):
        return pil_batch(list(images))
    if isinstance(images, np.ndarray):
        return numpy_batch(images)
    if isinstance(images, torch.Tensor):
        return tensor_batch(images)
    raise TypeError(f"expected PIL images, a NumPy array or a torch tensor, not {type(images).__name__}")


def pil_batch(images: list[Image.Image]):
    sizes = [image.size for image in images]
    common = max(sizes)  # decoded at one size to stack them; the model's resize comes next anyway
    arrays = [np.asarray(to_rgb(image).resize(common, Image.BICUBIC) if image.size != common else to_rgb(image))
              for image in images]
    batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()

    def restore(y: torch.Tensor, at_input: bool) -> list[Image.Image]:
        out = [Image.fromarray(pixels) for pixels in y.permute(0, 2, 3, 1).numpy()]
        return [o.resize(size, Image.BICUBIC) if at_input and o.size != size else o for o, size in zip(out, sizes)]

    return batch, restore


def numpy_batch(array: np.ndarray):
    if array.dtype != np.uint8:
        raise TypeError(f"NumPy images must be uint8 in [0, 255], not {array.dtype}")
    shape = array.shape
    if array.ndim == 2:
        batch = array[None, :, :, None]
    elif array.ndim in (3, 4) and shape[-1] in (1, 3, 4):
        batch = array[None] if array.ndim == 3 else array
    else:
        raise ValueError(f"NumPy images must be (H, W), (H, W, C) or (N, H, W, C) with C in 1, 3, 4; got {shape}")
    batch = torch.from_numpy(np.array(batch)).permute(0, 3, 1, 2)  # a copy: arrays may be read-only
    batch = rgb_channels(batch)

    def restore(y: torch.Tensor, at_input: bool) -> np.ndarray:
        if at_input:
            y = resize_uint8(y, shape[:2] if array.ndim in (2, 3) else shape[1:3])
        out = y.permute(0, 2, 3, 1).numpy()
        return out if array.ndim == 4 else out[0]

    return batch, restore


def tensor_batch(tensor: torch.Tensor):
    if tensor.ndim not in (3, 4) or tensor.shape[-3] not in (1, 3, 4):
        raise ValueError(f"tensor images must be (C, H, W) or (N, C, H, W) with C in 1, 3, 4; got {tuple(tensor.shape)}")
    batch = tensor[None] if tensor.ndim == 3 else tensor
    if batch.is_floating_point():
        check_unit_range(batch)
    else:
        batch = batch.float().div(255)
    batch = rgb_channels(batch.detach().cpu().mul(255).round().to(torch.uint8))

    def restore(y: torch.Tensor, at_input: bool) -> torch.Tensor:
        if at_input:
            y = resize_uint8(y, tuple(tensor.shape[-2:]))
        out = y.float().div(255).to(tensor.device)
        return out if tensor.ndim == 4 else out[0]

    return batch, restore


def check_unit_range(batch: torch.Tensor) -> None:
    """Refuse float images outside [0, 1]: clamping would hide a caller's [-1, 1] or [0, 255] scaling, and NaN
    has no pixel value at all."""
    if not batch.numel():
        return
    if not torch.isfinite(batch).all():
        raise ValueError("tensor images hold NaN/inf values; they must be finite, in [0, 1]")
    low, high = batch.min().item(), batch.max().item()
    if low < 0 or high > 1:
        raise ValueError(f"tensor images must be in [0, 1]; got min {low:.4g}, max {high:.4g}")


def rgb_channels(batch: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) uint8 with C in 1, 3, 4 -> 3 channels; alpha composited on white, as for files."""
    if batch.shape[1] == 1:
        return batch.expand(-1, 3, -1, -1).contiguous()
    if batch.shape[1] == 4:
        alpha = batch[:, 3:].float() / 255
        return (batch[:, :3].float() * alpha + 255 * (1 - alpha)).round().to(torch.uint8)
    return batch.contiguous()
