import sys
from pathlib import Path

import pytest
from conftest import TINY_MODEL, TINY_RUN

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from compare import MODELS, cpu_seconds_per_step  # noqa: E402

from xgan.config import load_config  # noqa: E402


@pytest.mark.parametrize("preset", [preset.format(task="digits") for _, preset in MODELS])
def test_the_calibration_step_runs_every_compared_preset(preset, tmp_path):
    """compare.py sizes each model's budget from a few timed steps, which must run on the presets as shipped
    (the XGAN preset's batches carry domain A's labels for its task tower)."""
    tiny_model = TINY_MODEL[load_config(preset).model.name]
    assert cpu_seconds_per_step(preset, tmp_path / "run", (*TINY_RUN, *tiny_model)) > 0
