"""LPIPS (Zhang et al., CVPR'18), the learned perceptual distance MUNIT and DRIT report diversity in, from weights the
user supplies: no ImageNet weights can be downloaded here, so none ship and none are fetched.

    d(x, y) = sum_l mean_hw sum_c w_l,c (f_l(x) / |f_l(x)|_c - f_l(y) / |f_l(y)|_c)_c^2

f_l: AlexNet's five ReLU outputs (torchvision's `alexnet` features, after the input is shifted and scaled as the
lpips package does), normalised over channels; w_l: the non-negative 1x1 weights of lpips v0.1 (`lin0`-`lin4`).
Two files, read without running code (safetensors, or torch.load(weights_only=True)):

    the AlexNet:  torchvision's alexnet state dict (alexnet-owt-7be5be79.pth, keys features.N.weight/bias)
    the linear:   the lpips package's weights/v0.1/alex.pth (keys linN.model.1.weight)

Images below 64 px are upsampled (bilinear) to 64: AlexNet's stride-4 first conv and three poolings need the room.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

SHIFT = (-0.030, -0.088, -0.188)  # the lpips package's ScalingLayer, for inputs in [-1, 1]
SCALE = (0.458, 0.448, 0.450)
MIN_SIZE = 64
# torchvision's alexnet.features: (index in the Sequential, in, out, kernel, stride, padding) of each conv; an LPIPS
# tap after the ReLU of each
CONVS = [(0, 3, 64, 11, 4, 2), (3, 64, 192, 5, 1, 2), (6, 192, 384, 3, 1, 1), (8, 384, 256, 3, 1, 1),
         (10, 256, 256, 3, 1, 1)]


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a .safetensors file or a PyTorch file, never unpickling code."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such LPIPS weights file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a broken or foreign file: say which one
        raise ValueError(f"{path}: not a readable weights file ({error})") from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state dict of tensors")
    return state


class LPIPS(nn.Module):
    def __init__(self, alexnet: dict[str, torch.Tensor], linear: dict[str, torch.Tensor],
                 names: tuple[str, str] = ("the AlexNet weights", "the LPIPS linear weights")) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None])
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None])
        self.convs = nn.ModuleList(nn.Conv2d(*spec[1:]) for spec in CONVS)  # this instance's own
        for (index, *_), conv in zip(CONVS, self.convs):
            for part in ("weight", "bias"):
                key, want = f"features.{index}.{part}", tuple(getattr(conv, part).shape)
                if key not in alexnet or tuple(alexnet[key].shape) != want:
                    raise ValueError(f"{names[0]}: {key} must be a tensor of shape {want} (torchvision's alexnet), "
                                     f"found {tuple(alexnet[key].shape) if key in alexnet else 'none'}")
                getattr(conv, part).data.copy_(alexnet[key])
        self.lins = nn.ParameterList()
        for i, conv in enumerate(self.convs):
            key, want = f"lin{i}.model.1.weight", (1, conv.out_channels, 1, 1)
            if key not in linear or tuple(linear[key].shape) != want:
                raise ValueError(f"{names[1]}: {key} must be a tensor of shape {want} (lpips v0.1 alex.pth), found "
                                 f"{tuple(linear[key].shape) if key in linear else 'none'}")
            self.lins.append(nn.Parameter(linear[key].clone(), requires_grad=False))
        self.requires_grad_(False).eval()

    @classmethod
    def from_files(cls, alexnet: str | Path, linear: str | Path) -> "LPIPS":
        return cls(read_weights(alexnet), read_weights(linear), (str(alexnet), str(linear)))

    def taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[-1] < MIN_SIZE:
            x = F.interpolate(x, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False)
        x, out = (x - self.shift) / self.scale, []
        for i, conv in enumerate(self.convs):
            if i in (1, 2):  # the max-pools before the second and third convs
                x = F.max_pool2d(x, 3, 2)
            x = F.relu(conv(x))
            out.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10))
        return out

    @torch.no_grad()
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The distance of each pair (x[i], y[i]) of images in [-1, 1]: (N,)."""
        return sum((F.conv2d((fx - fy).pow(2), w)).mean((1, 2, 3))
                   for fx, fy, w in zip(self.taps(x), self.taps(y), self.lins))
