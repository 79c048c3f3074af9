"""The Python API: load a trained run and translate, embed and search images from Python.

    import xgan
    translator = xgan.load("runs/digits")                  # a run directory or a checkpoint directory
    handwritten = translator.translate(Image.open("7.png"), to="b")

Inputs, one image or a batch, in any size (resized to the model's size as training folders are, by
xgan.data.images.resize_image, and back to the input's size by the same function):
  * PIL images (any mode; transparency composited on white), or a list of them (sizes may differ);
  * NumPy uint8 arrays: (H, W) grayscale, (H, W, C) one image, (N, H, W, C) a batch; C is 1, 3 or 4;
  * torch tensors with values in [0, 1] (or uint8): (C, H, W) one image, (N, C, H, W) a batch.
Outputs have the input's kind and layout (NumPy: uint8 HWC with 3 channels; tensors: float in [0, 1] on the
input's device), at the input's size with `size="input"` (the default) or at the model's with `size="model"`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence, Union

import numpy as np
import torch
from PIL import Image

from xgan.data.images import model_input, resize_image, to_rgb
from xgan.data.task import to_uint8
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
    def translate(self, images: ImageLike, to: str = "b", size: str = "input",
                  style: torch.Tensor | None = None) -> ImageLike:
        """Images of domain `other(to)` translated into domain `to` ('a' or 'b'). `style`: (n, style_dim) codes
        for multimodal models (e.g. from `sample_style`), one per image; None: the model's default."""
        other(to)
        if to not in self.model.directions:
            raise ValueError(f"this {self.config.model.name} model translates only into {self.model.directions}")
        if size not in ("input", "model"):
            raise ValueError(f"size must be 'input' or 'model', not {size!r}")
        pictures, restore = as_pictures(images)
        if style is not None:
            if not self.model.style_dim:
                raise ValueError(f"this {self.config.model.name} model has no style codes")
            if tuple(style.shape) != (len(pictures), self.model.style_dim):
                raise ValueError(f"style must be ({len(pictures)}, {self.model.style_dim}): one code per image, "
                                 f"not {tuple(style.shape)}")
            style = style.to(self.device)
        y = to_uint8(self.model.translate(self.model_input(pictures), to=to, style=style)).cpu()
        return restore(y, size == "input")

    @torch.no_grad()
    def generate(self, count: int, seed: int | None = None, label: int | None = None) -> list[Image.Image]:
        """`count` images from a generator trained from noise (DCGAN), reproducible with `seed`; of class `label`
        for a generator with classes (AC-GAN's classes, InfoGAN's categorical code), else of random ones."""
        if not self.model.latent_dim:
            raise ValueError(f"this {self.config.model.name} model translates; it does not generate from noise")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        classes = self.model.latent_labels(count, label) if label is not None else None
        z = self.model.sample_latent(count, generator, classes=classes).to(self.device)
        return [Image.fromarray(x) for x in to_uint8(self.model.generate(z)).permute(0, 2, 3, 1).cpu().numpy()]

    def sample_style(self, count: int, to: str = "b", seed: int | None = None) -> torch.Tensor:
        """`count` random style codes of domain `to` (multimodal models), reproducible with `seed`."""
        if not self.model.style_dim:
            raise ValueError(f"this {self.config.model.name} model has no style codes")
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return self.model.sample_style(count, to, generator)

    @torch.no_grad()
    def style_of(self, images: ImageLike, domain: str = "b") -> torch.Tensor:
        """(N, style_dim) style codes read from images of `domain`, on the CPU, for `translate(..., style=)`:
        reference-guided translation (models with a style encoder: MUNIT)."""
        other(domain)
        if not self.model.has_reference_style:
            raise ValueError(f"this {self.config.model.name} model cannot read a style from an image")
        pictures, _ = as_pictures(images)
        return self.model.style_of(self.model_input(pictures), domain).cpu()

    @torch.no_grad()
    def embed(self, images: ImageLike, domain: str = "a") -> torch.Tensor:
        """(N, D) shared embeddings, on the CPU, of images of `domain`."""
        other(domain)
        pictures, _ = as_pictures(images)
        z = self.model.encode(self.model_input(pictures), domain)
        if z is None:
            raise ValueError(f"model '{self.config.model.name}' has no shared embedding")
        return z.cpu()

    def model_input(self, pictures: list[Image.Image]) -> torch.Tensor:
        """RGB pictures as the model's input batch, on its device, resized as training folders are."""
        return model_input([resize_image(picture, self.image_size) for picture in pictures]).to(self.device)

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


