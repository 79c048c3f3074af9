"""Ground-truth metrics for tasks whose test splits know their true counterparts (`ImageSet.ids` on both sides).

Pairs: source test image i and target test image j are counterparts when ids_s[i] == ids_t[j] >= 0 and that id
occurs exactly once in each split; an id of -1, or one repeated within a split (ambiguous), pairs nothing.
For each paired source image x_i with translation T(x_i) and counterpart y_c(i):

    retrieval       d_ij = ||q_i - g_j||_2 between the query q_i = T(x_i) and every target test image g_j (the
                    gallery: paired or not, all are candidates), in two spaces:
                      pixel    the RGB pixels in [-1, 1] at the task's resolution (L2: nearest neighbour by
                               Euclidean distance over all 3 x H x W values)
                      feature  the Evaluator's offline feature space of the target domain (named in the report)
                    rank_i = #{j : d_ij <= d_i,c(i)}, so 1 means the counterpart is the nearest, and a tie with
                    another image counts against the model;
                    top-k = mean_i [rank_i <= k] (k = 1, 5);  median rank = median_i rank_i
    L1              mean over pixels of |T(x_i) - y_c(i)| / 2: the per-pixel error as a fraction of the range [0, 1]
    SSIM            Wang et al. (2004): per channel, Gaussian window (sigma 1.5, truncated at 3.5 sigma: 11 x 11),
                    SSIM = (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
                    C1 = (0.01 L)^2, C2 = (0.03 L)^2, on intensities in [0, 1] (L = 1); averaged over the
                    positions where the window lies inside the image, then over channels (scikit-image's
                    structural_similarity with gaussian_weights=True, use_sample_covariance=False, channel_axis;
                    checked against it in the tests); a window wider than the image is cut to fit; mean over pairs
    feature dist.   ||f(T(x_i)) - f(y_c(i))||_2 in the target feature space, mean over pairs

Beside each, two baselines that need no model:
    identity        the untranslated input x_i in place of T(x_i): a translator must beat doing nothing
    mean / chance   for distances, the mean target test image for every query (the best constant output under
                    L2); for retrieval, chance: a ranking that ignores the query puts the counterpart at a uniform
                    rank in 1..N (N gallery images), so top-k = k / N and the median rank = (N + 1) / 2. (Ranking
                    by the mean image would be one arbitrary fixed ranking, whose figures say which target images
                    lie near the mean, not what a query without information achieves.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TOP_K = (1, 5)
SSIM_SIGMA, SSIM_TRUNCATE, SSIM_K1, SSIM_K2 = 1.5, 3.5, 0.01, 0.03


def counterparts(source_ids: torch.Tensor, target_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(source indices, target indices) of the true pairs, in source order (see the module's rule)."""
    def unique_positions(ids: torch.Tensor) -> dict[int, int]:
        values, counts = ids.unique(return_counts=True)
        once = {int(v) for v, c in zip(values, counts) if v >= 0 and c == 1}
        return {int(v): i for i, v in enumerate(ids.tolist()) if v in once}

    source, target = unique_positions(source_ids.cpu()), unique_positions(target_ids.cpu())
    shared = [(i, target[v]) for v, i in sorted(source.items(), key=lambda item: item[1]) if v in target]
    if not shared:
        return torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
    return tuple(torch.tensor(column) for column in zip(*shared))


def counterpart_ranks(queries: torch.Tensor, gallery: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """rank_i = #{j : ||q_i - g_j|| <= ||q_i - g_truth_i||}, for (P, D) queries and an (N, D) gallery."""
    distances = torch.cdist(queries.double(), gallery.double())
    true = distances.gather(1, truth.to(distances.device)[:, None])
    return (distances <= true).sum(1).cpu()


def retrieval(queries: torch.Tensor, gallery: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    ranks = counterpart_ranks(queries.flatten(1), gallery.flatten(1), truth).double()
    scores = {f"top{k}": float((ranks <= k).double().mean()) for k in TOP_K}
    return scores | {"median_rank": float(ranks.quantile(0.5))}


def chance_retrieval(gallery_size: int) -> dict[str, float]:
    """What a ranking that ignores the query scores on average: the counterpart's rank is uniform in 1..N."""
    scores = {f"top{k}": min(k, gallery_size) / gallery_size for k in TOP_K}
    return scores | {"median_rank": (gallery_size + 1) / 2}


def gaussian_window(size: int, sigma: float = SSIM_SIGMA, truncate: float = SSIM_TRUNCATE) -> torch.Tensor:
    """The normalised 2-D Gaussian of SSIM, radius round(truncate * sigma) as in scipy, cut to fit `size` pixels."""
    radius = min(int(truncate * sigma + 0.5), (size - 1) // 2)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of (N, C, H, W) images in [-1, 1] (see the module docstring), compared as intensities in
    [0, 1] (L = 1): the luminance term assumes non-negative intensities, and on signed values an inverted image
    would score high (both terms turn negative)."""
    channels = x.shape[1]
    window = gaussian_window(min(x.shape[-2:])).to(x.device)
    kernel = window.expand(channels, 1, *window.shape)
    x, y = (x.double() + 1) / 2, (y.double() + 1) / 2
    data_range = 1.0

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)  # "valid": only windows wholly inside the image

    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y, cov = blur(x * x) - mu_x ** 2, blur(y * y) - mu_y ** 2, blur(x * y) - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1).float()


def pair_distances(outputs: torch.Tensor, targets: torch.Tensor, output_features: torch.Tensor,
                   target_features: torch.Tensor) -> dict[str, float]:
    """Mean L1 (in [0, 1] units), SSIM and feature distance between each output and its counterpart (row i to i)."""
    outputs = outputs.clamp(-1, 1)
    return {"l1": float((outputs - targets).abs().mean() / 2), "ssim": float(ssim(outputs, targets).mean()),
            "feature_distance": float((output_features - target_features).norm(dim=1).mean())}


def ground_truth_metrics(outputs: torch.Tensor, output_features: torch.Tensor, targets: torch.Tensor,
                         target_features: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    """Every measure for P paired outputs (images and target-space features) against the whole target test
    split (N images and features); truth[i] is output i's counterpart in it. Keys: top1_pixel, top5_pixel,
    median_rank_pixel, the same for _feature, and l1, ssim, feature_distance."""
    truth = truth.to(targets.device)
    metrics = {f"{name}_pixel": v for name, v in retrieval(outputs.clamp(-1, 1), targets, truth).items()}
    metrics |= {f"{name}_feature": v for name, v in retrieval(output_features, target_features, truth).items()}
    return metrics | pair_distances(outputs, targets[truth], output_features, target_features[truth])


def mean_baseline(targets: torch.Tensor, mean_features: torch.Tensor, target_features: torch.Tensor,
                  truth: torch.Tensor) -> dict[str, float]:
    """The mean target image as every output (distances), and chance (retrieval); `mean_features` is the
    feature vector of that mean image, (1, D)."""
    truth = truth.to(targets.device)
    mean = targets.mean(0, keepdim=True).expand(len(truth), *targets.shape[1:])
    metrics = {f"{name}_{space}": v for name, v in chance_retrieval(len(targets)).items()
               for space in ("pixel", "feature")}
    return metrics | pair_distances(mean, targets[truth], mean_features.expand(len(truth), -1),
                                    target_features[truth])
