"""The Trainer runs whatever phases a model declares, as declared: Adam settings, update intervals, parameters
built from data, and refuses declarations it cannot run."""

from dataclasses import dataclass

import pytest
import torch
from conftest import TINY_RUN, random_task
from torch import nn

from xgan.config import load_config
from xgan.models import MODELS
from xgan.models.base import Batch, Phase, TranslationModel, check_phases
from xgan.trainer import Trainer


@dataclass
class ToyConfig:
    name: str = "toy"
    every: int = 1  # the generator's update interval
    lazy: bool = False  # a head whose input size is read from the first batch (as CUT's projection heads)
    critic_optimizer: str = "adam"  # the critic phase's optimiser
    clip: float = 0.0  # the critic phase's weight clipping
    start: float = 0.0  # the generator phase's start, a fraction of the run
    max_grad_norm: float = 0.0  # the critic phase's gradient clipping
    slow: bool = False  # a third network in the generator's phase at its own learning rate (an lr group)
    weight_decay: float = 0.0  # the critic phase's


class Toy(TranslationModel):
    config_class = ToyConfig

    def __init__(self, cfg: ToyConfig, image_size: int, training: bool = True, pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        self.g, self.d, self.f = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 1, 1), nn.Conv2d(3, 3, 1)
        self.head: nn.Linear | None = None
        self.calls: list[tuple[int, str]] = []

    def setup(self, batch: Batch) -> None:
        if self.cfg.lazy:
            self.head = nn.Linear(batch.a[0].numel(), 2)

    def phases(self) -> list[Phase]:
        generator = [*self.g.parameters(), *(self.head.parameters() if self.head is not None else [])]
        return [Phase("g", generator, lr=0.01, betas=(0.9, 0.99), every=self.cfg.every,
                      start=self.cfg.start, lr_groups=((list(self.f.parameters()), 1e-4),) if self.cfg.slow else ()),
                Phase("d", list(self.d.parameters()), critic=True, optimizer=self.cfg.critic_optimizer,
                      clip=self.cfg.clip, max_grad_norm=self.cfg.max_grad_norm, weight_decay=self.cfg.weight_decay)]

    def losses(self, phase: str, batch: Batch):
        self.calls.append(phase)
        if phase == "d":
            return {"real": (1.0, self.d(batch.b).pow(2).mean())}
        loss = (self.g(self.f(batch.a) if self.cfg.slow else batch.a) - batch.b).pow(2).mean()
        if self.head is not None:
            loss = loss + self.head(batch.a.flatten(1)).pow(2).mean()
        return {"fit": (1.0, loss)}

    def translate(self, x: torch.Tensor, to: str, style: torch.Tensor | None = None) -> torch.Tensor:
        return self.g(x)


@pytest.fixture
def toy_trainer(monkeypatch, tmp_path):
    monkeypatch.setitem(MODELS, "toy", Toy)

    def make(*overrides: str, run: str = "run") -> Trainer:
        config = load_config(None, ["model.name=toy", *TINY_RUN, "train.discriminator_lr=0.003",
                                    f"run_dir={tmp_path / run}", *overrides])
        return Trainer(config, task=random_task())
    return make


def test_each_phase_gets_its_declared_adam_settings_and_a_critic_the_discriminator_rate(toy_trainer):
    trainer = toy_trainer()
    g, d = (trainer.optimizers[name].param_groups[0] for name in ("g", "d"))
    assert (g["lr"], g["betas"]) == (0.01, (0.9, 0.99))
    assert (d["lr"], d["betas"]) == (0.003, (0.5, 0.999))  # train.discriminator_lr, train.beta1/beta2


def test_a_phase_runs_at_its_interval_and_the_others_every_step(toy_trainer):
    trainer = toy_trainer("train.steps=6", "model.every=3")
    trainer.fit()
    assert trainer.model.calls == ["g", "d", "d", "d", "g", "d", "d", "d"]  # steps 0 and 3 update g


