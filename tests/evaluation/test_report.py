from xgan.evaluation.report import plotted


def test_every_phase_of_any_model_is_plotted_and_diagnostics_are_not():
    """The report knows no phase names: a new model's phases are plotted the moment they are logged."""
    tags = ["generators/gan", "critics/d_a", "autoencoder/rec", "eval/kid_ab", "eval/gt_top1_pixel_identity_ab",
            "stats/gan_d2_accuracy", "speed/steps_per_s", "collapse/collapse_spread_ab"]
    assert plotted(tags) == ["generators/gan", "critics/d_a", "autoencoder/rec", "eval/kid_ab"]
