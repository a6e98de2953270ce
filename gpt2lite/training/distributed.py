"""Several processes started by torchrun: which one this is, joining them, averaging over them, sharing a batch.

In a single process (the usual case in a notebook) every function here is the plain, one-process version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed

from ..data import get_batch


@dataclass
class _Processes:
    """Which process this is when torchrun started several, and how many there are."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls) -> _Processes:
        if not torch.distributed.is_initialized():
            return cls()
        return cls(torch.distributed.get_rank(), torch.distributed.get_world_size())

    @property
    def is_main(self) -> bool:
        return self.rank == 0  # the one process that prints and saves


def _start_distributed(device: torch.device) -> tuple[torch.device, bool]:
    """Join the process group if torchrun started several processes; pick this process's GPU.

    Returns the device and whether we created the process group (and so must destroy it).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return device, False
    started_here = not torch.distributed.is_initialized()
    if started_here:
        # NCCL moves gradients from GPU to GPU; gloo works between CPU processes (the tests use it).
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    return device, started_here


def _mean_tensor_over_processes(value: torch.Tensor, procs: _Processes) -> torch.Tensor:
    """The average of a 0-d tensor over all processes, still on the device (value itself in a single process).

    A tensor operation: it does not wait for the GPU, so the training loop can call it on every step.
    """
    if procs.world_size > 1:
        value = value.clone()
        torch.distributed.all_reduce(value)  # a sum: gloo cannot average
        value /= procs.world_size
    return value


def _mean_over_processes(value: torch.Tensor, procs: _Processes) -> float:
    """The average of a scalar over all processes, as a Python float (read back: waits for the GPU)."""
    return _mean_tensor_over_processes(value, procs).item()


def _draw_batches(
    data: torch.Tensor,
    micro_batches: int,
    batch_size: int,
    block_size: int,
    generator: torch.Generator,
    procs: _Processes,
) -> tuple[torch.Tensor, torch.Tensor]:
    """This process's share of one step's batch: x and y, each (micro_batches, B, T).

    Every process draws the same global batch from an identically seeded generator and keeps its
    own slice. So the processes see different sequences, together exactly the ones one process
    would see with a batch world_size times larger, and the generator state saved in a checkpoint
    is right for all of them.
    """
    shape = (micro_batches, procs.world_size, batch_size, block_size)
    x, y = get_batch(data, micro_batches * procs.world_size * batch_size, block_size, generator)  # (M * W * B, T)
    return x.reshape(shape)[:, procs.rank], y.reshape(shape)[:, procs.rank]  # (M, B, T)
