import numpy as np

from xgan.data.digits import printed_digits
from xgan.data.printed_digits import font_files, render_digit, render_printed_digits


def test_rendering_is_deterministic_given_the_seed():
    a_images, a_labels = render_printed_digits(20, seed=3)
    b_images, b_labels = render_printed_digits(20, seed=3)
    c_images, _ = render_printed_digits(20, seed=4)
    assert np.array_equal(a_images, b_images) and np.array_equal(a_labels, b_labels)
    assert not np.array_equal(a_images, c_images)


def test_drawing_in_worker_processes_gives_the_images_drawn_here():
    """The random choices are made in one process, in order; the drawing may be shared out (the Quickstart renders
    22,000 digits on every core), and the task must not change with the number of cores."""
    here, labels = render_printed_digits(300, seed=5, workers=0)
    shared, shared_labels = render_printed_digits(300, seed=5, workers=2)
    assert np.array_equal(here, shared) and np.array_equal(labels, shared_labels)
    rng = np.random.default_rng(5)
    rng.permutation(300)  # the labels' draw
    assert np.array_equal(render_digit(int(labels[0]), rng), here[0])  # one digit alone: the same recipe


def test_images_are_32px_rgb_with_balanced_labels_and_varied_colours():
    images, labels = render_printed_digits(50, seed=0)
    assert images.shape == (50, 32, 32, 3) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [5] * 10
    backgrounds = images[:, 0, 0].astype(int)
    assert len({tuple(c // 32) for c in backgrounds}) > 10  # many different background colours
    assert all(img.std() > 10 for img in images)  # every image has visible content


def test_the_centre_holds_the_labelled_digit_more_than_the_sides():
    # strokes differ from the background more in the centre column than at the cut-off edges, on average
    images, _ = render_printed_digits(100, seed=1)
    contrast = np.abs(images.astype(float) - images[:, :1, :1].astype(float)).mean(axis=(0, 3))
    assert contrast[:, 12:20].mean() > contrast[:, :4].mean()


def test_fonts_include_dejavu_and_pillows_own():
    fonts = font_files()
    assert any("DejaVuSans.ttf" in f for f in fonts) and any("Serif" in f for f in fonts)
    assert "<pillow-default>" in fonts and len(fonts) >= 8


def test_printed_digits_are_cached_and_identical_on_reload():
    first = printed_digits(12, seed=7)
    second = printed_digits(12, seed=7)
    assert first.images.shape == (12, 3, 32, 32)
    assert np.array_equal(first.images.numpy(), second.images.numpy())
    assert np.array_equal(first.labels.numpy(), second.labels.numpy())
