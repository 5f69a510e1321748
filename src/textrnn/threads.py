"""How many CPU threads to compute with, on a machine that other processes may share.

PyTorch's worker threads wait for work by spinning. On an idle 2-core machine two threads train the default
model about 1.35x faster than one; but when another process holds a core, the spinning threads fight it for
the core they wait on: two threads became 2.6x slower than one beside one busy process, and up to 96x slower
beside two (``bench/contention.py``). Waiting passively instead (``OMP_WAIT_POLICY=PASSIVE``) halves the idle speed.
So ``threads="auto"`` leaves a core free: one thread on a machine of 2 cores or fewer (slower when the machine
is idle, but it cannot collapse), half the cores this process may use on bigger
machines (CPU affinity and a container's CPU quota count; up to 8). The choice depends on the machine, never
on its load at the moment, so the same command gives the same bits run after run.
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path

MAX_AUTO_THREADS = 8


@functools.cache  # the machine does not change under a running process; predict asks on every call
def allowed_cpus() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup (container) CPU quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def resolve_threads(setting: str | int) -> tuple[int, str]:
    """The thread count for ``setting`` (``auto`` or a number) and why."""
    if setting != "auto":
        return int(setting), "given"
    cpus = allowed_cpus()
    if cpus <= 2:
        return 1, f"{cpus} cores: one thread leaves a core to other processes (spinning threads collapse beside them)"
    threads = min(MAX_AUTO_THREADS, cpus // 2)
    return threads, f"{cpus} cores: half of them, so that other processes keep some"


class torch_threads:
    """Within the block, PyTorch computes with ``count`` threads; the previous count comes back after."""

    def __init__(self, count: int) -> None:
        self.count = count

    def __enter__(self) -> "torch_threads":
        import torch

        self.previous = torch.get_num_threads()
        if self.count != self.previous:
            torch.set_num_threads(self.count)
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if torch.get_num_threads() != self.previous:
            torch.set_num_threads(self.previous)
