"""DistanceGAN (Benaim & Wolf, NIPS'17, "One-Sided Unsupervised Domain Mapping"): G_AB learnt without G_BA, by
keeping the distances between samples.

    d(x, x') = mean |x - x'| (pixels on [0, 1])                       the official code's distance: L1 per pixel
    L_distance(G_AB) = E_{x_i, x_j ~ A} | (d(x_i, x_j) - mu_A) / sigma_A - (d(G_AB(x_i), G_AB(x_j)) - mu_B) / sigma_B |
    L_self-distance(G_AB) = E_{x ~ A} | (d(L(x), R(x)) - mu_A) / sigma_A
                                      - (d(L(G_AB(x)), R(G_AB(x))) - mu_B) / sigma_B |
        L, R: the left and right halves of an image; mu, sigma: mean and standard deviation of d over the
        pairs (self-distance: over the images' halves) of each domain's training data
    L_GAN_B = -log D_B(G_AB(x)),  L_D_B = -log D_B(x_B) - log(1 - D_B(G_AB(x_A)))
    optional: L_cycle = |G_BA(G_AB(x)) - x|^2 (distance + cycle), and the B -> A direction likewise (both_ways)

The pairs are those within a batch. mu and sigma are estimated as in the official code (sagiebenaim/DistanceGAN,
discogan_arch/distance_gan_model.py): over all pairs of the first `max_items` = 900 training images of each domain,
population standard deviation; here they are gathered from the first training batches (pairs within each batch)
until 900 images of each domain have been seen, in buffers, so they are checkpointed and a resume is exact.
`normalize: false` is the official --unnormalized_distances (mu = 0, sigma = 1).

Everything else is the official default, which is built on DiscoGAN (models/discogan.py): its generators, its
discriminators (BCE + feature matching, 0.1 / 0.9), its schedule, and the total per direction
    (1 - rate) (0.1 L_GAN + 0.9 L_FM) + rate (L_distance [+ L_cycle])
with rate 0.01 for the first 10000 iterations and 0.5 after: after the curriculum the GAN and distance terms weigh
the same (equal weights as in the paper's DiscoGAN-based experiments). Choices where paper and code differ:
  * self-distance halves: the paper's left and right halves (`halves: left_right`); the official code splits the
    height (top and bottom), `halves: top_bottom`;
  * one direction: the paper's one-sided mapping is the default (`both_ways: false`, translating A -> B only, as the
    official --model_arch=distance_A_to_B); the official code's default trains both (`both_ways: true`);
  * with cycle on in one direction G_BA is trained by the cycle term alone (as the official code) and is not offered
    for translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from xgan.models.base import Batch, Losses, TranslationModel, other
from xgan.models.discogan import DiscoGAN
from xgan.models.nets import DiscoGANDiscriminator, encoder_decoder_generator

HALVES = ("left_right", "top_bottom")


@dataclass
class DistanceGANWeights:
    gan: float = 0.1  # as DiscoGAN: (1 - rate) (0.1 GAN + 0.9 feature matching)
    feature_matching: float = 0.9
    distance: float = 1.0  # times rate
    cycle: float = 0.0  # times rate; 1: the official --use_reconst_loss (distance + cycle); 0: off
    weight_decay: float = 1e-5  # official Adam weight_decay; 0: off


@dataclass
class DistanceGANConfig:
    name: str = "distancegan"
    both_ways: bool = False  # false: G_AB only (the paper's one-sided mapping); true: G_AB and G_BA, each with terms
    self_distance: bool = False  # distance between the two halves of each image instead of between pairs of images
    halves: str = "left_right"  # the paper; top_bottom: the official code's split
    normalize: bool = True  # (d - mu) / sigma per domain; false: raw distances (official --unnormalized_distances)
    max_items: int = 900  # images per domain that mu and sigma are estimated from (official --max_items)
    width: float = 1.0  # multiplies every channel count (1.0: DiscoGAN's 64 filters in the first layer)
    norm: str = "batch"
    update_interval: int = 3  # as DiscoGAN: discriminators at steps divisible by it, generators at the others
    gan_curriculum: int = 10000
    starting_rate: float = 0.01
    default_rate: float = 0.5
    weights: DistanceGANWeights = field(default_factory=DistanceGANWeights)

    def __post_init__(self) -> None:
        if self.halves not in HALVES:
            raise ValueError(f"model.halves must be one of {HALVES}, not '{self.halves}'")
        if self.max_items < 2:
            raise ValueError(f"model.max_items must be >= 2 (pairs of images), not {self.max_items}")
        if self.update_interval < 1:
            raise ValueError(f"model.update_interval must be >= 1, not {self.update_interval}")
        for key in ("starting_rate", "default_rate"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"model.{key} must be in [0, 1], not {getattr(self, key)}")


def pairwise_distances(x: torch.Tensor) -> torch.Tensor:
    """d(x_i, x_j) for every pair i < j of the batch, pixels taken on [0, 1]."""
    flat = x.flatten(1).float()
    i, j = torch.triu_indices(len(x), len(x), 1, device=x.device)
    return (torch.cdist(flat[None], flat[None], p=1)[0] / (2 * flat.shape[1]))[i, j]


def self_distances(x: torch.Tensor, halves: str) -> torch.Tensor:
    """d(L(x), R(x)) of each image (top and bottom with halves='top_bottom'), pixels taken on [0, 1]."""
    first, second = x.float().chunk(2, dim=-1 if halves == "left_right" else -2)
    return (first - second).abs().flatten(1).mean(1) / 2


class DistanceGAN(DiscoGAN):
    config_class = DistanceGANConfig

    def __init__(self, cfg: DistanceGANConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        TranslationModel.__init__(self)
        self.cfg = cfg
        self.directions = ("a", "b") if cfg.both_ways else ("b",)
        self.g_ab = encoder_decoder_generator(image_size, cfg.width, cfg.norm)
        # G_BA: a direction of its own, or (one-sided) trained by the cycle term only
        needs_g_ba = cfg.both_ways or (training and cfg.weights.cycle > 0)
        self.g_ba = encoder_decoder_generator(image_size, cfg.width, cfg.norm) if needs_g_ba else None
        if not training:
            return
        self.d_b = DiscoGANDiscriminator(image_size, cfg.width, cfg.norm)
        self.d_a = DiscoGANDiscriminator(image_size, cfg.width, cfg.norm) if cfg.both_ways else None
        self.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
        # per domain (a, b): number of distances, their sum, the sum of their squares; and images seen
        self.register_buffer("distance_sums", torch.zeros(2, 3))
        self.register_buffer("images_seen", torch.zeros(2, dtype=torch.long))
        self._step = 0

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        if to not in self.directions:
            raise ValueError("this DistanceGAN is one-sided: it translates A to B only (model.both_ways=true for both)")
        return self.generator_into(to)(x)

    def adversarial_targets(self) -> tuple[str, ...]:
        return self.directions

    # -- mu and sigma ------------------------------------------------------------------------------------------
    def distances(self, x: torch.Tensor) -> torch.Tensor:
        return self_distances(x, self.cfg.halves) if self.cfg.self_distance else pairwise_distances(x)

    @torch.no_grad()
    def begin_step(self, batch: Batch) -> None:
        """Add this batch's distances to each domain's estimate, until max_items images of the domain are in it."""
        if not self.cfg.normalize:
            return
        for row, x in enumerate((batch.a, batch.b)):
            x = x[:max(0, self.cfg.max_items - int(self.images_seen[row]))]
            if len(x) < (1 if self.cfg.self_distance else 2):
                continue
            d = self.distances(x)
            self.distance_sums[row] += torch.stack([d.new_tensor(float(len(d))), d.sum(), d.pow(2).sum()])
            self.images_seen[row] += len(x)

    def distance_moments(self, domain: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) of the domain's distances; (0, 1) when not normalising."""
        if not self.cfg.normalize:
            return torch.zeros(()), torch.ones(())
        count, total, squares = self.distance_sums[0 if domain == "a" else 1]
        mean = total / count.clamp(min=1)
        return mean, (squares / count.clamp(min=1) - mean ** 2).clamp(min=1e-12).sqrt()

    # -- the losses --------------------------------------------------------------------------------------------
    def distance_loss(self, x: torch.Tensor, translated: torch.Tensor, source: str) -> torch.Tensor:
        """L_distance (or L_self-distance) of the map source -> other(source) on these images and translations."""
        (mu_s, sigma_s), (mu_t, sigma_t) = self.distance_moments(source), self.distance_moments(other(source))
        before = (self.distances(x) - mu_s.to(x.device)) / sigma_s.to(x.device)
        after = (self.distances(translated) - mu_t.to(x.device)) / sigma_t.to(x.device)
        return (before - after).abs().mean()

    def constraint_losses(self, real: dict[str, torch.Tensor], fake: dict[str, torch.Tensor]) -> Losses:
        w, targets = self.cfg.weights, self.adversarial_targets()
        losses = {"self_distance" if self.cfg.self_distance else "distance":
                  (w.distance, sum(self.distance_loss(real[other(t)], fake[t], other(t)) for t in targets))}
        if w.cycle > 0:  # back through the other generator, MSE on [0, 1] as DiscoGAN's reconstruction
            cycle = sum(F.mse_loss(self.generator_into(other(t))(fake[t]), real[other(t)]) / 4 for t in targets)
            losses["cycle"] = (w.cycle, cycle)
        return losses

    def stats(self) -> dict[str, float]:
        if not hasattr(self, "steps_done"):
            return {}
        moments = {f"{name}_{d}": float(value) for d in ("a", "b")
                   for name, value in zip(("mu", "sigma"), self.distance_moments(d))}
        return {"rate": self.rate()} | moments


__all__ = ["DistanceGAN", "DistanceGANConfig", "DistanceGANWeights", "pairwise_distances", "self_distances"]
