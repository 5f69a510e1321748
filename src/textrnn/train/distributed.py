"""Processes and devices: one Lightning Fabric per process, and data-parallel training across several.

With ``devices`` or ``num_nodes`` above 1, training runs as PyTorch DistributedDataParallel: one process
per device (gloo on CPU, NCCL on GPU), each training on its own share of the batches, gradients averaged
every step. Fabric starts the extra local processes itself (it runs the same command again with
``LOCAL_RANK`` set), or finds them already started by ``torchrun`` (multi-node). Only rank 0 writes
files and prints; every rank reaches the same decisions because the figures they rest on (loss,
accuracy, validation) are summed over all ranks first.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ..errors import ConfigError

_fabric: Any = None  # the launched Fabric of a data-parallel process (launching happens once per process)
_fabric_key: tuple | None = None


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {device!r} was asked for, but PyTorch sees no CUDA device here")
    return device


def is_distributed(devices: int, num_nodes: int) -> bool:
    return devices * num_nodes > 1 or "TORCHELASTIC_RUN_ID" in os.environ


def get_fabric(device: str, devices: int = 1, num_nodes: int = 1):
    """The Fabric that places tensors (and, data-parallel, synchronises gradients) for this process.

    A single-device Fabric is cheap and made fresh each time. A data-parallel one starts processes
    and a process group, so it is made once per process and every later call must ask for the same.
    """
    from lightning_fabric import Fabric  # imported here: it adds seconds to start-up that prediction does not need

    global _fabric, _fabric_key
    accelerator, _, index = resolve_device(device).partition(":")
    if not is_distributed(devices, num_nodes):
        return Fabric(accelerator=accelerator, devices=[int(index)] if index else 1, precision="32-true")
    if index:
        raise ConfigError(f"device: with devices={devices} and num_nodes={num_nodes}, give cpu, cuda or auto, "
                          f"not one device ({device!r})")
    key = (accelerator, devices, num_nodes)
    if _fabric is not None:
        if key != _fabric_key:
            raise ConfigError(f"this process already trains data-parallel as {_fabric_key}; it cannot switch to {key}")
        return _fabric
    if accelerator == "cuda" and devices > torch.cuda.device_count():
        raise ConfigError(f"devices: {devices} asked for, but this machine has {torch.cuda.device_count()} CUDA devices")
    fabric = Fabric(accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy="ddp",
                    precision="32-true")
    fabric.launch()
    _fabric, _fabric_key = fabric, key
    return fabric


def rank() -> int:
    """This process's global rank (0 without data parallelism)."""
    return _fabric.global_rank if _fabric is not None else 0


def world_size() -> int:
    return _fabric.world_size if _fabric is not None else 1


def is_rank_zero() -> bool:
    return rank() == 0


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (a plain object)."""
    return _fabric.broadcast(value, src=0) if _fabric is not None else value


def sum_over_ranks(*values: float) -> list[float]:
    """Each value summed over all ranks, in float64 so that counts stay exact."""
    if _fabric is None:
        return list(values)
    total = _fabric.all_reduce(torch.tensor(values, dtype=torch.float64, device=_fabric.device), reduce_op="sum")
    return total.cpu().tolist()


def all_gather_objects(value: Any) -> list[Any]:
    """Every rank's ``value``, in rank order."""
    if _fabric is None:
        return [value]
    import torch.distributed as dist

    gathered: list[Any] = [None] * world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def all_have_batch(have: bool) -> bool:
    """True while every rank still has a batch: ranks whose shares differ in size stop together."""
    if _fabric is None:
        return have
    flag = _fabric.all_reduce(torch.tensor([1.0 if have else 0.0], device=_fabric.device), reduce_op="min")
    return bool(flag.item() > 0)


def log(message: str) -> None:
    """Progress messages go to stderr, from rank 0 only."""
    if is_rank_zero():
        import sys

        print(message, file=sys.stderr, flush=True)
