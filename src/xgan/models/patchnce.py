"""PatchNCE (Park et al., "Contrastive Learning for Unpaired Image-to-Image Translation", ECCV'20): a patch of the
output should be closer to the input patch at the same place than to the input's other patches.

For one layer, with z = H(features) sampled at S locations and L2-normalised (S x C per image),

    l(v, v+, v-) = -log( exp(v.v+ / tau) / (exp(v.v+ / tau) + sum_n exp(v.v-_n / tau)) )
    L_PatchNCE   = mean over images and locations s of l(zhat_s, z_s, z_{S \\ s})

where zhat are the queries (patches of the output's features), z_s the positive (the input's patch at s) and
z_{S \\ s} the negatives (the input's other sampled patches). As a cross-entropy over S logits with the positive at
index 0; tau = 0.07. As in the official code (taesungp/contrastive-unpaired-translation, models/patchnce.py):
  - the keys are detached: the gradient reaches the generator (and the head) through the queries only;
  - negatives come from the same image (nce_includes_all_negatives_from_minibatch=False, what CUT and FastCUT use);
    `negatives_from_batch=True` pools every image's patches, the official option for single-image translation;
  - the query-key similarity of a location with itself, in the negatives' matrix, is set to -10 before the
    temperature (exp(-10 / tau) ~ 0), so the S logits are the positive and S - 1 true negatives;
  - one set of random locations per layer serves the whole batch and both the queries and the keys.

PatchSampler is H, the official PatchSampleF with its MLP (netF=mlp_sample): per layer a 2-layer MLP
(C -> 256 -> 256, ReLU between) on the sampled feature vectors, then L2 normalisation. Its input widths are those
of the generator's layers, hence built from data (CUT.setup). Random locations come from torch's generator (the
official code draws them with numpy), so a resumed run, which restores torch's state, draws the same ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TEMPERATURE = 0.07  # tau, the paper's and the official default (--nce_T)
SELF_SIMILARITY = -10.0  # what the official code writes over a location's similarity with itself among the negatives


def patch_nce_loss(queries: torch.Tensor, keys: torch.Tensor, temperature: float = TEMPERATURE,
                   negatives_from_batch: bool = False) -> torch.Tensor:
    """Mean PatchNCE over the batch and locations. queries, keys: (images, locations, dim), L2-normalised, the
    same location at the same index (queries from the output, keys from the input). negatives_from_batch: every
    image's patches are negatives for every query (the official single-image option); default, the same image's."""
    if queries.shape != keys.shape or queries.ndim != 3:
        raise ValueError(f"queries and keys must both be (images, locations, dim), not {tuple(queries.shape)} and "
                         f"{tuple(keys.shape)}")
    keys = keys.detach()  # the input side is the target, as in the official loss
    positive = (queries * keys).sum(-1).flatten()[:, None]  # (images * locations, 1)
    if negatives_from_batch:  # one pool: all patches of the minibatch as if from one image
        queries, keys = queries.flatten(0, 1)[None], keys.flatten(0, 1)[None]
    similarity = queries @ keys.transpose(1, 2)  # (groups, locations, locations): query i against key j
    itself = torch.eye(similarity.shape[-1], dtype=torch.bool, device=similarity.device)
    negatives = similarity.masked_fill(itself, SELF_SIMILARITY).flatten(0, 1)
    logits = torch.cat([positive, negatives], dim=1) / temperature
    target = torch.zeros(len(logits), dtype=torch.long, device=logits.device)  # the positive is class 0
    return F.cross_entropy(logits.float(), target)


class PatchSampler(nn.Module):
    """H: random locations of each feature map, through that layer's MLP, L2-normalised.

    forward(features, locations) -> (per layer (images, S, dim), the locations used): the keys' call draws the
    locations (S = min(patches, H * W), without repeats), the queries' call reuses them."""

    def __init__(self, widths: list[int], dim: int = 256, patches: int = 256) -> None:
        super().__init__()
        self.widths, self.dim, self.patches = list(widths), dim, patches
        self.mlps = nn.ModuleList(nn.Sequential(nn.Linear(w, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim))
                                  for w in widths)

    def forward(self, features: list[torch.Tensor], locations: list[torch.Tensor] | None = None
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if len(features) != len(self.mlps):
            raise ValueError(f"the head has {len(self.mlps)} layers, given {len(features)} feature maps")
        if locations is None:
            locations = [torch.randperm(f.shape[2] * f.shape[3])[:self.patches].to(f.device) for f in features]
        sampled = []
        for feature, where, mlp in zip(features, locations, self.mlps):
            vectors = feature.flatten(2).transpose(1, 2)[:, where]  # (images, S, C): the feature vector per location
            sampled.append(F.normalize(mlp(vectors), dim=-1, eps=1e-7))
        return sampled, locations
