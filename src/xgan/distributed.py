"""torch.distributed for the Trainer: one process per device, launched by torchrun.

    torchrun --nproc_per_node=4 -m xgan train digits                          one machine, 4 GPUs
    torchrun --nnodes=2 --node_rank=R --rdzv_backend=c10d --rdzv_endpoint=HOST:29500 --nproc_per_node=8 -m xgan train ...

Each rank takes its slice of every global batch (train.batch_size is the global batch) and DistributedDataParallel
averages the gradients, so a step equals a single-process step on the whole batch. Rank 0 alone logs, samples,
evaluates and checkpoints; every rank loads the same checkpoint on resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def join(device: torch.device) -> World:
    """The world torchrun describes in the environment (a one-process world without it), its process group
    started: NCCL on CUDA, gloo otherwise."""
    world = World(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))
    if world.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world


def local_device(device: torch.device, world: World) -> torch.device:
    """One GPU per process: cuda:LOCAL_RANK when distributed on CUDA."""
    if world.distributed and device.type == "cuda" and device.index is None:
        torch.cuda.set_device(world.local_rank)
        return torch.device("cuda", world.local_rank)
    return device


def mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of `value` over all ranks (itself when not distributed); every rank must call it."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    reduced = value.detach().clone().float()
    dist.all_reduce(reduced)
    return reduced / dist.get_world_size()


def rank_share() -> tuple[int, int]:
    """(rank, world size): this process takes rows rank::size of every global batch ((0, 1) when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def leave() -> None:
    """Tear the process group down while the interpreter is whole: left to exit, gloo's worker threads can abort
    the process (SIGABRT, "terminate called without an active exception") after a run that succeeded."""
    barrier()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


class LossesOf(nn.Module):
    """A model's `losses` as a forward, so that DistributedDataParallel sees (and synchronises) each phase."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, phase: str, batch):
        return self.model.losses(phase, batch)


def wrap(model: nn.Module, device: torch.device, world: World):
    """model.losses inside DistributedDataParallel when distributed (None otherwise). Buffers are not broadcast: each rank keeps
    its own image pool, and every other buffer moves identically on all ranks."""
    if not world.distributed:
        return None
    import warnings

    from torch.nn.parallel import DistributedDataParallel

    warnings.filterwarnings("ignore", message=".*broadcast_buffers.*deprecated", category=FutureWarning)
    return DistributedDataParallel(LossesOf(model), device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=True, broadcast_buffers=False)
