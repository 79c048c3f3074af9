import torch
from torch import nn

from conftest import pattern_set
from xgan.data.task import to_model_range
from xgan.evaluation.gan_bound import gan_bound
from xgan.models.base import Phase, TranslationModel


class OneWay(TranslationModel):
    """A 1x1 convolution from A to B, starting at the colour negation. `pinned`: its loss is the distance to the
    negation, so every good solution translates alike; otherwise the loss says nothing about the translation."""

    directions = ("b",)

    def __init__(self, pinned: bool) -> None:
        super().__init__()
        self.g, self.pinned = nn.Conv2d(3, 3, 1), pinned
        with torch.no_grad():
            self.g.weight.copy_(-torch.eye(3).view(3, 3, 1, 1))
            self.g.bias.zero_()

    def phases(self):
        return [Phase("generator", list(self.g.parameters()))]

    def losses(self, phase, batch):
        a = batch.a
        if self.pinned:
            return {"fit": (10.0, (self.g(a) + a).pow(2).mean())}
        return {"fit": (1.0, 0 * self.g(a).mean())}

    def translate(self, x, to, style=None):
        return self.g(x)


def sets():
    train = {"a": pattern_set(64, 0), "b": pattern_set(64, 1)}
    test = {d: to_model_range(pattern_set(32, seed).images) for d, seed in (("a", 2), ("b", 3))}
    return train, test


def test_a_rival_that_never_moves_agrees_exactly():
    train, test = sets()
    assert gan_bound(OneWay(pinned=False), train, test, steps=0, noise=0.0) == {"gan_bound_ab": 0.0, "gan_bound": 0.0}


def test_the_bound_is_small_where_the_loss_pins_the_translation_and_large_where_it_does_not():
    """The point of the bound: a rival as good by the loss cannot disagree with a translator the loss pins down."""
    train, test = sets()
    pinned = gan_bound(OneWay(pinned=True), train, test, steps=60, weight=0.1, lr=1e-2)["gan_bound_ab"]
    free = gan_bound(OneWay(pinned=False), train, test, steps=60, weight=0.1, lr=1e-2)["gan_bound_ab"]
    assert free > 0.2
    assert pinned < free / 5


def test_the_model_under_test_is_left_as_it_was():
    train, test = sets()
    model = OneWay(pinned=False).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    gan_bound(model, train, test, steps=5, lr=1e-2)
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_an_xgan_gets_a_bound_in_both_directions(tiny_config):
    from xgan.models import build_model
    model = build_model(tiny_config("model.weights.gan=0.1"))
    train, test = sets()
    state = torch.get_rng_state()
    bound = gan_bound(model, train, test, steps=2, batch_size=8)
    assert set(bound) == {"gan_bound_ab", "gan_bound_ba", "gan_bound"}
    assert all(0 < v < 1 for v in bound.values())
    assert bound["gan_bound"] == (bound["gan_bound_ab"] + bound["gan_bound_ba"]) / 2
    assert torch.equal(torch.get_rng_state(), state)  # a bound computed during training leaves the run as it was


def test_training_can_keep_its_best_checkpoint_by_the_bound(tiny_config):
    """train.eval_gan_bound puts the bound beside the other evaluations, so train.best_metric can use it."""
    from conftest import random_task
    from xgan.trainer import Trainer

    trainer = Trainer(tiny_config("model.weights.gan=0.1", "train.steps=2", "train.eval_every=2", "train.eval_count=8",
                                  "train.eval_gan_bound=2", "train.best_metric=gan_bound"), task=random_task())
    trainer.fit()
    assert trainer.best["metric"] == "gan_bound" and 0 < trainer.best["value"] < 1


class Critic(OneWay):
    """OneWay plus a critic phase declared as WGAN's: RMSprop, weights clipped to 0.01, the generator every 2nd step."""

    def __init__(self) -> None:
        super().__init__(pinned=False)
        self.d = nn.Conv2d(3, 1, 1)
        self.generator_calls = 0

    def phases(self):
        return [Phase("critic", list(self.d.parameters()), critic=True, optimizer="rmsprop", clip=0.01),
                Phase("generator", list(self.g.parameters()), every=2)]

    def losses(self, phase, batch):
        if phase == "critic":
            return {"wgan": (1.0, self.d(self.g(batch.a).detach()).mean() - self.d(batch.b).mean())}
        self.generator_calls += 1
        return {"wgan": (1.0, -self.d(self.g(batch.a)).mean())}


def test_the_rival_trains_each_phase_as_the_model_declares_it(monkeypatch):
    """A DualGAN-like rival keeps its critic's RMSprop and clipping and its generator's interval."""
    import copy

    import xgan.evaluation.gan_bound as module
    rivals, deepcopy = [], copy.deepcopy
    monkeypatch.setattr(module.copy, "deepcopy", lambda m: rivals.append(deepcopy(m)) or rivals[-1])
    train, test = sets()
    gan_bound(Critic(), train, test, steps=6, lr=1e-2)
    rival = rivals[0]
    assert rival.generator_calls == 3  # steps 0, 2 and 4
    assert rival.d.weight.abs().max() <= 0.01 + 1e-7 and rival.d.weight.abs().max() > 0.0
