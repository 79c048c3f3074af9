import pytest
import torch
from torch import nn

from conftest import TINY_RUN, dark_and_bright_task
from xgan.config import load_config
from xgan.models.base import Batch
from xgan.models.starganv2 import Discriminator, Generator, StarGANv2, StarGANv2Config, r1_penalty
from xgan.trainer import Trainer

SIZE = 16


def model(**kwargs) -> StarGANv2:
    torch.manual_seed(0)
    return StarGANv2(StarGANv2Config(width=0.125, **kwargs), SIZE)


def test_the_networks_follow_the_official_channel_plan_with_a_16x16_bottleneck():
    g = Generator(256, width=1.0, style_dim=64)
    assert g.from_rgb.out_channels == 64  # 2^14 / 256
    assert [b.conv2.out_channels for b in g.encode] == [128, 256, 512, 512, 512, 512]  # 4 halvings, 2 at 16x16
    h = g.encode(g.from_rgb(torch.zeros(1, 3, 256, 256)))
    assert h.shape[-2:] == (16, 16)
    assert g(torch.zeros(2, 3, 32, 32), torch.zeros(2, 64)).shape == (2, 3, 32, 32)
    d = Discriminator(32, width=0.125, domains=2)
    x, y = torch.rand(3, 3, 32, 32), torch.tensor([0, 1, 1])
    both = d.logits(d.trunk(x))
    assert both.shape == (3, 2) and torch.equal(d(x, y), both[torch.arange(3), y])  # D_y(x): the input's domain's


def test_r1_is_half_the_squared_gradient_norm_on_real_images():
    critic = lambda x: 3 * x.flatten(1).sum(1)  # gradient 3 at every pixel
    penalty, scores = r1_penalty(critic, torch.rand(4, 3, 2, 2))
    assert penalty.item() == pytest.approx(0.5 * 9 * 12) and scores.shape == (4,)


def test_each_domain_has_its_own_mapping_and_encoder_head_and_styles_change_the_output():
    net = model().eval()
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    z = torch.randn(2, 16)
    a, b = net.f(z, torch.tensor([0, 0])), net.f(z, torch.tensor([1, 1]))
    assert a.shape == (2, 64) and not torch.allclose(a, b)
    assert not torch.allclose(net.style_of(x, "a"), net.style_of(x, "b"))
    s1, s2 = net.sample_style(2, "b", torch.Generator().manual_seed(1)), net.sample_style(2, "b")
    assert torch.equal(s1, net.sample_style(2, "b", torch.Generator().manual_seed(1))) and not torch.equal(s1, s2)
    assert torch.equal(net.translate(x, "b"), net.translate(x, "b"))  # default: B's mean style, deterministic
    assert not torch.allclose(net.translate(x, "b", s1), net.translate(x, "b", s2))


def test_phases_the_mapping_network_at_its_own_rate_and_adams_weight_decay():
    d, g = model(mapping_lr=1e-6, weight_decay=1e-4).phases()
    assert (d.name, d.critic, d.weight_decay) == ("discriminator", True, 1e-4)
    net = model()
    _, g = net.phases()
    assert g.weight_decay == 1e-4 and len(g.lr_groups) == 1
    params, lr = g.lr_groups[0]
    assert lr == 1e-6 and params == list(net.f.parameters())
    assert {id(p) for p in g.parameters} == {id(p) for p in [*net.g.parameters(), *net.e.parameters()]}


def grads(module: nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_even_steps_are_latent_guided_and_odd_steps_reference_guided_training_g_alone():
    net = model()
    a, b = torch.rand(4, 3, SIZE, SIZE) * 2 - 1, torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    seen = []
    for step in range(2):
        d = net.losses("discriminator", Batch(a, b))
        assert set(d) == {"d", "r1"} and d["r1"][1].item() > 0
        g = net.losses("generator", Batch(a, b))
        sum(w * v for w, v in g.values()).backward()
        seen.append((grads(net.g), grads(net.f), grads(net.e)))
        net.zero_grad(set_to_none=True)
    assert seen == [(True, True, True), (True, False, False)]
    assert int(net.steps_done) == 2
    v = net._step  # the references are images of the target's domain from the batch
    for ref, target in zip(v["ref1"], v["target"]):
        pool = a if target == 0 else b
        assert any(torch.equal(ref, image) for image in pool)
    assert sorted(v["target"].tolist()) == [0] * 4 + [1] * 4  # the batch's own domains, shuffled


def test_the_diversity_term_is_maximised_with_a_weight_decaying_linearly_to_zero():
    net = model(ds_decay_steps=10)
    assert [net.diversity_weight(s) for s in (0, 5, 10, 20)] == pytest.approx([2.0, 1.0, 0.0, 0.0])
    a, b = torch.rand(2, 3, SIZE, SIZE), torch.rand(2, 3, SIZE, SIZE)
    net.steps_done.fill_(5)
    net.losses("discriminator", Batch(a, b))
    weight, value = net.losses("generator", Batch(a, b))["diversity"]
    assert weight == pytest.approx(-1.0) and value.item() > 0


def test_a_short_run_translates_into_the_domain_asked_for(tmp_path):
    """A: dark images, B: bright ones. After 100 steps (half latent-, half reference-guided) dark inputs asked for
    B come out brighter than those asked for A, with the default style and with a reference's."""
    task = dark_and_bright_task(SIZE)
    config = load_config(None, ["model.name=starganv2", *TINY_RUN, "model.width=0.125", "model.ds_decay_steps=100",
                                "train.steps=100", "train.lr=1e-3", "train.discriminator_lr=1e-3",
                                "train.beta1=0", "train.beta2=0.99", "train.sample_every=100",
                                "train.checkpoint_every=100", "train.log_every=50", f"run_dir={tmp_path / 'run'}"])
    trainer = Trainer(config, task=task)
    trainer.fit()
    net = trainer.model.eval()
    x = task.test_a.images[:16].float() / 127.5 - 1  # mean about -0.8
    reference = task.test_b.images[:16].float() / 127.5 - 1
    with torch.no_grad():
        to_b, to_a = net.translate(x, "b").mean(), net.translate(x, "a").mean()
        assert to_b > 0 and to_a < -0.2 and to_b - to_a > 0.5
        assert net.translate(x, "b", net.style_of(reference, "b")).mean() > 0