def test_a_phase_that_starts_part_way_runs_from_that_fraction_of_the_run_on(toy_trainer):
    trainer = toy_trainer("train.steps=4", "model.start=0.5")
    trainer.fit()
    assert trainer.model.calls == ["d", "d", "g", "d", "g", "d"]  # g from step 2 = 0.5 x 4 on


def test_parameters_built_from_the_first_batch_are_trained_and_resumed(toy_trainer):
    straight = toy_trainer("train.steps=4", "model.lazy=true", run="straight")
    assert straight.model.head.in_features == 3 * 16 * 16
    before = straight.model.head.weight.detach().clone()
    straight.fit()
    assert not torch.equal(before, straight.model.head.weight)
    first = toy_trainer("train.steps=2", "model.lazy=true", run="resumed")
    first.fit()
    resumed = Trainer(load_config(str(first.run_dir / "config.yaml"), ["train.steps=4"]), resume=first.run_dir,
                      task=random_task())
    resumed.fit()
    assert torch.equal(resumed.model.head.weight, straight.model.head.weight)


def test_phase_declarations_the_trainer_cannot_run_are_refused():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    with pytest.raises(ValueError, match="unique"):
        check_phases([Phase("g", list(a.parameters())), Phase("g", list(b.parameters()))])
    with pytest.raises(ValueError, match="in both phase 'g' and phase 'd'"):
        check_phases([Phase("g", list(a.parameters())), Phase("d", [*a.parameters(), *b.parameters()])])
    with pytest.raises(ValueError, match="no parameters"):
        check_phases([Phase("g", list(a.parameters())), Phase("d", [])])
    with pytest.raises(ValueError, match="every"):
        check_phases([Phase("g", list(a.parameters()), every=0)])
    for start in (-0.1, 1.0, float("nan")):
        with pytest.raises(ValueError, match="start"):
            check_phases([Phase("g", list(a.parameters()), start=start)])
    with pytest.raises(ValueError, match="optimizer"):
        check_phases([Phase("g", list(a.parameters()), optimizer="sgd")])
    with pytest.raises(ValueError, match="betas"):
        check_phases([Phase("g", list(a.parameters()), optimizer="rmsprop", betas=(0.5, 0.9))])
    for clip in (-0.01, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="clip"):
            check_phases([Phase("g", list(a.parameters()), clip=clip)])
        with pytest.raises(ValueError, match="max_grad_norm"):
            check_phases([Phase("g", list(a.parameters()), max_grad_norm=clip)])
    with pytest.raises(ValueError, match="weight_decay"):
        check_phases([Phase("g", list(a.parameters()), weight_decay=-1e-4)])
    for group in ((list(b.parameters()), 0.0), ([], 1e-4), (list(b.parameters()), float("nan"))):
        with pytest.raises(ValueError, match="lr group"):
            check_phases([Phase("g", list(a.parameters()), lr_groups=(group,))])
    with pytest.raises(ValueError, match="in both phase 'g' and phase 'd'"):
        check_phases([Phase("g", list(a.parameters()), lr_groups=((list(b.parameters()), 1e-4),)),
                      Phase("d", list(b.parameters()))])
    check_phases([Phase("g", list(a.parameters())), Phase("d", list(b.parameters()), critic=True)])
    check_phases([Phase("g", list(a.parameters())), Phase("d", list(b.parameters()), optimizer="rmsprop", clip=0.01)])


def test_an_lr_group_trains_at_its_own_rate_which_the_schedule_scales_as_the_phases(toy_trainer):
    """StarGAN v2's mapping network: a network of the generator's phase at 1/100 of its rate, decayed alike."""
    trainer = toy_trainer("model.slow=true", "model.weight_decay=0.01", "train.steps=4", "train.lr_decay_fraction=0.5")
    main, slow = trainer.optimizers["g"].param_groups
    assert (main["lr"], slow["lr"]) == (0.01, 1e-4) and slow["params"] == list(trainer.model.f.parameters())
    assert trainer.optimizers["d"].param_groups[0]["weight_decay"] == 0.01 and main["weight_decay"] == 0
    before = trainer.model.f.weight.detach().clone()
    trainer.step = 3  # in the decay: the factor is (4 - 3) / (2 + 1)
    trainer.train_step(trainer.batch(3))
    assert (main["lr"], slow["lr"]) == pytest.approx((0.01 / 3, 1e-4 / 3))
    # Adam's first step moves each weight by about its lr: the group's, not the phase's
    assert (trainer.model.f.weight.detach() - before).abs().max().item() == pytest.approx(1e-4 / 3, rel=0.05)


