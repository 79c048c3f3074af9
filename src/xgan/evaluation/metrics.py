"""Translation metrics: class preservation, semantic consistency distance, and KID/FID in a given feature space.

    class preservation  = accuracy of the target domain's classifier on translated test images (labels of the
                          source images); its ceiling is that classifier's accuracy on real target test images
    semantic distance   = ||e1(x) - e2(d2(e1(x)))|| / ||e1(x)|| per sample (seed 000), and the mirror: divided
                          by the embedding's norm so a model cannot score well by shrinking its embedding
    KID                 = unbiased MMD^2 with the cubic polynomial kernel (Binkowski et al.), mean over subsets
    FID                 = Frechet distance between Gaussians fitted to the features (Heusel et al.)
    class entropy       = H(p) / log K of the distribution p of a judge's K classes over generated images: 1 when
                          every class is generated equally often, 0 when one class is all a generator draws
    code accuracy       = the fraction of images generated per code that the judge reads as the class matched to
                          that code, under the one-to-one matching that agrees most (InfoGAN's codes: up to a
                          permutation); the class asked for itself where codes are classes (AC-GAN)
"""

from __future__ import annotations

import torch
from torch import nn

from xgan.models.classifier import predict
from xgan.models.base import TranslationModel, other

@torch.no_grad()
def batched(fn, x: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    return torch.cat([fn(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def accuracy(classifier: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float((predict(classifier, images) == labels.to(images.device)).float().mean())


def class_entropy(classifier: nn.Module, images: torch.Tensor) -> float:
    logits = batched(classifier, images)
    p = torch.bincount(logits.argmax(1), minlength=logits.shape[1]).double() / len(logits)
    return float(-(p[p > 0] * p[p > 0].log()).sum() / torch.log(torch.tensor(float(logits.shape[1]))))


def matched_accuracy(codes: torch.Tensor, classes: torch.Tensor) -> float:
    """Agreement of `codes` with `classes` (non-negative integers) under the one-to-one matching of codes to classes
    that maximises it (the Hungarian algorithm on their contingency table)."""
    from scipy.optimize import linear_sum_assignment  # scipy starts slowly; only generators with codes need it

    codes, classes = codes.cpu(), classes.cpu()
    table = torch.zeros(int(codes.max()) + 1, int(classes.max()) + 1)
    table.index_put_((codes, classes), torch.ones(len(codes)), accumulate=True)
    rows, columns = linear_sum_assignment(table.numpy(), maximize=True)
    return float(table[rows, columns].sum() / len(codes))


@torch.no_grad()
def semantic_distances(model: TranslationModel, x: torch.Tensor, source: str) -> torch.Tensor | None:
    """Per-sample relative distance between e_s(x) and the embedding of its translation, read by the other
    domain's encoder; None for a model without a shared embedding."""
    target = other(source)

    def distance(batch: torch.Tensor) -> torch.Tensor:
        z = model.encode(batch, source)
        z_back = model.encode(model.decode(z, target), target)
        return (z - z_back).norm(dim=1) / z.norm(dim=1).clamp_min(1e-8)

    if not model.has_embedding:
        return None
    return batched(distance, x)


def polynomial_mmd2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 with k(u, v) = (u.v / d + 1)^3."""
    d, m, n = x.shape[1], len(x), len(y)
    k_xx, k_yy, k_xy = ((p @ q.T / d + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
    return ((k_xx.sum() - k_xx.diagonal().sum()) / (m * (m - 1)) + (k_yy.sum() - k_yy.diagonal().sum()) / (n * (n - 1))
            - 2 * k_xy.mean())


def kid(features_x: torch.Tensor, features_y: torch.Tensor, subsets: int = 20, subset_size: int = 500,
        seed: int = 0) -> float:
    """Kernel Inception Distance in the given feature space (any features, not only Inception's)."""
    x, y = features_x.double(), features_y.double()
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError("KID needs at least 2 samples per set")
    g = torch.Generator().manual_seed(seed)
    estimates = [polynomial_mmd2(x[torch.randperm(len(x), generator=g)[:size]],
                                 y[torch.randperm(len(y), generator=g)[:size]]) for _ in range(subsets)]
    return float(torch.stack(estimates).mean())


def fid(features_x: torch.Tensor, features_y: torch.Tensor) -> float:
    """||mu_x - mu_y||^2 + Tr(S_x + S_y - 2 (S_x S_y)^1/2); the trace of the root from the eigenvalues of
    S_x^1/2 S_y S_x^1/2, which is symmetric, so no general matrix square root is needed."""
    x, y = features_x.double(), features_y.double()
    mu_x, mu_y = x.mean(0), y.mean(0)
    cov_x, cov_y = torch.cov(x.T), torch.cov(y.T)
    eigenvalues, vectors = torch.linalg.eigh(cov_x)
    root_x = vectors @ torch.diag(eigenvalues.clamp_min(0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root_x @ cov_y @ root_x).clamp_min(0).sqrt().sum()
    return float((mu_x - mu_y).pow(2).sum() + cov_x.trace() + cov_y.trace() - 2 * cross)
