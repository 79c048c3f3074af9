import importlib.util
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch

from xgan.config import load_config
from xgan.data.registry import load_task
from xgan.data.emoji import CATEGORIES, DOMAINS, _arrays, codepoints, emoji_images, metadata

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_emoji.py"


@pytest.fixture(scope="module")
def build():
    spec = importlib.util.spec_from_file_location("build_emoji", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sets():
    return {(d, s): emoji_images(d, s) for d in DOMAINS for s in ("train", "test")}


def train_codepoints(build, domain: str) -> np.ndarray:
    """Which codepoint each stored training image is, re-derived from the build script's rule (the arrays do not
    say, and the loader never tells a model)."""
    test_ids = _arrays(domain, "test_ids")["test_ids"]
    return build.train_order(np.setdiff1d(np.arange(len(codepoints())), test_ids), domain)


def test_shipped_arrays_load_offline_at_64_px_on_white(sets):
    for (domain, split), images in sets.items():
        assert images.images.dtype == torch.uint8 and images.images.shape[1:] == (3, 64, 64)
        assert images.labels.dtype == torch.long and len(images.labels) == len(images)
        # composited on white: the corners are white, no black (unpremultiplied, uncomposited) backgrounds
        corners = images.images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]
        assert (corners == 255).float().mean() > 0.9, (domain, split)
        assert images.images.float().mean() > 150
    assert len(sets["a", "train"]) == len(sets["b", "train"]) == 1330
    assert len(sets["a", "test"]) == len(sets["b", "test"]) == 238
    assert len(codepoints()) == 1568 == len(set(codepoints()))
    shipped = sum(Path(str(files("xgan.data").joinpath(name))).stat().st_size for name in DOMAINS.values())
    assert shipped < 15 * 2**20


def test_test_counterparts_share_ids_and_are_held_out_of_both_training_sets(build, sets):
    test_a, test_b = sets["a", "test"], sets["b", "test"]
    assert torch.equal(test_a.ids, test_b.ids) and len(set(test_a.ids.tolist())) == len(test_a)
    assert torch.equal(test_a.labels, test_b.labels)  # the same emoji, so the same category
    assert sets["a", "train"].ids is None and sets["b", "train"].ids is None  # nothing pairs training images
    keys = codepoints()
    assert [build.is_test(keys[i]) for i in test_a.ids] == [True] * len(test_a)
    codepoint_labels = torch.from_numpy(_arrays("a", "codepoint_labels")["codepoint_labels"]).long()
    for domain in DOMAINS:
        train = train_codepoints(build, domain)
        # the re-derived codepoints are the stored ones: their categories match, image by image
        assert torch.equal(sets[domain, "train"].labels, codepoint_labels[train])
        assert not set(train.tolist()) & set(test_a.ids.tolist())
        assert not any(build.is_test(keys[i]) for i in train)
        # and no test image reappears in training under another codepoint
        train_images = {image.numpy().tobytes() for image in sets[domain, "train"].images}
        assert not any(image.numpy().tobytes() in train_images for image in sets[domain, "test"].images)


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1])


def test_training_order_does_not_carry_the_pairing(build, sets):
    order_a, order_b = train_codepoints(build, "a"), train_codepoints(build, "b")
    assert sorted(order_a.tolist()) == sorted(order_b.tolist())  # the same emoji in both, unpaired
    position_a = {c: i for i, c in enumerate(order_a.tolist())}
    position_b = {c: i for i, c in enumerate(order_b.tolist())}
    shared = sorted(position_a)
    pos_a, pos_b = np.array([position_a[c] for c in shared]), np.array([position_b[c] for c in shared])
    assert rank_correlation(pos_a, pos_a) == pytest.approx(1.0)  # the check would catch one shared order
    assert abs(rank_correlation(pos_a, pos_b)) < 0.1
    assert abs(rank_correlation(pos_a, np.arange(len(shared)))) < 0.1  # nor sorted by codepoint in either
    assert np.mean(pos_a == pos_b) < 0.01
    # from the shipped labels alone: aligned positions agree on the category about as often as chance would
    labels_a, labels_b = sets["a", "train"].labels, sets["b", "train"].labels
    share = torch.bincount(labels_a, minlength=len(CATEGORIES)).double() / len(labels_a)
    chance = float((share**2).sum())
    assert (labels_a == labels_b).double().mean().item() < chance + 0.05