def test_an_rmsprop_phase_gets_rmsprop_with_its_rate_and_the_others_keep_adam(toy_trainer):
    trainer = toy_trainer("model.critic_optimizer=rmsprop")
    d, g = trainer.optimizers["d"], trainer.optimizers["g"]
    assert type(d) is torch.optim.RMSprop and d.param_groups[0]["lr"] == 0.003  # train.discriminator_lr
    assert type(g) is torch.optim.Adam and g.param_groups[0]["lr"] == 0.01


def test_a_clipped_phase_stays_in_its_box_and_an_unclipped_one_is_left_alone(toy_trainer):
    trainer = toy_trainer("train.steps=3", "model.critic_optimizer=rmsprop", "model.clip=0.01")
    with torch.no_grad():  # start far outside the box, so only clipping can bring the critic back
        trainer.model.d.weight.fill_(0.5)
        trainer.model.g.weight.fill_(0.5)
    trainer.fit()
    critic = torch.cat([p.detach().flatten() for p in trainer.model.d.parameters()])
    assert critic.abs().max() <= 0.01
    assert trainer.model.g.weight.abs().max() > 0.1  # the generator's phase has no clip


def test_a_phase_with_max_grad_norm_updates_with_its_gradient_rescaled_to_that_norm(toy_trainer):
    def critic_gradient(*overrides: str) -> torch.Tensor:
        trainer = toy_trainer("train.steps=1", "model.critic_optimizer=rmsprop", *overrides, run=str(overrides))
        with torch.no_grad():
            trainer.model.d.weight.fill_(3.0)  # a gradient far above the bound
        trainer.train_step(trainer.batch(0))
        return torch.cat([p.grad.flatten() for p in trainer.model.d.parameters()])

    free, bounded = critic_gradient(), critic_gradient("model.max_grad_norm=0.1")
    assert free.norm() > 1
    assert bounded.norm() == pytest.approx(0.1, rel=1e-4)
    assert torch.allclose(bounded, free * 0.1 / free.norm(), atol=1e-6)  # the direction is kept


def test_an_rmsprop_clipped_phase_resumes_exactly(toy_trainer):
    overrides = ("model.critic_optimizer=rmsprop", "model.clip=0.05")
    straight = toy_trainer("train.steps=4", *overrides, run="straight")
    straight.fit()
    first = toy_trainer("train.steps=2", *overrides, run="resumed")
    first.fit()
    resumed = Trainer(load_config(str(first.run_dir / "config.yaml"), ["train.steps=4"]), resume=first.run_dir,
                      task=random_task())
    resumed.fit()
    assert torch.equal(resumed.model.d.weight, straight.model.d.weight)
    assert resumed.optimizers["d"].state_dict()["state"][0]["square_avg"].abs().sum() > 0


def test_the_trainer_refuses_a_model_that_repeats_a_phase_name(toy_trainer, monkeypatch):
    monkeypatch.setattr(Toy, "phases", lambda self: [Phase("g", list(self.g.parameters())),
                                                     Phase("g", list(self.d.parameters()))])
    with pytest.raises(ValueError, match="unique"):
        toy_trainer()


def test_a_phase_not_due_at_a_logged_step_is_logged_with_its_latest_terms(toy_trainer, monkeypatch):
    trainer = toy_trainer("train.steps=4", "train.log_every=2", "model.every=2")  # g at steps 0, 2; logs after 1, 3
    logged: list[set[str]] = []
    monkeypatch.setattr(trainer, "log_scalars", lambda scalars: logged.append(set(scalars)))
    trainer.fit()
    losses = [names for names in logged if "speed/steps_per_s" in names]  # not the collapse measures
    assert len(losses) == 2 and all({"g/fit", "g/total", "d/real", "d/total"} <= names for names in losses)
