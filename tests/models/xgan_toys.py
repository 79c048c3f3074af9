"""Small XGANs for the model tests: a tiny one of the layer table, and one whose maps are exact inverses."""

import torch
from torch import nn

from xgan.models.adaptation import AdaptationConfig
from xgan.models.xgan import XGAN, XGANConfig, XGANWeights

SIZE = 16


def tiny(adaptation: dict | None = None, weights: dict | None = None, **kwargs) -> XGAN:
    torch.manual_seed(0)
    return XGAN(XGANConfig(width=0.25, embedding_dim=16, weights=XGANWeights(**(weights or {})),
                           adaptation=AdaptationConfig(**(adaptation or {})), **kwargs), SIZE)


def batch(seed: int, n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class Invertible(XGAN):
    """Encoders flatten and decoders unflatten: exact inverses, so d(e(x)) = x and e2(d2(e1(x))) = e1(x)."""

    def __init__(self, **kwargs):
        super().__init__(XGANConfig(embedding_dim=3 * SIZE * SIZE, width=0.125, **kwargs), SIZE)
        self.e1, self.e2 = nn.Flatten(), nn.Flatten()
        self.d1, self.d2 = (nn.Sequential(nn.Unflatten(1, (3, SIZE, SIZE))) for _ in range(2))
        self.decoders_share = 0
