"""The names of xgan eval's metrics and which way each is better: what train.best_metric is checked against when a
config is built, without importing the evaluation code (and its judges and plots) for it."""

from __future__ import annotations

# Which way is better, for choosing the best checkpoint by a metric (matched on the metric name's prefix).
HIGHER_IS_BETTER = {"class_preservation": True, "classifier_ceiling": True, "attribute_preservation": True,
                    "attribute_ceiling": True, "semantic_distance": False, "kid": False, "fid": False,
                    # ground_truth.py: retrieval of the true counterpart and the distance to it
                    "gt_top1": True, "gt_top5": True, "gt_median_rank": False, "gt_l1": False, "gt_ssim": True,
                    "gt_feature_distance": False,
                    # collapse.py: outputs that vary with their inputs
                    "collapse_spread": True, "collapse_distinct": True,
                    # diversity.py: outputs for one input under random styles (higher: more varied)
                    "diversity": True,
                    # a model's own classifier of A's classes (classify): on B, the domain-adaptation readout
                    "adaptation_accuracy": True,
                    # protocols.py: a classifier trained on translations, read on the real target
                    "translation_trained_accuracy": True,
                    # a generator's classes, as the target judge reads them (1: uniform over the classes)
                    "class_entropy": True,
                    # a generator's images per class or code, read back by the judge (evaluation/metrics.py)
                    "class_accuracy": True, "code_accuracy": True,
                    "gan_bound": False}  # gan_bound.py: how far a rival as good by the loss translates otherwise


def higher_is_better(metric: str) -> bool:
    for prefix, higher in HIGHER_IS_BETTER.items():
        if metric.startswith(prefix):
            return higher
    raise ValueError(f"unknown metric '{metric}' (known prefixes: {', '.join(HIGHER_IS_BETTER)})")
