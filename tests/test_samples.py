import torch

from xgan.models.xgan import XGAN, XGANConfig
from xgan.samples import LABEL_WIDTH, translation_grid


def test_translation_grid_shows_every_row_of_both_directions():
    model = XGAN(XGANConfig(width=0.125, embedding_dim=16), 16)
    a, b = torch.zeros(3, 3, 16, 16), torch.zeros(5, 3, 16, 16)
    grid = translation_grid(model, a, b, scale=1)
    # input, reconstruction, translation, cycle for A and for B; 3 columns, the smaller split's count
    assert grid.height == 8 * 16
    assert grid.width - LABEL_WIDTH == 3 * 16
