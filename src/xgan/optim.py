"""The optimisers a Phase declares (models/base.py), for the Trainer and for anything else that trains a model's
phases (the GAN bound's rival)."""

from __future__ import annotations

from typing import Any

import torch


def make_optimizer(params: list[torch.nn.Parameter] | list[dict[str, Any]], lr: float, betas: tuple[float, float],
                   device: torch.device, kind: str = "adam", weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam, fused into one kernel per step where PyTorch has one for the device (CPU and CUDA), or RMSprop with
    PyTorch's defaults but the lr (`betas` unused), as the WGAN paper's critic. `params` may be torch's parameter
    groups (a group's own "lr" replaces `lr`: Phase.param_groups)."""
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if kind != "adam":
        raise ValueError(f"unknown optimizer {kind!r} (adam, rmsprop)")
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay,
                            fused=True if device.type in ("cpu", "cuda") else None)


@torch.no_grad()
def clip_parameters(params: list[torch.nn.Parameter], bound: float) -> None:
    """Clamp every parameter to [-bound, bound] in place (WGAN's weight clipping)."""
    for p in params:
        p.clamp_(-bound, bound)
