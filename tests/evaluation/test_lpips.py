"""LPIPS from a user's weight files: the distance's properties, its channel weighting, diversity in it, and clear
refusals of files that are missing, foreign or of the wrong shapes."""

import pytest
import torch
from safetensors.torch import save_file
from toys import Styled

from xgan.cli import main
from xgan.evaluation.diversity import diversity
from xgan.evaluation.lpips import CONVS, LPIPS


def random_weights(seed: int = 0) -> tuple[dict, dict]:
    g = torch.Generator().manual_seed(seed)
    alexnet = {}
    for index, c_in, c_out, kernel, _, _ in CONVS:
        alexnet[f"features.{index}.weight"] = torch.randn(c_out, c_in, kernel, kernel, generator=g) * 0.05
        alexnet[f"features.{index}.bias"] = torch.rand(c_out, generator=g) * 0.1
    alexnet["classifier.1.weight"] = torch.zeros(2, 2)  # torchvision's file has the classifier too: ignored
    linear = {f"lin{i}.model.1.weight": torch.rand(1, spec[2], 1, 1, generator=g) for i, spec in enumerate(CONVS)}
    return alexnet, linear


def images(n: int, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_a_distance_zero_to_itself_symmetric_and_positive_between_images():
    lpips, x, y = LPIPS(*random_weights()), images(3), images(3, seed=2)
    assert torch.equal(lpips(x, x), torch.zeros(3))
    d = lpips(x, y)
    assert d.shape == (3,) and (d > 0).all() and torch.allclose(d, lpips(y, x))
    LPIPS(*random_weights(seed=1))  # another instance, other weights: this one's distances stay its own
    assert torch.equal(lpips(x, y), d)


def test_the_linear_weights_weigh_each_layers_channels():
    alexnet, linear = random_weights()
    x, y = images(2), images(2, seed=2)
    zero = {k: torch.zeros_like(v) for k, v in linear.items()}
    assert torch.equal(LPIPS(alexnet, zero)(x, y), torch.zeros(2))
    only_first = dict(zero, **{"lin0.model.1.weight": linear["lin0.model.1.weight"]})
    twice = dict(zero, **{"lin0.model.1.weight": 2 * linear["lin0.model.1.weight"]})
    assert torch.allclose(LPIPS(alexnet, twice)(x, y), 2 * LPIPS(alexnet, only_first)(x, y))
    lpips = LPIPS(alexnet, only_first)
    fx, fy = lpips.taps(x)[0], lpips.taps(y)[0]  # unit length over channels at every position
    assert torch.allclose(fx.norm(dim=1)[fx.norm(dim=1) > 0], torch.tensor(1.0), atol=1e-4)
    by_hand = ((fx - fy).pow(2) * linear["lin0.model.1.weight"]).sum(1).mean((1, 2))
    assert torch.allclose(lpips(x, y), by_hand, atol=1e-6)


def test_diversity_in_lpips_is_zero_for_a_model_that_ignores_its_style():
    lpips, x, targets = LPIPS(*random_weights()), images(6), images(8, seed=3)
    flat = lambda t: t.flatten(1)  # noqa: E731
    still = diversity(Styled(0.0), x, "b", targets, flat(targets), flat, inputs=6, samples=3, lpips=lpips)
    moving = diversity(Styled(1.0), x, "b", targets, flat(targets), flat, inputs=6, samples=3, lpips=lpips)
    assert still["lpips"] == 0.0 and moving["lpips"] > 0 and still["real_lpips"] == moving["real_lpips"] > 0


def test_weight_files_are_read_without_code_in_either_format_and_bad_ones_are_named(tmp_path):
    alexnet, linear = random_weights()
    torch.save(alexnet, tmp_path / "alexnet.pth")
    save_file(linear, str(tmp_path / "alex.safetensors"))
    x, y = images(2), images(2, seed=2)
    assert torch.allclose(LPIPS.from_files(tmp_path / "alexnet.pth", tmp_path / "alex.safetensors")(x, y),
                          LPIPS(alexnet, linear)(x, y))
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        LPIPS.from_files(tmp_path / "missing.pth", tmp_path / "alex.safetensors")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth: not a readable weights file"):
        LPIPS.from_files(tmp_path / "junk.pth", tmp_path / "alex.safetensors")
    del alexnet["features.3.weight"]
    torch.save(alexnet, tmp_path / "short.pth")
    with pytest.raises(ValueError, match=r"short.pth: features.3.weight must be a tensor of shape \(192, 64, 5, 5\)"):
        LPIPS.from_files(tmp_path / "short.pth", tmp_path / "alex.safetensors")
    with pytest.raises(ValueError, match="alex.safetensors: features.0.weight"):  # the files the other way round
        LPIPS.from_files(tmp_path / "alex.safetensors", tmp_path / "alexnet.pth")


def test_xgan_eval_reports_lpips_diversity_with_the_users_weights(munit_run, tmp_path, capsys):
    alexnet, linear = random_weights()
    torch.save(alexnet, tmp_path / "alexnet.pth")
    torch.save(linear, tmp_path / "alex.pth")
    assert main(["eval", str(munit_run), "--count", "8", "--lpips", str(tmp_path / "alexnet.pth"),
                 str(tmp_path / "alex.pth"), "--out", str(tmp_path / "eval")]) == 0
    printed = capsys.readouterr().out
    assert "diversity_lpips_ab" in printed and "diversity_real_lpips_ba" in printed
    assert main(["eval", str(munit_run), "--lpips", str(tmp_path / "nothing.pth"), str(tmp_path / "alex.pth")]) == 2
    assert "nothing.pth: no such LPIPS weights file" in capsys.readouterr().err
