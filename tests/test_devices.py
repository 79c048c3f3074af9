import torch

from xgan.devices import pick_device


def test_auto_device_falls_back_to_cpu_and_explicit_devices_are_kept():
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert pick_device("auto").type in ("cpu", "mps")