def test_labels_are_categories(sets):
    assert tuple(_arrays("a", "categories")["categories"]) == CATEGORIES
    assert tuple(_arrays("b", "categories")["categories"]) == CATEGORIES
    for images in sets.values():
        assert images.labels.min() >= 0 and images.labels.max() < len(CATEGORIES)
    present = torch.bincount(sets["a", "train"].labels, minlength=len(CATEGORIES))
    assert (present > 0).all()


def test_metadata_names_the_pinned_sources(build):
    for domain, license_ in (("a", "CC-BY-SA-4.0"), ("b", "MIT")):
        meta = metadata(domain)
        assert meta["source"] == build.PACKAGES[domain] and meta["license"] == license_
        assert meta["sha256"] == {build.PACKAGES[role]: digest for role, digest in build.SHA256.items()}
        assert set(meta["icons"]) == set(codepoints())


def test_emoji_task_resizes_to_32_and_keeps_the_test_pairing():
    cfg = load_config("digits", ["data.task=emoji", "data.image_size=32", "data.max_images=40"]).data
    task = load_task(cfg)
    for images in (task.train_a, task.train_b, task.test_a, task.test_b):
        assert images.images.shape == (40, 3, 32, 32) and images.images.dtype == torch.uint8
        assert len(images.labels) == 40
    assert torch.equal(task.test_a.ids, task.test_b.ids) and task.train_a.ids is None


# ---- the build script's pure functions, on tiny fake package JSON, without network ----

FAKE_DATASOURCE = [
    {"unified": "1F600", "category": "Smileys & Emotion", "short_name": "grinning", "sort_order": 1},
    {"unified": "2764-FE0F", "category": "Smileys & Emotion", "short_name": "heart", "sort_order": 3},
    {"unified": "1F44D", "category": "People & Body", "short_name": "+1", "sort_order": 2,
     "skin_variations": {"1F3FB": {"unified": "1F44D-1F3FB"}}},
    {"unified": "1F3FB", "category": "Component", "short_name": "skin-tone-2", "sort_order": 9},
    {"unified": "1F436", "category": "Animals & Nature", "short_name": "dog", "sort_order": 4},
]
FAKE_A = {"1f600": "grinning-face", "2764": "red-heart", "1f44d": "thumbs-up", "1f44d-1f3fb": "thumbs-up-light",
          "1f3fb": "light-skin-tone", "1f436": "dog-face"}
FAKE_B = {"1f600": "grinning", "2764": "heart-red", "1f44d": "thumbs", "1f44d-1f3fb": "thumbs-light",
          "1f3fb": "tone-1"}  # no dog


def test_codepoints_are_matched_on_chars_keys_base_forms_only(build):
    assert build.codepoint_key("1F3F3-FE0F-200D-1F308") == "1f3f3-200d-1f308" == build.codepoint_key("1f3f3-200d-1f308")
    matched = build.match_codepoints(FAKE_A, FAKE_B, FAKE_DATASOURCE)
    # in emoji-datasource's order; FE0F ignored; no skin-tone variant, no Component, nothing only one set draws
    assert [m["key"] for m in matched] == ["1f600", "1f44d", "2764"]
    assert matched[1] == {"key": "1f44d", "category": "People & Body", "name": "+1", "icon_a": "thumbs-up",
                          "icon_b": "thumbs"}
    assert matched[2]["icon_a"] == "red-heart" and matched[2]["icon_b"] == "heart-red"


