"""Cross-domain attribute preservation (evaluation/attributes.py) on toy faces and cartoons drawn alike."""

import pytest
import torch

from evaluation.toys import IdentityTranslator, NoiseTranslator
from xgan.data import ImageSet, Task
from xgan.evaluation.attributes import HAIR_GROUPS, celeba_labels, measure_cartoon_mapping
from xgan.evaluation.evaluate import Evaluator

HAIR_RGB = [(20, 20, 25), (230, 200, 120), (120, 70, 40), (170, 170, 170), (55, 40, 35)]  # cartoon indices 0-4
HAIR_GROUP_OF_INDEX = {0: "black", 1: "blond", 2: "brown", 3: "gray", 4: "black"}
NO_GLASSES = 2  # of cartoon glasses indices 0-3
CELEBA_NAMES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Eyeglasses", "Gray_Hair", "Smiling")
CARTOON_NAMES = ("face_shape", "glasses", "hair_color")


def draw(hair: list[int], glasses: list[int], seed: int) -> torch.Tensor:
    """16x16 faces: a skin tone, hair (rows 0-3) of the given palette index, dark glasses (rows 7-8) or none."""
    g = torch.Generator().manual_seed(seed)
    images = torch.empty(len(hair), 3, 16, 16, dtype=torch.uint8)
    for i, (h, wear) in enumerate(zip(hair, glasses)):
        skin = torch.tensor([200, 160, 130]) + torch.randint(-20, 21, (3,), generator=g)
        images[i] = skin.view(3, 1, 1).to(torch.uint8)
        images[i, :, :4] = torch.tensor(HAIR_RGB[h], dtype=torch.uint8).view(3, 1, 1)
        if wear:
            images[i, :, 7:9, 2:14] = 30
    return images


def cartoons(count: int, seed: int) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    hair, glasses = torch.randint(0, 5, (count,), generator=g), torch.randint(0, 4, (count,), generator=g)
    images = draw(hair.tolist(), (glasses != NO_GLASSES).tolist(), seed)
    table = torch.stack([torch.zeros(count, dtype=torch.long), glasses, hair], dim=1)
    return ImageSet(images, attributes=table, attribute_names=CARTOON_NAMES)


def faces(count: int, seed: int) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    group, glasses = torch.randint(0, 4, (count,), generator=g), torch.randint(0, 2, (count,), generator=g)
    images = draw(group.tolist(), glasses.tolist(), seed)  # palette indices 0-3 are the four groups in order
    flags = torch.zeros(count, len(CELEBA_NAMES), dtype=torch.long)
    for i, k in enumerate(group.tolist()):
        flags[i, CELEBA_NAMES.index(("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")[k])] = 1
    flags[:, CELEBA_NAMES.index("Eyeglasses")] = glasses
    return ImageSet(images, attributes=flags, attribute_names=CELEBA_NAMES)


def test_the_cartoon_mapping_is_measured_from_the_cartoons_colours_and_glasses():
    mapping = measure_cartoon_mapping(cartoons(300, 0))
    assert {index: HAIR_GROUPS[group] for index, group in mapping.hair_group.items()} == HAIR_GROUP_OF_INDEX
    assert mapping.no_glasses == NO_GLASSES
    assert "glasses index 2 = none" in mapping.describe()


def test_celeba_hair_colour_needs_exactly_one_flag():
    flags = torch.tensor([[1, 0, 0, 0, 0, 1], [0, 1, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 1, 0]])
    labels = celeba_labels(ImageSet(torch.zeros(4, 3, 2, 2, dtype=torch.uint8), attributes=flags,
                                    attribute_names=CELEBA_NAMES))
    assert labels["hair_colour"].tolist() == [0, -1, -1, 3]  # black; two flags; none; gray
    assert labels["glasses"].tolist() == [0, 0, 1, 0]


@pytest.fixture(scope="module")
def evaluator():
    task = Task(faces(400, 1), cartoons(400, 2), faces(120, 3), cartoons(120, 4))
    return Evaluator(task, "faces2cartoon", count=None)


def test_a_translator_that_keeps_hair_and_glasses_scores_the_ceiling_and_noise_scores_chance(evaluator):
    kept = evaluator(IdentityTranslator()).metrics  # faces and cartoons are drawn alike: identity keeps both
    for attribute in ("hair_colour", "glasses"):
        for direction, target in (("ab", "b"), ("ba", "a")):
            assert kept[f"attribute_ceiling_{attribute}_{target}"] > 0.95
            assert kept[f"attribute_preservation_{attribute}_{direction}"] > 0.9
    noise = evaluator(NoiseTranslator()).metrics
    assert noise["attribute_preservation_hair_colour_ab"] < 0.5  # 4 groups: one answer for all is right ~1/4
    assert noise["attribute_preservation_glasses_ab"] < 0.75
    assert "hair_color" in evaluator.info["attribute_mapping"][0]


def test_tasks_without_shared_attributes_report_none(evaluator):
    from evaluation.toys import mirrored_task

    metrics = Evaluator(mirrored_task(100), "toy", count=None)(IdentityTranslator()).metrics
    assert not any(name.startswith("attribute_") for name in metrics)


def test_a_part_shown_in_one_variant_only_maps_without_error():
    cartoon = cartoons(40, 5)
    cartoon.attributes[:, CARTOON_NAMES.index("glasses")] = 1  # every cartoon wears glasses variant 1
    mapping = measure_cartoon_mapping(cartoon)
    assert mapping.no_glasses == 1 and len(mapping.hair_group) == 5