Restore = Callable[[torch.Tensor, bool], ImageLike]


def as_pictures(images: ImageLike) -> tuple[list[Image.Image], Restore]:
    """(RGB PIL images, restore) where restore(uint8 output batch, to_input_size) gives the outputs back in the
    input's kind and layout. Every kind becomes PIL images, so arrays and tensors are converted (alpha composited on
    white, grey expanded) exactly as files are."""
    if isinstance(images, Image.Image):
        pictures, restore_many = as_pictures([images])
        return pictures, lambda y, at_input: restore_many(y, at_input)[0]
    if isinstance(images, (list, tuple)) and images and all(isinstance(i, Image.Image) for i in images):
        return pil_pictures(list(images))
    if isinstance(images, np.ndarray):
        return numpy_pictures(images)
    if isinstance(images, torch.Tensor):
        return tensor_pictures(images)
    raise TypeError(f"expected PIL images, a NumPy array or a torch tensor, not {type(images).__name__}")


def outputs_at(y: torch.Tensor, sizes: list[tuple[int, int]] | None) -> list[np.ndarray]:
    """uint8 (N, 3, H, W) outputs as (H, W, 3) arrays, each at its (width, height) in `sizes` unless None."""
    out = list(y.permute(0, 2, 3, 1).numpy())
    return out if sizes is None else [resize_image(Image.fromarray(o), size) for o, size in zip(out, sizes)]


def pil_pictures(images: list[Image.Image]) -> tuple[list[Image.Image], Restore]:
    def restore(y: torch.Tensor, at_input: bool) -> list[Image.Image]:
        return [Image.fromarray(o) for o in outputs_at(y, [image.size for image in images] if at_input else None)]

    return [to_rgb(image) for image in images], restore


def numpy_pictures(array: np.ndarray) -> tuple[list[Image.Image], Restore]:
    if array.dtype != np.uint8:
        raise TypeError(f"NumPy images must be uint8 in [0, 255], not {array.dtype}")
    shape = array.shape
    if array.ndim == 2:
        batch = array[None, :, :, None]
    elif array.ndim in (3, 4) and shape[-1] in (1, 3, 4):
        batch = array[None] if array.ndim == 3 else array
    else:
        raise ValueError(f"NumPy images must be (H, W), (H, W, C) or (N, H, W, C) with C in 1, 3, 4; got {shape}")
    height, width = batch.shape[1:3]

    def restore(y: torch.Tensor, at_input: bool) -> np.ndarray:
        out = np.stack(outputs_at(y, [(width, height)] * len(y) if at_input else None))
        return out if array.ndim == 4 else out[0]

    return [to_rgb(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)) for image in batch], restore


def tensor_pictures(tensor: torch.Tensor) -> tuple[list[Image.Image], Restore]:
    if tensor.ndim not in (3, 4) or tensor.shape[-3] not in (1, 3, 4):
        raise ValueError(f"tensor images must be (C, H, W) or (N, C, H, W) with C in 1, 3, 4; got {tuple(tensor.shape)}")
    batch = tensor[None] if tensor.ndim == 3 else tensor
    if batch.is_floating_point():
        check_unit_range(batch)
    else:
        batch = batch.float().div(255)
    pixels = batch.detach().cpu().mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    pictures, _ = numpy_pictures(pixels)

    def restore(y: torch.Tensor, at_input: bool) -> torch.Tensor:
        sizes = [(tensor.shape[-1], tensor.shape[-2])] * len(y) if at_input else None
        out = torch.from_numpy(np.stack(outputs_at(y, sizes)))
        out = out.permute(0, 3, 1, 2).float().div(255).to(tensor.device)
        return out if tensor.ndim == 4 else out[0]

    return pictures, restore


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
