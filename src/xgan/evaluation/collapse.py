"""Collapse: whether a model's outputs still depend on its input, from two fixed batches and no labels.

    spread(X)        = mean over the C x H x W pixels of the standard deviation over the batch (population std)
    spread ratio     = spread(outputs) / spread(real images of the outputs' domain):
                         spread_ab     = spread(T_ab(a)) / spread(b)   (a translation is an image of b's domain,
                         spread_ba     = spread(T_ba(b)) / spread(a)    so b's own variety is its natural scale)
                         spread_rec_a  = spread(rec_a(a)) / spread(a)  (for models that reconstruct)
                       0 for an output that ignores its input, about 1 for outputs as varied as real images
    distinct         = #{distinct nearest neighbours of the outputs among the real target batch, by L2 in
                       pixels} / #outputs: 1 / n when every output lands on the same real image; it depends on
                       the batch size and the data (near-duplicate targets share neighbours), so it is reported
                       but does not decide

A model is collapsed when some spread ratio falls below SPREAD_THRESHOLD. Models without an own reconstruction
(`reconstruct` returns None: CycleGAN, DTN) are measured on their translations only.
"""

from __future__ import annotations

import math

import torch

from xgan.models.base import TranslationModel, other

# Chosen by measuring on 32 fixed test images per domain (the smallest spread ratio of each model): a constant
# decoder 0; untrained XGANs on digits (16-64 px, width 0.125-1, two seeds each) 0.14-0.45; the digits preset
# after 50 / 100 / 150 steps 0.11 / 0.27 / 0.34 (all ratios up to 0.79); an exact auto-encoder 1. The digits
# preset with its adaptation weights at 1 (dann, semantic, gan), which its comment records as decoding every
# input to one image, measured 0.0008-0.008 at steps 50, 100, 150. 0.05 sits between that and anything that
# reads its input.
SPREAD_THRESHOLD = 0.05
BATCH = 32  # test images per domain for the Trainer's check: the sample grid's 8 give a noisy spread


class CollapseError(RuntimeError):
    """Raised by training with train.on_collapse=stop when the outputs stop depending on the inputs."""


def spread(images: torch.Tensor) -> float:
    return float(images.float().flatten(1).std(0, unbiased=False).mean())


def spread_ratio(outputs: torch.Tensor, reals: torch.Tensor) -> float:
    """NaN when the real images do not vary (one image, or copies): there is no scale to compare with."""
    scale = spread(reals)
    return spread(outputs) / scale if scale > 1e-8 else math.nan


def distinct_fraction(outputs: torch.Tensor, reals: torch.Tensor) -> float:
    nearest = torch.cdist(outputs.flatten(1).float(), reals.flatten(1).float()).argmin(1)
    return len(nearest.unique()) / len(outputs)


def collapse_from_outputs(images: dict[str, torch.Tensor], translations: dict[str, torch.Tensor],
                          reconstructions: dict[str, torch.Tensor]) -> dict[str, float]:
    """The measures from outputs already computed: `translations[s]` is the translation of images[s] into the
    other domain, `reconstructions[s]` the auto-encoding of images[s] (either may lack a domain)."""
    measures = {}
    for source, translated in translations.items():
        target = other(source)
        measures[f"spread_{source}{target}"] = spread_ratio(translated, images[target])
        measures[f"distinct_{source}{target}"] = distinct_fraction(translated, images[target])
    for domain, reconstructed in reconstructions.items():
        measures[f"spread_rec_{domain}"] = spread_ratio(reconstructed, images[domain])
    return measures


@torch.no_grad()
def collapse_measures(model: TranslationModel, a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """spread_ab, distinct_ab, spread_ba, distinct_ba, spread_rec_a, spread_rec_b (those the model has), on the
    fixed batches a and b, in inference mode (batch-norm statistics untouched)."""
    images = {"a": a, "b": b}
    was_training = model.training
    model.eval()
    try:
        translations = {s: model.translate(x, to=other(s)) for s, x in images.items() if other(s) in model.directions}
        reconstructions = {s: model.reconstruct(x, s) for s, x in images.items()}
    finally:
        model.train(was_training)
    return collapse_from_outputs(images, translations, {s: r for s, r in reconstructions.items() if r is not None})


def collapsed(measures: dict[str, float], threshold: float = SPREAD_THRESHOLD) -> list[str]:
    """The spread ratios below `threshold`; empty when the outputs still depend on the inputs (NaN: unknown,
    not collapsed)."""
    return [name for name, value in measures.items() if name.startswith("spread") and value < threshold]
