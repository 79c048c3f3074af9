"""Picking the torch device from a setting (train.device, --device, xgan.load's device): one leaf module, so the
CLI, the API and the server need not import the Trainer for it."""

from __future__ import annotations

import torch


def pick_device(spec: str = "auto", option: str = "train.device") -> torch.device:
    """`spec` (auto | cpu | cuda | cuda:N | mps) as a device that exists here; `option` names the setting in errors.
    auto picks CUDA, then MPS, then the CPU."""
    if spec != "auto":
        try:
            device = torch.device(spec)
        except RuntimeError:
            raise ValueError(f"{option}={spec!r} is not a device (auto, cpu, cuda, cuda:N, mps)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{option}={spec}, but CUDA is not available here (torch {torch.__version__}); "
                             f"use {option}=auto or cpu")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"{option}={spec}, but this machine has {torch.cuda.device_count()} CUDA device(s)")
        if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"{option}=mps, but MPS is not available here; use {option}=auto or cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
