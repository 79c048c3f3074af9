import math

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from conftest import TINY_RUN
from xgan.checkpoint import load_trained
from xgan.cli import main
from xgan.config import load_config
from xgan.models.base import Batch, check_phases
from xgan.models.cut import CUT, CUTConfig, CUTWeights, encoder_indices
from xgan.models.nets import ResidualBlock
from xgan.models.patchnce import PatchSampler, patch_nce_loss
from xgan.trainer import Trainer

SIZE = 16
TINY_CUT = ["model.width=0.125", "model.residual_blocks=1"]


def unit(*shape: int, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def model(setup: bool = True, **kwargs) -> CUT:
    torch.manual_seed(0)
    cut = CUT(CUTConfig(width=0.125, residual_blocks=1, **kwargs), SIZE)
    if setup:
        cut.setup(Batch(torch.zeros(2, 3, SIZE, SIZE), torch.zeros(2, 3, SIZE, SIZE)))
    return cut


def images(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x):
        return torch.full((len(x), 1, 2, 2), self.value)


# -- PatchNCE ------------------------------------------------------------------------------------------------
def test_patch_nce_prefers_the_same_location_to_a_shuffled_one():
    keys = unit(4, 64, 32)
    same = patch_nce_loss(keys.clone(), keys)
    shuffled = patch_nce_loss(keys[:, torch.randperm(64, generator=torch.Generator().manual_seed(1))], keys)
    assert same < shuffled
    assert same < math.log(64) < shuffled  # better than chance, and worse


def test_patch_nce_of_unrelated_features_is_the_log_of_the_number_of_patches():
    """Random directions in many dimensions are near orthogonal: every logit ~ 0, cross-entropy ~ log(S)."""
    queries, keys = unit(8, 64, 8192, seed=0), unit(8, 64, 8192, seed=1)
    assert patch_nce_loss(queries, keys).item() == pytest.approx(math.log(64), abs=0.05)
    # the official single-image option: every patch of the batch is a negative
    assert patch_nce_loss(queries, keys, negatives_from_batch=True).item() == pytest.approx(math.log(8 * 64), abs=0.05)


def test_a_location_is_not_its_own_negative():
    """All patches alike: the positive ties with the S - 1 other locations (log S, not log(S + 1))."""
    same = F.normalize(torch.ones(2, 16, 8), dim=-1)
    assert patch_nce_loss(same, same).item() == pytest.approx(math.log(16), abs=1e-4)


def test_patch_nce_negatives_come_from_the_same_image_and_the_keys_are_targets():
    queries, keys = unit(2, 16, 8, seed=0).requires_grad_(), unit(2, 16, 8, seed=1).requires_grad_()
    other_image = keys.detach().clone()
    other_image[1] = unit(16, 8, seed=2)  # image 1's keys change: image 0's loss must not
    per_image = [patch_nce_loss(queries[:1], k[:1]) for k in (keys, other_image)]
    assert torch.equal(*per_image)
    pooled = [patch_nce_loss(queries[:1].expand(2, -1, -1), k, negatives_from_batch=True) for k in (keys, other_image)]
    assert not torch.equal(*pooled)  # pooled negatives do reach across images
    patch_nce_loss(queries, keys).backward()
    assert queries.grad is not None and keys.grad is None


def test_the_temperature_sharpens_the_contrast():
    keys = unit(2, 32, 16)
    queries = F.normalize(keys + 0.3 * unit(2, 32, 16, seed=5), dim=-1)  # near their positives
    assert patch_nce_loss(queries, keys, temperature=0.07) < patch_nce_loss(queries, keys, temperature=1.0)


def test_patch_sampler_draws_distinct_locations_shares_them_and_normalises():
    torch.manual_seed(0)
    head = PatchSampler([3, 5], dim=12, patches=10)
    maps = [torch.randn(2, 3, 6, 6), torch.randn(2, 5, 3, 3)]
    out, where = head(maps)
    assert [o.shape for o in out] == [(2, 10, 12), (2, 9, 12)]  # S = min(patches, H * W)
    assert all(len(set(w.tolist())) == len(w) for w in where)
    assert torch.allclose(out[0].norm(dim=-1), torch.ones(2, 10))
    again, same_where = head(maps, where)
    assert same_where is where and all(torch.equal(a, b) for a, b in zip(out, again))
    # location j of the output is the map's vector at where[j], through the layer's MLP
    j = int(where[0][3])
    expected = F.normalize(head.mlps[0](maps[0][1, :, j // 6, j % 6]), dim=-1)
    assert torch.allclose(out[0][1, 3], expected, atol=1e-6)


# -- the layers read -----------------------------------------------------------------------------------------
def test_the_read_layers_are_the_papers_pixels_downsampling_convs_and_residual_blocks_one_and_five():
    cut = CUT(CUTConfig(width=0.125), 32)  # 6 blocks
    g = cut.g
    assert cut.layers == [0, 4, 7, 10, 14]
    assert isinstance(g[0], nn.ReflectionPad2d)
    assert all(isinstance(g[i], nn.Conv2d) and g[i].stride == (2, 2) for i in (4, 7))  # the two downsamplings
    blocks = [i for i, m in enumerate(g) if isinstance(m, ResidualBlock)]
    assert blocks[0] == 10 and blocks[4] == 14


def test_a_block_past_the_generators_last_reads_the_last_once():
    assert encoder_indices([0, 4, 7, 10, 14], blocks=1) == [0, 4, 7, 10]
    assert encoder_indices([0, 14, 12], blocks=3) == [0, 12]


def test_the_head_is_built_in_setup_with_the_widths_of_the_read_layers():
    cut = model(setup=False)
    assert cut.head is None
    with pytest.raises(RuntimeError, match="setup"):
        cut.phases()
    cut.setup(Batch(images(), images(seed=1)))
    assert cut.head.widths == [3, 16, 32, 32]  # pixels, d128 and d256 at width 1/8, the one residual block
    assert all(m[0].in_features == w and m[-1].out_features == 256 for m, w in zip(cut.head.mlps, cut.head.widths))
    phases = cut.phases()
    check_phases(phases)
    assert [(p.name, p.critic) for p in phases] == [("discriminator", True), ("generator", False)]
    assert {id(p) for p in cut.head.parameters()} <= {id(p) for p in phases[1].parameters}


def test_inference_builds_the_generator_only():
    cut = CUT(CUTConfig(width=0.125, residual_blocks=1), SIZE, training=False)
    assert set(dict(cut.named_children())) == {"g"}
    cut.setup(Batch(images(), images()))  # nothing to build
    assert cut.translate(images(), "b").shape == (2, 3, SIZE, SIZE)
    with pytest.raises(ValueError):
        cut.translate(images(), "a")


# -- the losses ----------------------------------------------------------------------------------------------
def test_modes_set_the_official_defaults_and_explicit_keys_win():
    cut, fast = model(), model(mode="fastcut")
    assert (cut.lambda_nce, cut.nce_idt, cut.flip_equivariance) == (1.0, True, False)
    assert (fast.lambda_nce, fast.nce_idt, fast.flip_equivariance) == (10.0, False, True)
    mixed = model(mode="fastcut", nce_idt=True, weights=CUTWeights(nce=2.0))
    assert (mixed.lambda_nce, mixed.nce_idt, mixed.flip_equivariance) == (2.0, True, True)
    with pytest.raises(ValueError, match="mode"):
        CUTConfig(mode="cyclecut")


def test_cut_averages_the_two_nce_terms_and_fastcut_has_no_identity_term():
    a, b = images(), images(seed=1)
    for mode, weights in (("cut", {"gan": 1.0, "nce": 0.5, "nce_idt": 0.5}), ("fastcut", {"gan": 1.0, "nce": 10.0})):
        cut = model(mode=mode)
        batch = Batch(a, b)
        cut.losses("discriminator", batch)
        losses = cut.losses("generator", batch)
        assert {k: w for k, (w, _) in losses.items()} == weights
        assert all(torch.isfinite(v) for _, v in losses.values())


def test_least_squares_gan_losses_on_a_constant_discriminator():
    cut = model()
    cut.d = Constant(0.25)
    batch = Batch(images(), images(seed=1))
    d = cut.losses("discriminator", batch)
    assert d["d"] == (0.5, pytest.approx(torch.tensor(0.75 ** 2 + 0.25 ** 2)))
    assert cut.losses("generator", batch)["gan"][1].item() == pytest.approx(0.75 ** 2)


def test_the_discriminator_goes_first_on_the_translation_the_generator_then_learns_from():
    """One pass of G per step (as the official forward), made in D's phase, detached there, reused by G's."""
    cut = model()
    calls = []
    cut.g.register_forward_hook(lambda *_: calls.append(1))
    batch = Batch(images(), images(seed=1))
    d = cut.losses("discriminator", batch)
    sum(w * v for w, v in d.values()).backward()
    assert all(p.grad is None for p in cut.g.parameters())  # D's loss sees a detached G(x)
    fake = cut._step[1][0]
    g = cut.losses("generator", batch)
    assert len(calls) == 1 and cut._step is None
    sum(w * v for w, v in g.values()).backward()
    assert all(p.grad is not None for p in [*cut.g.parameters(), *cut.head.parameters()])
    assert torch.equal(fake, cut.g(torch.cat([batch.a, batch.b]))[:2])
    cut.losses("generator", Batch(images(seed=2), images(seed=3)))  # another batch: G runs afresh
    assert len(calls) == 3


def test_identity_nce_is_patch_nce_between_real_b_and_g_of_real_b():
    cut = model()
    batch = Batch(images(), images(seed=1))
    torch.manual_seed(7)
    cut.losses("discriminator", batch)
    fake_b, idt_b, flipped = cut._step[1]
    assert torch.equal(idt_b, cut.g(batch.b)) and not flipped
    torch.manual_seed(8)
    losses = cut.losses("generator", batch)
    torch.manual_seed(8)
    assert torch.equal(losses["nce"][1], cut.patch_nce(batch.a, fake_b, False))
    assert torch.equal(losses["nce_idt"][1], cut.patch_nce(batch.b, idt_b, False))


def test_fastcut_flips_half_its_steps_and_compares_the_output_unflipped():
    fast, cut = model(mode="fastcut"), model()
    a = images(1)
    torch.manual_seed(0)
    draws = [fast.generate(Batch(a, a)) for _ in range(60)]
    flips = [d[2] for d in draws]
    assert 15 < sum(flips) < 45
    mirrored = draws[flips.index(True)]
    assert torch.allclose(mirrored[0], fast.g(a.flip(3)), atol=1e-6) and mirrored[1] is None
    assert not any(cut.generate(Batch(a, a))[2] for _ in range(20))
    # on pixels (a layer that commutes with mirroring), a mirrored output of a mirrored input matches exactly
    pixels = model(mode="fastcut", nce_layers=[0])
    x = images(2)

    def nce(output, flipped):
        torch.manual_seed(3)
        return pixels.patch_nce(x, output, flipped)

    assert torch.equal(nce(x.flip(3), True), nce(x, False))
    assert nce(x.flip(3), False) > nce(x.flip(3), True)


# -- training, checkpoints -----------------------------------------------------------------------------------
def test_the_head_trains_and_is_checkpointed_and_a_whole_load_rebuilds_it(tmp_path):
    run = tmp_path / "run"
    config = load_config("cut-digits", [*TINY_RUN, *TINY_CUT, "train.steps=2", f"run_dir={run}"])
    trainer = Trainer(config)
    before = [p.detach().clone() for p in trainer.model.head.parameters()]
    trainer.fit()
    after = list(trainer.model.head.parameters())
    assert all(not torch.equal(x, y) for x, y in zip(before, after))
    saved = load_file(run / "checkpoints" / "step_00000002" / "model.safetensors")
    assert {k for k in saved if k.startswith("head.")} == {n for n, _ in trainer.model.named_parameters()
                                                           if n.startswith("head.")}
    whole, _, _ = load_trained(run, training=True)  # what xgan eval --gan-bound loads: H from the weights
    assert all(torch.equal(p, saved[f"head.{n}"]) for n, p in whole.head.named_parameters())
    check_phases(whole.phases())
    inference, _, _ = load_trained(run)
    assert not hasattr(inference, "head")


@pytest.mark.parametrize("preset", ["fastcut-digits", "cut-digits"])
def test_train_and_translate_end_to_end(preset, tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    assert main(["train", preset, *TINY_RUN, *TINY_CUT, "train.steps=2", "--out", str(run)]) == 0
    Image.new("RGB", (20, 20), "white").save(tmp_path / "x.png")
    assert main(["translate", str(run), str(tmp_path / "x.png"), "--to", "b", "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "x_to_b.png").size == (SIZE, SIZE)
