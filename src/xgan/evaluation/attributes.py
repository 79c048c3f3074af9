"""Cross-domain attribute preservation: attributes both domains have, faces (CelebA) and cartoons (CartoonSet).

    attribute_preservation_<attr>_<ab|ba> = accuracy of the target domain's <attr> classifier on translated test
                                            images, against the source images' <attr> labels
    attribute_ceiling_<attr>_<domain>     = that classifier's accuracy on real test images of its own domain

Attributes: hair colour (black, blond, brown, gray) and glasses (no, yes). CelebA's labels come from its flags:
Black_Hair / Blond_Hair / Brown_Hair / Gray_Hair (images with none or several are left out) and Eyeglasses.
CartoonSet publishes part indices only, not what they look like, so the mapping is measured on the cartoons
themselves (our choice, reported with every score): each hair_color index's colour is the mean, over the pixels
where the indices' mean images differ most, of its own mean image, and names the group of the nearest reference
colour below; the glasses index meaning 'none' is the one whose mean image is brightest where glasses vary.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from xgan.data.task import ImageSet

HAIR_GROUPS = ("black", "blond", "brown", "gray")
CELEBA_HAIR_FLAGS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
REFERENCE_HAIR_RGB = torch.tensor([[35.0, 30, 30], [225, 195, 130], [115, 70, 40], [175, 175, 175]])  # HAIR_GROUPS
UNKNOWN = -1
REGION_FRACTION = 0.05  # of the pixels: where the part's variants differ most


@dataclass(frozen=True)
class CartoonMapping:
    hair_group: dict[int, int]  # hair_color index -> position in HAIR_GROUPS
    no_glasses: int  # the glasses index meaning none

    def describe(self) -> str:
        hair = ", ".join(f"{index}:{HAIR_GROUPS[group]}" for index, group in sorted(self.hair_group.items()))
        return f"CartoonSet hair_color {{{hair}}}; glasses index {self.no_glasses} = none"


def column(images: ImageSet, name: str) -> torch.Tensor:
    return images.attributes[:, images.attribute_names.index(name)]


def is_celeba(images: ImageSet) -> bool:
    return all(name in images.attribute_names for name in (*CELEBA_HAIR_FLAGS, "Eyeglasses"))


def is_cartoonset(images: ImageSet) -> bool:
    return all(name in images.attribute_names for name in ("hair_color", "glasses"))


def celeba_labels(images: ImageSet) -> dict[str, torch.Tensor]:
    flags = torch.stack([column(images, name) for name in CELEBA_HAIR_FLAGS], dim=1)
    hair = torch.where(flags.sum(1) == 1, flags.argmax(1), torch.full_like(flags[:, 0], UNKNOWN))
    return {"hair_colour": hair, "glasses": column(images, "Eyeglasses").long()}


def variant_means(images: ImageSet, index: torch.Tensor) -> tuple[dict[int, torch.Tensor], torch.Tensor]:
    """Mean image (3, H, W) of each variant, and the mask of the pixels where those means differ most."""
    means = {int(v): images.images[index == v].float().mean(0) for v in index.unique()}
    spread = torch.stack(list(means.values())).std(0, unbiased=False).sum(0)  # one variant: 0, every pixel kept
    threshold = spread.flatten().quantile(1 - REGION_FRACTION)
    return means, spread >= threshold


def measure_cartoon_mapping(images: ImageSet) -> CartoonMapping:
    hair_means, hair_region = variant_means(images, column(images, "hair_color"))
    hair_group = {}
    for index, mean in hair_means.items():
        colour = mean[:, hair_region].mean(1)
        hair_group[index] = int((REFERENCE_HAIR_RGB - colour).norm(dim=1).argmin())
    glasses_means, glasses_region = variant_means(images, column(images, "glasses"))
    brightness = {index: float(mean[:, glasses_region].mean()) for index, mean in glasses_means.items()}
    return CartoonMapping(hair_group, max(brightness, key=brightness.get))


def cartoon_labels(images: ImageSet, mapping: CartoonMapping) -> dict[str, torch.Tensor]:
    hair = torch.tensor([mapping.hair_group.get(int(v), UNKNOWN) for v in column(images, "hair_color")],
                        dtype=torch.long)
    return {"hair_colour": hair, "glasses": (column(images, "glasses") != mapping.no_glasses).long()}


def shared_attribute_labels(train: dict[str, ImageSet], test: dict[str, ImageSet]) -> tuple[dict, dict, list[str]]:
    """({domain: {attr: train labels}}, {domain: {attr: test labels}}, notes) for the attributes both domains have;
    empty where the task's domains are not one CelebA-style and one CartoonSet-style set."""
    labelled, notes = {"train": {}, "test": {}}, []
    for domain in ("a", "b"):
        if train[domain].attributes is None or test[domain].attributes is None:
            return {}, {}, []
        if is_celeba(train[domain]):
            for split, images in (("train", train[domain]), ("test", test[domain])):
                labelled[split][domain] = celeba_labels(images)
        elif is_cartoonset(train[domain]):
            mapping = measure_cartoon_mapping(train[domain])
            notes.append(mapping.describe())
            for split, images in (("train", train[domain]), ("test", test[domain])):
                labelled[split][domain] = cartoon_labels(images, mapping)
        else:
            return {}, {}, []
    return labelled["train"], labelled["test"], notes
