"""How many CPU threads to compute with, on a machine that other processes may share.

PyTorch's worker threads wait for work by spinning. On an idle 2-core machine two threads train the default
model about 1.35x faster than one; but when another process holds a core, the spinning threads fight it for
the core they wait on: two threads became 2.6x slower than one beside one busy process, and up to 96x slower
beside two (``bench/contention.py``). Waiting passively instead (``OMP_WAIT_POLICY=PASSIVE``) halves the idle
speed. So ``threads="auto"`` uses the cores that other processes leave free: the cores this process may use
(CPU affinity and a container's CPU quota count; up to 8), less those other processes are busy on, measured
over a fifth of a second. Training looks again every 2 seconds (:class:`ThreadWatch`) and steps down when
another process starts, back up when it ends. Prediction never waits for a measurement (a single text takes
about a millisecond): it uses the load since its previous call, or leaves a core free when it has none.

The thread count changes the last bits of floating-point sums, so ``auto`` gives the same bits run after run
only while the machine's load gives the same count; ``threads=N`` fixes it.
"""

from __future__ import annotations

import functools
import math
import os
import time
from pathlib import Path

MAX_AUTO_THREADS = 8
SAMPLE_SECONDS = 0.2  # long enough for the kernel's 10 ms CPU-time ticks to add up to a share
IGNORED_SHARE = 0.25  # other processes using less than a quarter of a core (daemons, a shell) leave it free
CGROUP = Path("/sys/fs/cgroup")


@functools.cache  # the machine does not change under a running process; predict asks on every call
def allowed_cpus() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup (container) CPU quota."""
    cpus = len(affinity())
    quota = cgroup_quota()
    return max(1, min(cpus, quota) if quota else cpus)


def affinity() -> set[int]:
    return os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))


def cgroup_quota() -> int | None:
    try:
        quota, period = (CGROUP / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):  # unreadable or nonsense (a zero period): no quota known
        return None


def cpu_seconds_used() -> float | None:
    """CPU seconds spent so far by everything that competes with this process for its cores: its container
    (cgroup) when a CPU quota limits it, otherwise the cores of its affinity; None where neither can be read."""
    try:
        if cgroup_quota():
            for line in (CGROUP / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
            return None
        allowed = affinity()
        ticks = 0
        for line in Path("/proc/stat").read_text().splitlines():
            name, *fields = line.split()
            if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in allowed:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
                ticks += user + nice + system + irq + softirq + steal
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuReading:
    """How many cores other processes kept busy between two readings (this process's own time taken out)."""

    def __init__(self) -> None:
        self.wall, self.used, self.own = time.monotonic(), cpu_seconds_used(), time.process_time()

    def cores_used_by_others(self) -> float | None:
        later = CpuReading()
        if self.used is None or later.used is None or later.wall <= self.wall:
            return None
        others = (later.used - self.used) - (later.own - self.own)
        return max(0.0, others / (later.wall - self.wall))


def busy_elsewhere(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores other processes keep busy, measured over ``seconds``; None where the system does not say."""
    reading = CpuReading()
    if reading.used is None:
        return None
    time.sleep(seconds)
    return reading.cores_used_by_others()


def threads_for(cpus: int, others: float | None) -> tuple[int, str]:
    """The thread count ``auto`` chooses on ``cpus`` cores while other processes use ``others`` cores, and why."""
    if others is None:  # the load is unknown: leave room, as on a busy machine
        if cpus <= 2:
            return 1, f"{cpus} cores, their load unknown: one thread leaves a core to other processes"
        return min(MAX_AUTO_THREADS, cpus // 2), f"{cpus} cores, their load unknown: half of them"
    held = math.ceil(others - IGNORED_SHARE) if others > IGNORED_SHARE else 0
    threads = max(1, min(MAX_AUTO_THREADS, cpus - held))
    measured = f"{cpus} cores, other processes use {others:.1f}"
    if held == 0:
        return threads, f"{measured}: all free" + (f" (at most {MAX_AUTO_THREADS})" if cpus > MAX_AUTO_THREADS else "")
    return threads, f"{measured}: {threads} left free" + ("" if cpus > held else " (one thread at least)")


REUSE_SECONDS = 5.0  # predict may be called in a loop: one choice serves the calls within this time
RECENT_SECONDS = 60.0  # without waiting, the load since an earlier call counts if that call was this recent
_last_choice: tuple[float, tuple[int, str]] | None = None
_last_reading: CpuReading | None = None


def resolve_threads(setting: str | int, wait: bool = True) -> tuple[int, str]:
    """The thread count for ``setting`` (``auto`` or a number) and why.

    ``auto`` measures the load for ``SAMPLE_SECONDS`` when ``wait`` (a fit, loading a predictor). Prediction
    calls with ``wait=False``, so a single text is never delayed: it uses the load since the previous call when
    that was recent, otherwise the rule for an unknown load.
    """
    global _last_choice, _last_reading
    if setting != "auto":
        return int(setting), "given"
    now = time.monotonic()
    if _last_choice is not None and now - _last_choice[0] < REUSE_SECONDS:
        return _last_choice[1]
    if _last_reading is not None and SAMPLE_SECONDS <= now - _last_reading.wall <= RECENT_SECONDS:
        others = _last_reading.cores_used_by_others()
    else:
        others = busy_elsewhere() if wait else None
    _last_reading = CpuReading()
    choice = threads_for(allowed_cpus(), others)
    _last_choice = (time.monotonic(), choice)
    return choice


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
