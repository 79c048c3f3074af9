import pytest
import torch

from xgan.models.deform import deform, displacement_field


def glyphs(n: int = 6, size: int = 32) -> torch.Tensor:
    """White bars on black, each in its own place: any move of the grid shows in the pixels."""
    images = -torch.ones(n, 3, size, size)
    for i in range(n):
        images[i, :, 4 + 3 * i: 10 + 3 * i, 8:24] = 1.0
    return images


def test_no_deformation_returns_the_images():
    images = glyphs()
    same = deform(images, elastic=0, rotation=0, shear=0, scale=(1, 1), shift=0)
    torch.testing.assert_close(same, images, atol=1e-5, rtol=0)


def test_each_image_gets_its_own_deformation_within_the_input_range():
    torch.manual_seed(0)
    images = glyphs(1).expand(8, -1, -1, -1)
    bent = deform(images)
    assert bent.shape == images.shape
    assert bent.min() >= -1 and bent.max() <= 1  # bilinear sampling with border padding adds no new value
    moved = (bent - images).abs().flatten(1).mean(dim=1)
    assert (moved > 0.02).all()
    pairwise = (bent[:, None] - bent[None]).abs().flatten(2).mean(dim=2)
    assert (pairwise + torch.eye(8)).min() > 0.01  # eight copies of one image, eight different results


def test_elastic_displacements_have_the_asked_size_in_pixels_of_the_image():
    torch.manual_seed(0)
    field = displacement_field(16, 32, elastic=2.0, smoothness=4.0, device=torch.device("cpu"))
    assert field.shape == (16, 32, 32, 2)
    pixels = field * 32 / 2  # grid units (the image spans 2) to pixels
    per_image = pixels.flatten(1).std(dim=1)
    torch.testing.assert_close(per_image, torch.full((16,), 2.0), rtol=1e-3, atol=0)
    neighbour_step = (pixels[:, 1:] - pixels[:, :-1]).abs().mean()
    assert neighbour_step < 0.2 * pixels.abs().mean()  # smooth: neighbours move together


def test_deformation_is_reproducible_from_the_global_seed():
    images = glyphs()
    torch.manual_seed(3)
    first = deform(images)
    torch.manual_seed(3)
    torch.testing.assert_close(deform(images), first, atol=0, rtol=0)


def test_shares_of_a_batch_deform_as_the_whole_batch_does():
    images = glyphs(6)
    torch.manual_seed(4)
    whole = deform(images)
    for k in range(3):  # each as a rank of three would, from the same RNG state
        torch.manual_seed(4)
        torch.testing.assert_close(deform(images[k::3], share=(k, 3)), whole[k::3], atol=1e-6, rtol=0)


def test_deform_refuses_non_square_images():
    with pytest.raises(ValueError, match="square"):
        deform(torch.zeros(1, 3, 16, 32))
