"""The contract between a model and everything else (the Trainer, evaluation, the API, export, serve).

A model is constructed as `Model(cfg, image_size, training=True, pretrained=True)` and declares:

    phases()                  its optimisers, in the order they run each step (Phase: name, parameters, optimiser
                              and its settings, update interval, start, weight clipping); the Trainer builds,
                              checks and steps them
    losses(phase, batch)      {term: (weight, value)}: what that phase minimises on this Batch; {} skips it
    translate(x, to, style)   images of domain `to` (style: a style code, for multimodal models)

and, where it has them, `encode`/`decode` (a shared embedding), `reconstruct`, `classify` (A's classes, on either
domain: a domain-adaptation readout), `sample_style` (random style codes: MUNIT, DRIT, StarGAN v2), `style_of` (the
style of a reference image), `setup(batch)` (parameters whose shapes are known only from data: CUT's projection
heads) and `stats` (diagnostics logged beside the losses).

`training=False` builds only what translation needs (no discriminators, image pools, teachers, classifier
heads but the one `classify` reads), for inference; a checkpoint's extra tensors are then ignored.
`pretrained=False` builds frozen pretrained parts as architecture only, since a checkpoint holds their weights.

Methods of the field and how they fit: shared latent (XGAN, UNIT, CoGAN): encode/decode; content + style
(MUNIT, DRIT++, StarGAN v2): `style_dim` > 0, translate(x, to, style), sample_style; one direction (DTN):
`directions = ("b",)`; a critic updated more often than the generator (WGAN-GP's n_critic): the generator's
Phase(every=n); a WGAN critic (Arjovsky et al.): Phase(optimizer="rmsprop", clip=c); a phase that joins
part-way (OST's one-shot phase after pretraining): Phase(start=fraction of the run); labels of domain A (a task
tower, AC-GAN): `label_classes_a`, given as Batch.labels_a; generation from noise (DCGAN): `latent_dim`,
`generated_domain`, `generate(z)`, `sample_latent`, with a chosen class (AC-GAN, InfoGAN): `latent_classes`;
paired training (pix2pix): `paired = True`, and each Batch's a[i] and b[i] are counterparts (the same draw and
augmentation from a paired task's aligned splits).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

# name -> (weight, value); the optimiser of a phase minimises the sum of weight * value.
Losses = dict[str, tuple[float, torch.Tensor]]


@dataclass
class Phase:
    """One optimiser: the parameters it updates and how. `critic` phases (discriminators) use
    train.discriminator_lr and are left alone by anything that perturbs the generator's objective (the GAN bound);
    `lr` and `betas` replace the train.* values for this phase only (e.g. StarGAN v2's slow mapping network);
    the phase runs at the steps divisible by `every` (a generator at every n-th step: WGAN's n_critic), from the
    step `start` x train.steps on (a phase that joins later: OST's one-shot phase after its auto-encoder's).
    `optimizer` is "adam" or "rmsprop" (PyTorch's defaults but the lr: the WGAN paper's choice, since momentum
    destabilised its critic); `betas` apply to Adam only. `clip` > 0 clamps every parameter of the phase to
    [-clip, clip] after each of its updates (WGAN's weight clipping); 0 leaves them alone. `max_grad_norm` > 0
    rescales the phase's gradient to at most that L2 norm before each update (DRIT's content critic); 0: untouched.
    `weight_decay` is Adam's (or RMSprop's) L2 term on every parameter of the phase (StarGAN v2's 1e-4). `lr_groups`
    are more parameters the phase updates, each list at its own learning rate, which the schedule scales alike
    (StarGAN v2's mapping network at 1e-6 in its generator's phase at 1e-4)."""

    name: str
    parameters: list[nn.Parameter]
    critic: bool = False
    lr: float | None = None
    betas: tuple[float, float] | None = None
    every: int = 1
    optimizer: str = "adam"
    clip: float = 0.0
    start: float = 0.0
    max_grad_norm: float = 0.0
    weight_decay: float = 0.0
    lr_groups: tuple[tuple[list[nn.Parameter], float], ...] = ()

    def all_parameters(self) -> list[nn.Parameter]:
        """`parameters` and those of the lr_groups."""
        return [*self.parameters, *(p for params, _ in self.lr_groups for p in params)]

    def param_groups(self) -> list[dict]:
        """torch.optim's parameter groups: `parameters` at the optimiser's lr, each lr group at its own."""
        return [{"params": self.parameters}, *({"params": params, "lr": lr} for params, lr in self.lr_groups)]


OPTIMIZERS = ("adam", "rmsprop")


@dataclass
class Batch:
    """One step's training images in model range [-1, 1]: `a` and `b` from the two domains, unpaired (a[i] and b[i]
    counterparts only for a model with `paired`, on a paired task);
    `labels_a`, class indices of `a`, only for models with label_classes_a (B's labels never reach a model)."""

    a: torch.Tensor
    b: torch.Tensor
    labels_a: torch.Tensor | None = None


class TranslationModel(nn.Module):
    config_class: type = object
    directions: tuple[str, ...] = ("a", "b")  # the domains this model can translate into
    label_classes_a: int = 0  # > 0: each Batch carries domain A's class labels, in [0, label_classes_a)
    style_dim: int = 0  # > 0: translations take a style code of this size (multimodal models)
    exportable: bool = True  # False: translate() runs an optimisation (CoGAN's inversion), which no exporter traces
    paired: bool = False  # True: trains on pairs, batch.a[i] and batch.b[i] counterparts (a task with Task.paired)
    latent_dim: int = 0  # > 0: generates images of `generated_domain` from noise (DCGAN); directions is then ()
    generated_domain: str = ""
    # > 0: a generator's codes carry a class among this many, chosen by sample_latent(classes=...): AC-GAN's
    # (domain A's labels, so reads_labels_a) or InfoGAN's categorical code (learnt without labels)
    latent_classes: int = 0

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def losses(self, phase: str, batch: Batch) -> Losses:
        raise NotImplementedError

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        """Images of domain `to` in [-1, 1] from images of the other domain; `style` (n x style_dim) for
        multimodal models, whose default is their own (e.g. a random code)."""
        raise NotImplementedError

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images of `generated_domain` in [-1, 1] from latent codes z (n x latent_dim): models with latent_dim > 0."""
        raise NotImplementedError(f"{type(self).__name__} does not generate from noise")

    def sample_latent(self, count: int, generator: torch.Generator | None = None,
                      classes: torch.Tensor | None = None) -> torch.Tensor:
        """Latent codes z ~ N(0, I), (count, latent_dim) on the CPU, drawn from `generator` (torch's global one if
        None). `classes` (count,) sets the class part of a model with latent_classes (drawn uniformly if None)."""
        if classes is not None:
            raise ValueError(f"{type(self).__name__} generates without a class")
        return torch.randn(count, self.latent_dim, generator=generator)

    def latent_labels(self, count: int, label: int | None = None) -> torch.Tensor | None:
        """The classes of `count` generated images, for sample_latent(classes=...): all `label`, or each class in
        turn (as many of each); None for a generator without classes, which refuses a label."""
        if not self.latent_classes:
            if label is not None:
                raise ValueError(f"{type(self).__name__} generates without classes: no class can be chosen")
            return None
        if label is not None and not 0 <= label < self.latent_classes:
            raise ValueError(f"class {label} is outside the model's {self.latent_classes} "
                             f"(0..{self.latent_classes - 1})")
        return torch.full((count,), label) if label is not None else torch.arange(count) % self.latent_classes

    def setup(self, batch: Batch) -> None:
        """Build parameters that depend on the data, before the optimisers are made (and before a resume loads
        them). Called once, with the first batch."""

    def sample_style(self, count: int, domain: str, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random style codes of `domain` (models with style_dim > 0), (count, style_dim) on the CPU, drawn from
        `generator` (torch's global one if None)."""
        raise NotImplementedError(f"{type(self).__name__} has no style codes")

    def style_of(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        """The style codes of images of `domain`, (N, style_dim): reference-guided translation (MUNIT, DRIT)."""
        raise NotImplementedError(f"{type(self).__name__} cannot read a style from an image")

    @property
    def reads_labels_a(self) -> bool:
        """Whether training uses class labels of domain A: its batches carry them (a task tower, AC-GAN), or a
        frozen part was trained on labelled source images (teachers.LABEL_TRAINED: DTN's f, XGAN's digits
        teacher). Benchmarks say it beside each figure; an unlabelled user cannot train such a model as it is."""
        return self.label_classes_a > 0

    @property
    def has_reference_style(self) -> bool:
        """Whether the model reads styles from images: it overrides `style_of`."""
        return type(self).style_of is not TranslationModel.style_of

    @property
    def has_embedding(self) -> bool:
        """Whether the model has a shared embedding: it overrides `encode`."""
        return type(self).encode is not TranslationModel.encode

    def encode(self, x: torch.Tensor, domain: str) -> torch.Tensor | None:
        """The shared embedding of images of `domain`, for models that have one."""
        return None

    def decode(self, z: torch.Tensor, domain: str) -> torch.Tensor:
        """Images of `domain` from shared embeddings (models with `encode`)."""
        raise NotImplementedError

    def classify(self, x: torch.Tensor, domain: str) -> torch.Tensor | None:
        """Logits over domain A's label_classes_a classes for images of either domain, for models that learn a
        classifier from A's labels through parts the domains share (XGAN's task tower, CoGAN's adaptation head):
        on B's images, the domain-adaptation readout. None: the model has none."""
        return None

    def reconstruct(self, x: torch.Tensor, domain: str) -> torch.Tensor | None:
        """The model's own auto-encoding of x, if it has one."""
        return None

    def stats(self) -> dict[str, float]:
        """Diagnostics of the last step (e.g. discriminator accuracy), logged beside the losses."""
        return {}


def check_phases(phases: list[Phase]) -> None:
    """A model's declared phases must be usable as they stand: named once, non-empty, no parameter in two, a known
    optimiser (Adam's betas only with Adam), a non-negative clip, max_grad_norm and weight decay, lr groups with
    parameters and a positive rate, a start within the run."""
    if not phases:
        raise ValueError("a model declares at least one phase")
    names = [p.name for p in phases]
    if len(set(names)) != len(names):
        raise ValueError(f"phase names must be unique: {names}")
    owner: dict[int, str] = {}
    for phase in phases:
        if not phase.parameters:
            raise ValueError(f"phase '{phase.name}' has no parameters")
        if phase.every < 1:
            raise ValueError(f"phase '{phase.name}': every must be >= 1, not {phase.every}")
        if phase.optimizer not in OPTIMIZERS:
            raise ValueError(f"phase '{phase.name}': optimizer must be one of {OPTIMIZERS}, not {phase.optimizer!r}")
        if phase.betas is not None and phase.optimizer != "adam":
            raise ValueError(f"phase '{phase.name}': betas are Adam's, and its optimizer is {phase.optimizer!r}")
        if not 0 <= phase.start < 1:  # also refuses NaN
            raise ValueError(f"phase '{phase.name}': start must be a fraction of the run in [0, 1), not {phase.start}")
        for key in ("clip", "max_grad_norm", "weight_decay"):
            value = getattr(phase, key)
            if not (value >= 0 and math.isfinite(value)):  # also refuses NaN
                raise ValueError(f"phase '{phase.name}': {key} must be a finite number >= 0 (0: off), not {value}")
        for params, lr in phase.lr_groups:
            if not params or not (lr > 0 and math.isfinite(lr)):
                raise ValueError(f"phase '{phase.name}': each lr group needs parameters and a learning rate > 0, "
                                 f"not {len(params)} parameter(s) at {lr}")
        for p in phase.all_parameters():
            if id(p) in owner:
                raise ValueError(f"a parameter is in both phase '{owner[id(p)]}' and phase '{phase.name}'")
            owner[id(p)] = phase.name


def other(domain: str) -> str:
    if domain not in ("a", "b"):
        raise ValueError(f"domain must be 'a' or 'b', not {domain!r}")
    return "b" if domain == "a" else "a"
