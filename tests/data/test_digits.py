import torch

from xgan.config import load_config
from xgan.data.registry import load_task
from xgan.data.digits import handwritten_digits


def test_shipped_mnist_has_a_fixed_stratified_split():
    train, test = handwritten_digits("train"), handwritten_digits("test")
    assert len(train) + len(test) == 10_000
    assert train.images.shape[1:] == (3, 32, 32) and train.images.dtype == torch.uint8
    assert len(test) == 1996
    for split in (train, test):
        counts = torch.bincount(split.labels, minlength=10)
        assert counts.min() > 0.08 * len(split)  # every class well represented
    # white strokes on black, padded by 2 px: the border is empty, the centre is not
    assert train.images[:, :, :2].max() == 0 and train.images[:, :, 14:18, 14:18].float().mean() > 40
    assert torch.equal(train.images[:, 0], train.images[:, 2])  # grayscale as RGB


def test_digits_task_resizes_both_domains_and_keeps_labels():
    cfg = load_config("digits", ["data.image_size=16", "data.printed_train=20", "data.printed_test=10"]).data
    task = load_task(cfg)
    assert task.train_a.images.shape == (20, 3, 16, 16) and task.test_a.images.shape == (10, 3, 16, 16)
    assert task.train_b.images.shape[1:] == (3, 16, 16)
    assert len(task.train_a.labels) == 20 and len(task.test_b.labels) == len(task.test_b)
    # train and test printed digits are different images
    assert not torch.equal(task.train_a.images[:10], task.test_a.images)
