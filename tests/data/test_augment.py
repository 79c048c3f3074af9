import pytest
import torch

from conftest import TINY
from xgan.config import ConfigError, load_config
from xgan.data import ImageSet
from xgan.data.augment import crop_and_flip, resized, rotate
from xgan.trainer import StepBatches


def numbered(count: int = 8, size: int = 6) -> torch.Tensor:
    """Every pixel a different value, so a crop's position can be read back from it."""
    return torch.arange(count * 3 * size * size, dtype=torch.int64).view(count, 3, size, size)


def test_each_crop_is_a_window_of_its_own_image_and_flips_mirror_it():
    images = numbered()
    out = crop_and_flip(images, 4, flip=True, generator=torch.Generator().manual_seed(0))
    assert out.shape == (8, 3, 4, 4)
    mirrored = 0
    for image, crop in zip(images, out):
        windows = [image[:, t:t + 4, l:l + 4] for t in range(3) for l in range(3)]
        plain = any(torch.equal(crop, w) for w in windows)
        flipped = any(torch.equal(crop, w.flip(-1)) for w in windows)
        assert plain or flipped
        mirrored += flipped
    assert 0 < mirrored < 8  # both kinds in a batch of 8 (seed 0)


def test_without_flip_no_crop_is_mirrored():
    images = numbered()
    out = crop_and_flip(images, 4, flip=False, generator=torch.Generator().manual_seed(0))
    for image, crop in zip(images, out):
        assert any(torch.equal(crop, image[:, t:t + 4, l:l + 4]) for t in range(3) for l in range(3))


def test_a_crop_larger_than_the_image_is_refused():
    with pytest.raises(ValueError, match="cannot crop 8x8 from 6x6"):
        crop_and_flip(numbered(), 8, False, torch.Generator())


def test_augmented_batches_are_a_function_of_the_step_and_shared_out_between_ranks():
    """A resumed run draws the crops an uninterrupted one would, and two ranks split one augmented global batch."""
    images = ImageSet(torch.randint(0, 256, (40, 3, 10, 10), dtype=torch.uint8))
    one = StepBatches(images, 8, seed=3, crop=8, flip=True)
    again = StepBatches(images, 8, seed=3, crop=8, flip=True)
    assert one.batch(5, torch.device("cpu")).shape == (8, 3, 8, 8)
    assert torch.equal(one.batch(5, torch.device("cpu")), again.batch(5, torch.device("cpu")))
    assert not torch.equal(one.batch(5, torch.device("cpu")), one.batch(6, torch.device("cpu")))
    ranks = [StepBatches(images, 8, 3, r, 2, crop=8, flip=True).batch(5, torch.device("cpu")) for r in range(2)]
    whole = one.batch(5, torch.device("cpu"))
    assert torch.equal(ranks[0], whole[0::2]) and torch.equal(ranks[1], whole[1::2])


def test_the_trainer_crops_from_the_load_size(tiny_config):
    from xgan.trainer import Trainer
    trainer = Trainer(tiny_config("data.load_size=18", "data.flip=true", "train.steps=1"))
    assert trainer.batches_a.images.images.shape[-1] == 18
    a, b = trainer.batch(0).a, trainer.batch(0).b
    assert a.shape[-1] == b.shape[-1] == 16
    assert trainer.fit() is not None


def test_resized_keeps_the_labels():
    images = ImageSet(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.arange(4))
    assert resized(images, 0) is images
    bigger = resized(images, 10)
    assert bigger.images.shape == (4, 3, 10, 10) and torch.equal(bigger.labels, images.labels)


def test_a_load_size_below_the_image_size_is_refused():
    with pytest.raises(ConfigError, match="data.load_size"):
        load_config("digits", [*TINY, "data.load_size=12"])


def test_rotation_turns_each_image_by_its_own_angle_within_the_bound_and_keeps_a_plain_background():
    """A bar through the centre of a white image, turned by up to 30 degrees: the bar moves, stays a bar through the
    centre, and the uncovered corners stay white."""
    image = torch.full((3, 33, 33), 255, dtype=torch.uint8)
    image[:, 16, 4:29] = 0  # a horizontal bar
    images = image.expand(8, 3, 33, 33)
    out = rotate(images, 30.0, torch.Generator().manual_seed(0))
    assert out.dtype == torch.uint8 and out.shape == images.shape
    assert (out[:, :, 0, 0] == 255).all() and (out[:, :, -1, -1] == 255).all()
    assert (out[:, :, 16, 16] < 128).all()  # the centre is on the bar whatever the angle
    assert len({tuple(o[0].flatten().tolist()) for o in out}) == 8  # eight different angles
    for turned in out:  # at most 30 degrees: the bar's ends rise or fall at most 12.5 x tan(30) ~ 7 rows
        rows = (turned[0] < 128).nonzero()[:, 0]
        assert rows.min() >= 16 - 8 and rows.max() <= 16 + 8
    assert torch.equal(rotate(images, 0.0, torch.Generator()), images)


def test_the_trainer_rotates_training_batches_when_asked(tiny_config):
    from xgan.trainer import Trainer
    plain = Trainer(tiny_config("train.steps=1", "run_dir=/nonexistent/plain")).batch(0).a
    turned = Trainer(tiny_config("train.steps=1", "data.rotate=20", "run_dir=/nonexistent/turned")).batch(0).a
    assert turned.shape == plain.shape and not torch.equal(turned, plain)
    with pytest.raises(ConfigError, match="data.rotate"):
        tiny_config("data.rotate=200")
