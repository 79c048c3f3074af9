"""The GAN bound of Benaim, Galanti and Wolf ("Estimating the success of unsupervised image to image
translation", arXiv 1712.07886): a label-free estimate of a translator's error.

For a translator G1 trained with a method's loss L, train a rival G2 of the same class to disagree with it as much
as it can while staying a good solution of the same loss:

    G2 = argmin  L(G2) - lambda * R(G1, G2),      R(G1, G2) = E_x |G1(x) - G2(x)|_1

The error of G1 against the true map y is at most R(G1, G2) + R(G2, y); where the method's loss leaves little room
(every good solution translates alike), R(G1, G2) is small, and a large one says the loss does not pin the
translation down. The bound is R(G1, G2) on the test images, per direction, in pixel units ([0, 1], mean over
pixels and channels).

Our choice, for a bound that costs a fraction of a training run: the rival starts from G1's own weights (and its
discriminators', so it is held to G1's realism at once), nudged by noise of `noise` times each tensor's standard
deviation, then follows `steps` updates of the model's every phase with the disagreement added to each phase that
is not a critic's. The paper trains G2 to convergence; ours measures how far the loss lets the solution
move in that many steps.
"""

from __future__ import annotations

import copy

import torch

from xgan.data import ImageSet
from xgan.data.task import to_model_range
from xgan.evaluation.metrics import batched
from xgan.models.base import Batch, TranslationModel, other
from xgan.optim import clip_parameters, make_optimizer


def disagreement(model: TranslationModel, rival: TranslationModel, x: torch.Tensor, to: str) -> torch.Tensor:
    """R(G1, G2) on x: mean |G1(x) - G2(x)| in pixel units ([0, 1])."""
    return (batched(lambda v: model.translate(v, to), x) - batched(lambda v: rival.translate(v, to), x)).abs().mean() / 2


def gan_bound(model: TranslationModel, train: dict[str, ImageSet], test: dict[str, torch.Tensor], steps: int = 100,
              weight: float = 0.1, lr: float = 2e-4, noise: float = 0.01, batch_size: int = 32,
              seed: int = 0) -> dict[str, float]:
    """gan_bound_<source><target> for each direction the model translates, and gan_bound, their mean; `train`
    holds uint8 training sets by domain, `test` model-range test images by domain. The model itself is left as it
    was, and so are the random generators (a bound computed during training does not change the run)."""
    device = next(model.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        return _gan_bound(model, train, test, steps, weight, lr, noise, batch_size, seed)


def _gan_bound(model: TranslationModel, train: dict[str, ImageSet], test: dict[str, torch.Tensor], steps: int,
               weight: float, lr: float, noise: float, batch_size: int, seed: int) -> dict[str, float]:
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    rival = copy.deepcopy(model).train()
    phases = rival.phases()
    with torch.no_grad():  # the trained parameters only: frozen parts (teachers, DTN's f) stay as they are
        for p in (p for phase in phases for p in phase.all_parameters() if p.numel() > 1):
            p.add_(torch.randn(p.shape, generator=generator).to(device) * noise * p.std())
    # each phase as it trains (RMSprop, clipping, every), at the bound's lr unless the phase sets its own
    optimizers = [(phase, make_optimizer(phase.param_groups(), phase.lr or lr, phase.betas or (0.5, 0.999),
                                         device, phase.optimizer, phase.weight_decay)) for phase in phases]
    sources = [d for d in ("a", "b") if other(d) in model.directions]
    was_training = model.training
    model.eval()
    try:
        for step in range(steps):
            idx = {d: torch.randint(len(train[d]), (batch_size,), generator=generator) for d in ("a", "b")}
            a, b = (to_model_range(train[d].images[idx[d]]).to(device) for d in ("a", "b"))
            labels_a = train["a"].labels[idx["a"]].to(device) if model.label_classes_a else None
            images = {"a": a, "b": b}
            with torch.no_grad():
                targets = {d: model.translate(images[d], other(d)) for d in sources}
            for phase, optimizer in optimizers:
                if step % phase.every:
                    continue
                losses = rival.losses(phase.name, Batch(a, b, labels_a))
                if not losses:
                    continue
                total = sum(w * value for w, value in losses.values())
                if not phase.critic:
                    total = total - weight * sum((rival.translate(images[d], other(d)) - targets[d]).abs().mean() / 2
                                                 for d in sources)
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                optimizer.step()
                if phase.clip:
                    clip_parameters(phase.all_parameters(), phase.clip)
        rival.eval()
        with torch.no_grad():
            bounds = {f"gan_bound_{d}{other(d)}": float(disagreement(model, rival, test[d], other(d))) for d in sources}
        return bounds | {"gan_bound": sum(bounds.values()) / len(bounds)}
    finally:
        model.train(was_training)
