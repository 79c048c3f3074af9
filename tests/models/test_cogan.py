"""CoGAN: one noise vector through shared first layers, shared last layers of the discriminators, and translation
by inverting the generator of the input's domain."""

import torch

from xgan.models.base import Batch
from xgan.models.cogan import CoGAN, CoGANConfig, CoGANWeights

SIZE = 16


def model(**kwargs) -> CoGAN:
    torch.manual_seed(0)
    return CoGAN(CoGANConfig(width=0.125, **kwargs), SIZE)


def test_the_generators_share_their_first_layers_and_the_discriminators_their_last():
    net = model()
    z = net.noise(3, torch.device("cpu"))
    assert z.shape == (3, 100) and z.min() >= -1 and z.max() <= 1
    net.eval()
    before = net.generate(z, "a"), net.generate(z, "b")
    with torch.no_grad():
        next(net.g_shared.parameters()).add_(0.5)  # the shared FC: both domains' images change
        after = net.generate(z, "a"), net.generate(z, "b")
    assert not torch.allclose(before[0], after[0]) and not torch.allclose(before[1], after[1])
    with torch.no_grad():
        next(net.g_b.parameters()).add_(0.5)  # B's own last layer: A's images stay
    assert torch.equal(net.generate(z, "a"), after[0]) and not torch.equal(net.generate(z, "b"), after[1])
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    assert net.discriminate(x, "a").shape == (2, 1)
    assert {id(p) for p in net.f_shared.parameters()} <= {id(p) for ph in net.phases() for p in ph.parameters}


def test_inverting_a_generated_image_finds_noise_that_redraws_it_and_translation_draws_that_noise_in_b():
    net = model(invert_steps=300, invert_lr=0.05).eval()
    with torch.no_grad():
        z0 = net.noise(4, torch.device("cpu")) * 0.8
        x = net.generate(z0, "a")
        start = (net.generate(torch.zeros_like(z0), "a") - x).abs().mean()
    z = net.invert(x, "a")
    with torch.no_grad():
        assert (net.generate(z, "a") - x).abs().mean() < 0.25 * start
        assert torch.equal(net.translate(x, "b"), net.generate(z, "b"))  # deterministic: from z = 0 each time
    assert all(p.grad is None for p in net.parameters())  # the inversion trains nothing


def test_the_gan_terms_and_the_weight_decay_of_each_phase():
    net = model(weights=CoGANWeights(weight_decay=0.0))
    a, b = torch.rand(4, 3, SIZE, SIZE) * 2 - 1, torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    assert set(net.losses("discriminator", Batch(a, b))) == {"d_a", "d_b"}
    assert set(net.losses("generator", Batch(a, b))) == {"gan"}
    decay = model().losses("generator", Batch(a, b))["weight_decay"]
    expected = sum(p.pow(2).sum() for m in (net.g_shared, net.g_a, net.g_b) for p in m.parameters())
    assert decay[0] == 2.5e-4 and torch.allclose(decay[1], expected)


def test_the_adaptation_head_learns_a_labels_and_reads_b_through_the_shared_layers():
    """The paper's section 5: a softmax on the discriminators' shared last hidden layer, trained on A's labels
    with the discriminators, classifies B's images through B's own first layer."""
    import pytest
    from xgan.evaluation.evaluate import Evaluator
    from conftest import random_task

    net = model(adaptation_classes=10)
    assert net.label_classes_a == 10 and net.reads_labels_a
    a, labels = torch.rand(6, 3, SIZE, SIZE) * 2 - 1, torch.arange(6)
    losses = net.losses("discriminator", Batch(a, torch.rand(6, 3, SIZE, SIZE) * 2 - 1, labels))
    assert losses["classifier"][0] == 1.0
    net.zero_grad(set_to_none=True)
    losses["classifier"][1].backward()
    assert all(p.grad is not None for p in net.head.parameters()) and net.f_b.weight.grad is None
    assert net.f_shared[4].weight.grad is not None  # the shared conv learns A's classes too
    assert {id(p) for p in net.head.parameters()} <= {id(p) for p in net.phases()[0].parameters}
    net.eval()
    x = torch.rand(3, 3, SIZE, SIZE) * 2 - 1
    assert net.classify(x, "b").shape == (3, 10)
    with torch.no_grad():
        net.f_b.weight.add_(0.5)  # B's own layer: B's readout changes, A's does not
    assert not torch.allclose(net.classify(x, "b"), net.classify(x, "a"))
    with pytest.raises(ValueError, match="labels"):
        model(adaptation_classes=10).losses("discriminator", Batch(a, a))
    inference = CoGAN(CoGANConfig(width=0.125, adaptation_classes=10), SIZE, training=False)
    assert inference.classify(x, "b").shape == (3, 10)  # built for inference: the readout needs it
    assert model().classify(x, "b") is None and CoGAN(CoGANConfig(width=0.125), SIZE, training=False).classify(x, "b") is None
    evaluator = Evaluator(random_task(SIZE), "toy", count=16)
    metrics = evaluator(net).metrics
    with torch.no_grad():
        expected = (net.classify(evaluator.images["b"], "b").argmax(1) == evaluator.labels["b"]).float().mean()
    assert metrics["adaptation_accuracy_b"] == pytest.approx(float(expected)) and "adaptation_accuracy_a" in metrics
    assert "adaptation_accuracy_b" not in Evaluator(random_task(SIZE), "toy", count=16)(model()).metrics
