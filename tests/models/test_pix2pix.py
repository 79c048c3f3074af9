import pytest
import torch
from torch import nn

from conftest import TINY_RUN
from xgan.config import load_config
from xgan.data.task import ImageSet, Task
from xgan.models.base import Batch
from xgan.models.nets import patch_discriminator, unet_generator
from xgan.models.pix2pix import Pix2Pix, Pix2PixConfig, Pix2PixWeights
from xgan.trainer import Trainer

SIZE = 16


def model(**kwargs) -> Pix2Pix:
    torch.manual_seed(0)
    return Pix2Pix(Pix2PixConfig(width=0.125, discriminator_layers=2, **kwargs), SIZE)


def images(n: int = 4) -> torch.Tensor:
    return torch.rand(n, 3, SIZE, SIZE) * 2 - 1


class Constant(nn.Module):
    def __init__(self, output: torch.Tensor) -> None:
        super().__init__()
        self.output = output

    def forward(self, x):
        return self.output


class Halves(nn.Module):
    """A known conditional critic: the mean of its input's first three channels minus that of the last three."""

    def forward(self, xy):
        return (xy[:, :3].mean((1, 2, 3)) - xy[:, 3:].mean((1, 2, 3)))[:, None, None, None]


def test_the_l1_term_is_zero_for_the_true_target_and_weighted_by_lambda():
    x, y = images(), images()
    p2p = model(weights=Pix2PixWeights(l1=70.0))
    p2p.g = Constant(y)
    losses = p2p.losses("generator", Batch(x, y))
    assert losses["l1"][0] == 70.0 and losses["l1"][1].item() == pytest.approx(0.0)
    p2p.g = Constant(y + 0.5)
    assert p2p.losses("generator", Batch(x, y))["l1"][1].item() == pytest.approx(0.5)


def test_the_critic_is_conditional_and_its_loss_is_halved():
    """D judges (x, y) pairs: it sees the input in channels 1-3 and the image in 4-6, and minimises
    0.5 (BCE(D(x, y), 1) + BCE(D(x, G(x)), 0))."""
    x, y = torch.zeros(2, 3, SIZE, SIZE), torch.zeros(2, 3, SIZE, SIZE)
    p2p = model()
    p2p.d, p2p.g = Halves(), Constant(torch.ones(2, 3, SIZE, SIZE))  # D(x, y) = 0, D(x, G(x)) = -1
    generator = p2p.losses("generator", Batch(x, y))
    assert generator["gan"][1].item() == pytest.approx(-torch.nn.functional.logsigmoid(torch.tensor(-1.0)).item())
    critic = p2p.losses("discriminator", Batch(x, y))
    expected = torch.log(torch.tensor(2.0)) - torch.nn.functional.logsigmoid(torch.tensor(1.0))  # log 2 + log(1+e^-1)
    assert critic["d"][0] == 0.5 and critic["d"][1].item() == pytest.approx(expected.item())


@pytest.mark.parametrize("layers, field", [(0, 1), (1, 16), (2, 34), (3, 70)])
def test_patchgan_scores_see_the_receptive_field_the_paper_names(layers, field):
    """The gradient of one central score reaches exactly a field x field square of the input."""
    torch.manual_seed(0)
    critic = patch_discriminator(128, 0.125, "none", layers=layers, in_channels=6)
    x = torch.randn(1, 6, 128, 128, requires_grad=True)
    scores = critic(x)
    h, w = scores.shape[-2:]
    scores[0, 0, h // 2, w // 2].backward()
    rows, cols = torch.nonzero(x.grad[0].abs().sum(0), as_tuple=True)
    assert int(rows.max() - rows.min()) + 1 == field and int(cols.max() - cols.min()) + 1 == field


def test_a_patchgan_too_deep_for_the_image_is_refused():
    with pytest.raises(ValueError, match="no output at 16 px"):
        patch_discriminator(16, 1.0, "batch", layers=3)


def test_dropout_sits_on_the_three_decoder_stages_above_the_innermost():
    net = unet_generator(32, 0.125, "batch", dropout=0.5, dropout_innermost=False)
    with_dropout, level, depth = [], net, 0
    while level is not None:
        if any(isinstance(m, nn.Dropout) for m in level.up):
            with_dropout.append(depth)
        level, depth = level.inner, depth + 1
    assert depth == 5 and with_dropout == [1, 2, 3]  # 32 -> 16 -> 8 -> 4 -> 2 -> 1: the innermost is level 4


def shifted_task(count: int = 24) -> Task:
    """B is A plus 40 grey levels, image for image; A is smooth (random 4x4 colours, upsampled)."""
    g = torch.Generator().manual_seed(0)

    def pairs() -> tuple[ImageSet, ImageSet]:
        coarse = torch.rand(count, 3, 4, 4, generator=g) * 200
        a = torch.nn.functional.interpolate(coarse, size=SIZE, mode="bilinear").round().to(torch.uint8)
        ids = torch.arange(count)
        return ImageSet(a, ids=ids), ImageSet(a + 40, ids=ids)

    (train_a, train_b), (test_a, test_b) = pairs(), pairs()
    return Task(train_a, train_b, test_a, test_b, paired=True)


def tiny(tmp_path, *overrides: str, model: tuple[str, ...] = ("model.name=pix2pix", "model.discriminator_layers=2")):
    return load_config(None, [*model, *TINY_RUN, "model.width=0.125", f"run_dir={tmp_path / 'run'}", *overrides])


@pytest.mark.parametrize("augment", [[], ["data.flip=true", "data.load_size=20"]])
def test_every_batch_holds_pairs_even_when_cropped_and_flipped(tmp_path, augment):
    trainer = Trainer(tiny(tmp_path, *augment), task=shifted_task())
    for step in range(6):  # resizing to load_size may round a value one grey level apart
        batch = trainer.batch(step)
        assert torch.allclose(batch.b - batch.a, torch.full_like(batch.a, 40 / 127.5), atol=1.5 / 127.5)


def test_an_unpaired_model_on_a_paired_task_draws_its_domains_independently(tmp_path):
    trainer = Trainer(tiny(tmp_path, model=("model.name=cyclegan", "model.residual_blocks=1")), task=shifted_task())
    batch = trainer.batch(0)
    assert not torch.allclose(batch.b - batch.a, torch.full_like(batch.a, 40 / 127.5), atol=1.5 / 127.5)


def test_pix2pix_on_an_unpaired_task_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="trains on pairs, and data.task 'digits' has none"):
        Trainer(tiny(tmp_path, "data.task=digits"))


def test_a_short_run_learns_the_pairing(tmp_path):
    """On the shifted task, 150 steps take the translation well below the identity's L1 to the true target."""
    config = tiny(tmp_path, "train.steps=150", "train.lr=1e-3", "train.discriminator_lr=1e-3",
                  "train.sample_every=150", "train.checkpoint_every=150", "train.log_every=50")
    trainer = Trainer(config, task=shifted_task())
    trainer.fit()
    model = trainer.model.eval()
    task = trainer.task
    x = task.test_a.images.float() / 127.5 - 1
    y = task.test_b.images.float() / 127.5 - 1
    with torch.no_grad():
        error = (model.translate(x, "b") - y).abs().mean().item()
    assert error < 0.5 * (x - y).abs().mean().item()
