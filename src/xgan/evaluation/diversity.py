"""How different a multimodal translator's outputs for one input are (MUNIT's and DRIT's diversity protocol: 100
inputs, 20 outputs each under random styles, the distance between consecutive outputs: 19 pairs per input).

    diversity = mean over inputs x and k < K of d(T(x, s_k), T(x, s_k+1)),  s_k ~ the model's style prior
    real      = mean over random pairs i != j of the target test images of d(y_i, y_j)

in two distances: `feature`, the L2 distance in the target domain's offline feature space (the Evaluator's, named
in its report: no ImageNet LPIPS weights can be had offline), and `pixel`, the mean absolute difference as a
fraction of the range [0, 1], and with the user's LPIPS weights (evaluation/lpips.py: `xgan eval --lpips`) `lpips`,
the papers' own distance. A model whose outputs ignore the style scores 0; `real` is the data's own spread,
what outputs as varied as real images would score.
"""

from __future__ import annotations

from typing import Callable

import torch

from xgan.data.task import spread_indices
from xgan.models.base import TranslationModel

INPUTS, SAMPLES = 100, 20


@torch.no_grad()
def diversity(model: TranslationModel, images: torch.Tensor, to: str, target_images: torch.Tensor,
              target_features: torch.Tensor, space: Callable[[torch.Tensor], torch.Tensor], seed: int = 0,
              inputs: int = INPUTS, samples: int = SAMPLES,
              lpips: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> dict[str, float]:
    """diversity_{feature,pixel} of `model` translating `images` into `to`, and real_{feature,pixel} of
    `target_images` (whose features in `space` are `target_features`; see the module docstring); styles and pairs
    drawn from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    x = images[spread_indices(len(images), inputs)]
    outputs = [model.translate(x, to, model.sample_style(len(x), to, generator).to(x.device)) for _ in range(samples)]
    features = [space(o) for o in outputs]  # each output's once, though it is in two pairs
    # the real pairs from their own stream: the same for every model, whatever its style codes drew
    order = torch.randperm(len(target_images), generator=torch.Generator().manual_seed(seed))
    others = order.roll(1)  # a derangement of the shuffled order: every image against another
    result = {"feature": float(torch.cat([(f1 - f2).norm(dim=1) for f1, f2 in zip(features, features[1:])]).mean()),
              "pixel": float(torch.cat([pixel_distances(o1, o2) for o1, o2 in zip(outputs, outputs[1:])]).mean()),
              "real_feature": float((target_features[order] - target_features[others]).norm(dim=1).mean()),
              "real_pixel": float(pixel_distances(target_images[order], target_images[others]).mean())}
    if lpips is not None:
        result["lpips"] = float(torch.cat([lpips(o1, o2) for o1, o2 in zip(outputs, outputs[1:])]).mean())
        result["real_lpips"] = float(torch.cat([lpips(target_images[i], target_images[j]) for i, j in
                                                zip(order.split(256), others.split(256))]).mean())
    return result


def pixel_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean |x[i] - y[i]| per i, as a fraction of the range [-1, 1]."""
    return (x - y).abs().flatten(1).mean(1) / 2
