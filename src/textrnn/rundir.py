"""Run directories: what a training run writes besides the model, and the rules for using one.

A run directory holds the model files (:mod:`textrnn.saved_model`) plus

* ``run.json``: the full configuration, the data used, the exact command, the library versions and the
  ``status``: ``running``, ``finished``, or ``failed`` with the error;
* ``metrics.json``: test and validation metrics, per-epoch curves, row counts and timing;
* while training: ``checkpoint.safetensors`` (resume with ``textrnn train --resume RUN_DIR``) and ``.lock``.

A directory may be used for a new run when it is empty, or when the run in it failed or was killed before
its first checkpoint (nothing in it is worth keeping); otherwise the run refuses to overwrite it.
"""

from __future__ import annotations

import os
import platform
import re
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Sequence

from . import __version__
from .artifacts import read_json
from .errors import ModelFileError, RunDirError
from .files import write_json_atomic
from .params import RunConfig

CHECKPOINT_FILE = "checkpoint.safetensors"  # the run directory's checkpoint (written by textrnn.train.checkpoint)

LOCK_FILE = ".lock"


def default_run_dir(config: RunConfig, now: datetime | None = None) -> Path:
    """``runs/<what was trained>-<time>``: the preset, or the model and the dataset (``bigru64-reviews``)."""
    if config.preset and config.preset != "default":
        name = config.preset
    else:
        layers = f"x{config.num_layers}" if config.num_layers > 1 else ""
        model = f"{'bi' if config.bidirectional else ''}{config.cell}{config.hidden_size}{layers}"
        name = f"{model}-{dataset_name(config.dataset)}"
    return Path("runs") / f"{name}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"


def dataset_name(dataset: str) -> str:
    """A short file-name-safe name for a dataset: ``ag_news``, a file's stem, a Hugging Face name."""
    text = str(dataset).removeprefix("hf:").rstrip("/\\")
    stem = Path(text).name.split(".")[0] or "data"
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem)[:40]


def check_usable(run_dir: Path, resume: bool) -> None:
    """Refuse a directory that holds another run's results; explain what to do instead."""
    if resume:
        if not (run_dir / CHECKPOINT_FILE).is_file():
            status = read_status(run_dir)
            why = f"the run {status['status']}" if status else "there is no run.json"
            if status and status.get("error"):
                why += f" ({status['error']})"
            raise RunDirError(f"resume: {run_dir} has no checkpoint to continue from: {why}, before its first "
                              f"checkpoint. Run the same command again without --resume to start it afresh")
        return
    if not run_dir.exists() or not any(p.name != LOCK_FILE for p in run_dir.iterdir()):
        return
    status = read_status(run_dir)
    if status and status["status"] == "failed":
        return  # nothing finished in it; the same command may try again
    if status and status["status"] == "running" and not (run_dir / CHECKPOINT_FILE).is_file():
        return  # killed before its first checkpoint (a live run holds the lock, checked next)
    raise RunDirError(f"run directory {run_dir} already exists and is not empty; choose another --out "
                      f"(or continue an interrupted run with --resume {run_dir})")


def read_status(run_dir: Path) -> dict | None:
    """``{"status": ..., "error": ...}`` from run.json, or None where there is none."""
    path = run_dir / "run.json"
    if not path.is_file():
        return None
    try:
        record = read_json(path)
    except ModelFileError:
        return None
    return {"status": record.get("status", "unknown"), "error": record.get("error")} if isinstance(record, dict) else None


@contextmanager
def locked(run_dir: Path):
    """Hold an exclusive lock on ``run_dir`` so that two processes never write one run directory.

    The lock is an OS file lock: it goes away with the process, even after SIGKILL, so a crashed run never
    leaves a stale lock behind. The lock file is never followed if it is a symbolic link.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_FILE
    if path.is_symlink():
        raise RunDirError(f"{path} is a symbolic link; textrnn does not write through links it did not make")
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        if not _try_lock(descriptor):
            holder = os.read(descriptor, 200).decode(errors="replace").strip() or "another process"
            raise RunDirError(f"{run_dir} is in use by {holder}; wait for it to finish or choose another --out")
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"pid {os.getpid()}".encode())
        remove_interrupted_writes(run_dir)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def remove_interrupted_writes(run_dir: Path) -> list[str]:
    """Delete the temporary files of saves that were interrupted (``.NAME.RANDOM.tmp``, see :mod:`textrnn.files`).
    Only called while holding the directory's lock: no other textrnn process can be writing them."""
    removed = []
    for leftover in run_dir.glob(".*.tmp"):
        if leftover.is_file() and not leftover.is_symlink():
            leftover.unlink()
            removed.append(leftover.name)
    return removed


def _try_lock(descriptor: int) -> bool:
    try:
        import fcntl
    except ModuleNotFoundError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def run_record(config: RunConfig, argv: Sequence[str] | None, started_at: datetime, status: str) -> dict:
    import lightning_fabric
    import tokenizers
    import torch

    return {
        "command": list(argv) if argv is not None else None,
        "config": config.model_dump(),
        "status": status,
        "started": started_at.isoformat(timespec="seconds"),
        "versions": {
            "textrnn": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning_fabric": lightning_fabric.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": cpu_count(),
                    "torch_threads": torch.get_num_threads()},
    }


def update_record(run_dir: Path, **changes) -> None:
    """Change fields of run.json (its status, say) in place, atomically."""
    record = read_json(run_dir / "run.json")
    record.update(changes)
    write_json_atomic(run_dir / "run.json", record)


def cpu_count() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def read_run_config(run_dir: str | Path) -> RunConfig | None:
    """The :class:`RunConfig` a run directory was trained with, or None for a bare saved model."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        return None
    record = read_json(path)
    try:
        return RunConfig(**record["config"])
    except Exception as error:
        raise ModelFileError(f"{path}: unusable run record ({error})") from None
