"""How different a multimodal translator's outputs for one input are (MUNIT's and DRIT's diversity protocol: 100
inputs, 20 outputs each under random styles, the distance between consecutive outputs: 19 pairs per input).

    diversity = mean over inputs x and k < K of d(T(x, s_k), T(x, s_k+1)),  s_k ~ the model's style prior
    real      = mean over random pairs i != j of the target test images of d(y_i, y_j)

in two distances: `feature`, the L2 distance in the target domain's offline feature space (the Evaluator's, named
in its report: no ImageNet LPIPS weights can be had offline), and `pixel`, the mean absolute difference as a
fraction of the range [0, 1]. A model whose outputs ignore the style scores 0; `real` is the data's own spread,
what outputs as varied as real images would score.
"""

from __future__ import annotations

from typing import Callable

import torch

from xgan.data.task import spread_indices
from xgan.models.base import TranslationModel

INPUTS, SAMPLES = 100, 20


def pair_distances(x: torch.Tensor, y: torch.Tensor, space: Callable[[torch.Tensor], torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """(feature, pixel) distance between x[i] and y[i], per i."""
    feature = (space(x) - space(y)).norm(dim=1)
    pixel = (x - y).abs().flatten(1).mean(1) / 2
    return feature, pixel


@torch.no_grad()
def diversity(model: TranslationModel, images: torch.Tensor, to: str, target_images: torch.Tensor,
              space: Callable[[torch.Tensor], torch.Tensor], seed: int = 0, inputs: int = INPUTS,
              samples: int = SAMPLES) -> dict[str, float]:
    """diversity_{feature,pixel} of `model` translating `images` into `to`, and real_{feature,pixel} of
    `target_images` (see the module docstring); styles and pairs drawn from `seed`."""
    generator = torch.Generator().manual_seed(seed)
    x = images[spread_indices(len(images), inputs)]
    outputs = [model.translate(x, to, model.sample_style(len(x), to, generator).to(x.device)) for _ in range(samples)]
    pairs = [pair_distances(o1, o2, space) for o1, o2 in zip(outputs, outputs[1:])]
    order = torch.randperm(len(target_images), generator=generator)
    others = order.roll(1)  # a derangement of the shuffled order: every image against another
    real = pair_distances(target_images[order], target_images[others], space)
    return {"feature": float(torch.cat([f for f, _ in pairs]).mean()),
            "pixel": float(torch.cat([p for _, p in pairs]).mean()),
            "real_feature": float(real[0].mean()), "real_pixel": float(real[1].mean())}
