import torch

from xgan.models.teachers import printed_digit_features


def test_printed_digit_teacher_is_a_frozen_feature_extractor_at_any_size():
    teacher = printed_digit_features()
    assert not any(p.requires_grad for p in teacher.parameters())
    for size in (16, 32, 64):
        features = teacher(torch.rand(2, 3, size, size) * 2 - 1)
        assert features.shape == (2, 128) and torch.isfinite(features).all()
    again = printed_digit_features()  # from the cache: the same weights
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    assert torch.equal(teacher(x), again(x))