def test_split_rule_is_a_stable_hash_of_the_codepoint(build):
    keys = [f"{i:05x}" for i in range(20000)]
    flags = [build.is_test(k) for k in keys]
    assert 0.14 < np.mean(flags) < 0.16
    assert flags[:500] == [build.is_test(k) for k in keys[:500]]  # no state, no dependence on the other keys
    assert build.is_test("1f600") is build.is_test("1f600")


def test_training_orders_are_distinct_permutations(build):
    ids = np.arange(3, 500)
    order_a, order_b = build.train_order(ids, "a"), build.train_order(ids, "b")
    assert sorted(order_a.tolist()) == ids.tolist() == sorted(order_b.tolist())
    assert not np.array_equal(order_a, order_b) and not np.array_equal(order_a, ids)
    assert np.array_equal(order_a, build.train_order(ids, "a"))  # fixed


def test_repeated_renders_are_dropped(build):
    images_a = np.array([[1], [2], [1], [3]], dtype=np.uint8)
    images_b = np.array([[5], [6], [7], [6]], dtype=np.uint8)
    assert build.distinct_renders(images_a, images_b).tolist() == [True, True, False, False]


FAKE_ICONS = {"width": 10, "height": 10,
              "icons": {"dot": {"body": '<rect x="2" y="2" width="6" height="6" fill="#f00"/>'},
                        "tall": {"body": "<g/>", "height": 12}},
              "aliases": {"dot-flipped": {"parent": "dot", "hFlip": True}}}


def test_icon_svg_reads_iconify_viewboxes_and_aliases(build):
    assert 'viewBox="0 0 10 10"' in build.icon_svg(FAKE_ICONS, "dot", 64)
    assert 'width="64" height="64"' in build.icon_svg(FAKE_ICONS, "dot", 64)
    assert 'viewBox="0 0 10 12"' in build.icon_svg(FAKE_ICONS, "tall")
    flipped = build.icon_svg(FAKE_ICONS, "dot-flipped")
    assert "translate(10 0) scale(-1 1)" in flipped and 'fill="#f00"' in flipped


def test_render_composites_on_white(build):
    pytest.importorskip("cairosvg", reason="cairosvg is the build extra (pip install -e '.[build]')")
    image = build.render(build.icon_svg(FAKE_ICONS, "dot", 20), 20)
    assert image.shape == (20, 20, 3) and image.dtype == np.uint8
    assert (image[0, 0] == 255).all() and image[10, 10].tolist() == [255, 0, 0]
    half = build.render('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" '
                        'fill="#000" fill-opacity="0.5"/></svg>', 4)
    assert abs(int(half[1, 1, 0]) - 128) <= 1  # 50% black on white, not on black


def test_line_drawing_turns_black_outlines_white_and_everything_else_black():
    from xgan.data.emoji import line_drawing
    images = torch.tensor([[0, 0, 0], [255, 255, 255], [255, 200, 0], [40, 40, 40]], dtype=torch.uint8)
    lines = line_drawing(images.T.reshape(1, 3, 2, 2))
    assert lines.shape == (1, 3, 2, 2) and torch.equal(lines[0, 0], lines[0, 2])
    assert lines[0, 0].flatten().tolist()[:3] == [255, 0, 0]  # black outline, white paper, a yellow fill
    assert 0 < lines[0, 0, 1, 1] < 255  # a dark grey is part line (antialiased edges)


def test_emoji_lines_pairs_fluent_in_colour_with_openmoji_outlines_aligned_in_test():
    emoji = load_task(load_config("emoji").data)
    lines = load_task(load_config("folders", ["data.task=emoji-lines"]).data)
    assert torch.equal(lines.train_a.images, emoji.train_b.images)
    assert torch.equal(lines.test_a.ids, lines.test_b.ids) and torch.equal(lines.test_b.ids, emoji.test_a.ids)
    b = lines.test_b.images
    assert torch.equal(b[:, 0], b[:, 1]) and b.float().mean() < 60  # grey lines on black, as MNIST
