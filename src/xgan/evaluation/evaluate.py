"""Score a translation model on fixed test subsets: the same numbers in `xgan eval` and during training."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from xgan.data import ImageSet, Task
from xgan.data.task import to_model_range
from xgan.evaluation.attributes import shared_attribute_labels
from xgan.evaluation.collapse import collapse_from_outputs
from xgan.evaluation.diversity import diversity
from xgan.evaluation.features import FeatureSpace, domain_classifier_space
from xgan.evaluation.ground_truth import counterparts, ground_truth_metrics, mean_baseline
from xgan.evaluation.judges import strong_judge
from xgan.evaluation.lpips import LPIPS
from xgan.evaluation.metrics import accuracy, batched, class_entropy, fid, kid, matched_accuracy, semantic_distances
from xgan.models.base import TranslationModel, other
from xgan.models.classifier import cached_classifier, predict

GENERATION_SEED = 0  # the latent codes a generator is scored on: the same for every checkpoint
DOMAIN_NAMES = {"digits": {"a": "printed", "b": "mnist"}, "svhn2mnist": {"a": "svhn", "b": "mnist"},
                "edges2digits": {"a": "mnist-edges", "b": "mnist"}}


@dataclass
class Evaluation:
    metrics: dict[str, float]
    semantic_distances: dict[str, torch.Tensor] = field(default_factory=dict)  # per test sample, by source domain
    translations: dict[str, torch.Tensor] = field(default_factory=dict)  # by source domain


class Evaluator:
    """Class preservation (where both domains have labels; also under the strong judges of judges.py where the
    domain has one), KID/FID in a named offline feature space against the real target test images, the semantic
    consistency distance (for models with a shared embedding), the diversity of outputs under random styles
    (multimodal models), the accuracy of a model's own classifier of A's classes on each labelled domain
    (`classify`: on B, the domain-adaptation readout), ground-truth retrieval and distances beside their
    baselines (where both test splits carry ids), and the collapse measures, on `count` test images per domain."""

    def __init__(self, task: Task, task_name: str, count: int | None = 1000, features: FeatureSpace | None = None,
                 device: torch.device | str = "cpu", lpips: LPIPS | None = None) -> None:
        self.device = torch.device(device)
        self.lpips = lpips.to(self.device) if lpips is not None else None
        names = DOMAIN_NAMES.get(task_name, {"a": f"{task_name}-a", "b": f"{task_name}-b"})
        tests = {"a": task.test_a.spread(count), "b": task.test_b.spread(count)}
        trains = {"a": task.reference_a, "b": task.train_b}  # the judges every model of the task is scored by
        self.images = {d: to_model_range(s.images).to(self.device) for d, s in tests.items()}
        self.labels = {d: s.labels for d, s in tests.items()}
        self.judges, self.spaces, self.info = {}, {}, {"feature_space": {}, "classifier": {}}
        self.strong_judges = {}  # judges.py: trained offline on far more digits, read beside the task's own
        labelled = all(s.labels is not None for s in (*tests.values(), *trains.values()))
        for domain in ("a", "b"):
            if labelled:
                judge, identifier = cached_classifier(trains[domain], names[domain])
                self.judges[domain] = judge.to(self.device)
                self.info["classifier"][domain] = identifier
                strong = strong_judge(names[domain])
                if strong is not None:
                    self.strong_judges[domain] = strong[0].to(self.device)
                    self.info["classifier"][f"{domain}/strong"] = strong[1]
            if features is not None:
                self.spaces[domain] = features
            elif labelled:
                self.spaces[domain] = FeatureSpace(f"{identifier}/penultimate", self.judges[domain].features)
            else:
                self.spaces[domain] = domain_classifier_space(task, task_name)
            self.spaces[domain].extractor.to(self.device)
            self.info["feature_space"][domain] = self.spaces[domain].name
        # The real reference is the target's test split: like the translated inputs, unseen by the judges.
        self.real_features = {d: self.spaces[d](self.images[d]) for d in ("a", "b")}
        self.ceilings = {d: accuracy(self.judges[d], self.images[d], self.labels[d]) for d in self.judges}
        self.strong_ceilings = {d: accuracy(j, self.images[d], self.labels[d]) for d, j in self.strong_judges.items()}
        self.pairs, self.baselines = self.ground_truth_pairs(tests)
        self.attribute_judges, self.attribute_labels = {}, {}  # by (attribute, domain): judge, test labels
        train_labels, test_labels, self.info["attribute_mapping"] = shared_attribute_labels(trains, tests)
        for attribute in train_labels.get("a", {}):
            for domain in ("a", "b"):
                labels = train_labels[domain][attribute]
                known = labels >= 0
                if len(labels[known].unique()) < 2:
                    break  # a domain showing one value of it cannot teach a classifier
                judge, identifier = cached_classifier(ImageSet(trains[domain].images[known], labels[known]),
                                                      f"{names[domain]}-{attribute}")
                self.attribute_judges[attribute, domain] = judge.to(self.device)
                self.attribute_labels[attribute, domain] = test_labels[domain][attribute]
                self.info["classifier"][f"{domain}/{attribute}"] = identifier

    @torch.no_grad()
    def __call__(self, model: TranslationModel) -> Evaluation:
        was_training = model.training
        model.eval()
        try:
            return self._evaluate(model)
        finally:
            model.train(was_training)

    def ground_truth_pairs(self, tests: dict[str, ImageSet]) -> tuple[dict, dict]:
        """By direction: (source, target) indices of the true pairs among the test images, and the figures of the
        two baselines, which need no model and so are measured once here."""
        pairs, baselines = {}, {}
        if any(s.ids is None for s in tests.values()):
            return pairs, baselines
        for source in ("a", "b"):
            target = other(source)
            direction = f"{source}{target}"
            i, j = counterparts(tests[source].ids, tests[target].ids)
            if not len(i):
                continue
            pairs[direction] = i, j
            inputs, gallery = self.images[source][i], self.images[target]
            space = self.spaces[target]
            baselines[direction] = {
                "identity": ground_truth_metrics(inputs, space(inputs), gallery, self.real_features[target], j),
                "mean": mean_baseline(gallery, space(gallery.mean(0, keepdim=True)), self.real_features[target], j)}
        if not pairs:
            return pairs, baselines
        size = "x".join(map(str, self.images["a"].shape[-2:]))
        self.info["ground_truth"] = {"pairs": {d: len(p[0]) for d, p in pairs.items()},
                                     "gallery": {d: len(x) for d, x in self.images.items()},
                                     "pixel_space": f"L2 over RGB pixels in [-1, 1] at {size}",
                                     "feature_space": {d: self.spaces[d].name for d in ("a", "b")}}
        return pairs, baselines

    def class_reading(self, model: TranslationModel, domain: str, asked: torch.Tensor,
                      generated: torch.Tensor) -> dict[str, float]:
        """How the judges read images generated per class: the class asked for (AC-GAN, whose classes are A's
        labels: class_accuracy), or up to a permutation (InfoGAN's code learnt without labels: code_accuracy)."""
        m = {}
        for suffix, judges in (("", self.judges), ("_strong", self.strong_judges)):
            if domain not in judges:
                continue
            read = predict(judges[domain], generated).cpu()
            if model.reads_labels_a:
                m[f"class_accuracy{suffix}_{domain}"] = float((read == asked).float().mean())
            else:
                m[f"code_accuracy{suffix}_{domain}"] = matched_accuracy(asked, read)
        return m

    def ground_truth(self, direction: str, translated: torch.Tensor, features: torch.Tensor) -> dict[str, float]:
        """gt_<measure>_<direction> of the model, _identity_ and _mean_ (_chance_ for retrieval) beside it."""
        i, j = self.pairs[direction]
        target = direction[1]
        metrics = {f"gt_{name}_{direction}": value for name, value in ground_truth_metrics(
            translated[i], features[i], self.images[target], self.real_features[target], j).items()}
        for baseline, figures in self.baselines[direction].items():
            for name, value in figures.items():
                label = "chance" if baseline == "mean" and name.startswith(("top", "median")) else baseline
                metrics[f"gt_{name}_{label}_{direction}"] = value
        return metrics

    def attribute_accuracy(self, attribute: str, source: str, judge: str, images: torch.Tensor) -> float:
        """The `judge` domain's classifier of `attribute` on `images`, against the labels of `source`'s test images
        they come from (those with a known value)."""
        labels = self.attribute_labels[attribute, source]
        known = (labels >= 0).to(images.device)
        return accuracy(self.attribute_judges[attribute, judge], images[known], labels[known.cpu()])

    def _evaluate(self, model: TranslationModel) -> Evaluation:
        result = Evaluation(metrics={})
        m = result.metrics
        for domain, ceiling in self.ceilings.items():
            m[f"classifier_ceiling_{domain}"] = ceiling
        for domain, ceiling in self.strong_ceilings.items():
            m[f"classifier_ceiling_strong_{domain}"] = ceiling
        for attribute, domain in self.attribute_judges:
            m[f"attribute_ceiling_{attribute}_{domain}"] = self.attribute_accuracy(attribute, domain, domain,
                                                                                   self.images[domain])
        for source in ("a", "b"):
            target = other(source)
            direction = f"{source}{target}"
            if target not in model.directions:
                continue
            translated = batched(lambda x: model.translate(x, to=target), self.images[source])
            result.translations[source] = translated
            if target in self.judges:
                m[f"class_preservation_{direction}"] = accuracy(self.judges[target], translated, self.labels[source])
            if target in self.strong_judges:
                m[f"class_preservation_strong_{direction}"] = accuracy(self.strong_judges[target], translated,
                                                                       self.labels[source])
            for attribute, domain in self.attribute_judges:
                if domain == target and (attribute, source) in self.attribute_labels:
                    m[f"attribute_preservation_{attribute}_{direction}"] = self.attribute_accuracy(
                        attribute, source, target, translated)
            features = self.spaces[target](translated)
            m[f"kid_{direction}"] = kid(features, self.real_features[target])
            m[f"fid_{direction}"] = fid(features, self.real_features[target])
            if direction in self.pairs:
                m.update(self.ground_truth(direction, translated, features))
            if model.style_dim:  # several outputs per input: how much they differ, beside the real images' spread
                spread = diversity(model, self.images[source], target, self.images[target],
                                   self.real_features[target], self.spaces[target], lpips=self.lpips)
                m.update({f"diversity_{name}_{direction}": value for name, value in spread.items()})
            distances = semantic_distances(model, self.images[source], source)
            if distances is not None:
                result.semantic_distances[source] = distances.cpu()
                m[f"semantic_distance_{source}"] = float(distances.mean())
        if model.latent_dim:  # a generator from noise: its images against the real test split of its domain
            domain = model.generated_domain
            count, generator = len(self.images[domain]), torch.Generator().manual_seed(GENERATION_SEED)
            asked = model.latent_labels(count)  # as many of each class; None: a generator without classes
            z = model.sample_latent(count, generator, classes=asked)
            generated = batched(model.generate, z.to(self.device))
            features = self.spaces[domain](generated)
            m[f"kid_{domain}"] = kid(features, self.real_features[domain])
            m[f"fid_{domain}"] = fid(features, self.real_features[domain])
            if domain in self.judges:  # how evenly the judge reads the classes (1: uniform; a collapsed one: ~0)
                m[f"class_entropy_{domain}"] = class_entropy(self.judges[domain], generated)
            if asked is not None:
                m.update(self.class_reading(model, domain, asked, generated))
        if len(result.semantic_distances) == 2:
            m["semantic_distance"] = (m["semantic_distance_a"] + m["semantic_distance_b"]) / 2
        for name in ("kid", "fid"):  # one number over the directions translated: model-selection criteria
            values = [m[f"{name}_{d}"] for d in ("ab", "ba", model.generated_domain) if f"{name}_{d}" in m]
            m[name] = sum(values) / len(values)
        reconstructions = {d: batched(lambda x: model.reconstruct(x, d), x) for d, x in self.images.items()
                           if model.reconstruct(x[:1], d) is not None}
        collapse = collapse_from_outputs(self.images, result.translations, reconstructions)
        m.update({f"collapse_{name}": value for name, value in collapse.items()})
        for domain, x in self.images.items():  # a model's own classifier of A's classes; on B: domain adaptation
            if self.labels[domain] is not None and model.classify(x[:1], domain) is not None:
                guesses = batched(lambda y: model.classify(y, domain), x).argmax(1).cpu()
                m[f"adaptation_accuracy_{domain}"] = float((guesses == self.labels[domain]).float().mean())
        return result
