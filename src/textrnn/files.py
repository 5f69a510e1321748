"""Writing files so that a crash never leaves a half-written one: write a temporary file, then rename."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by their owner only; saved models get the usual permissions instead.
FILE_MODE = 0o666 & ~_current_umask()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(temporary, FILE_MODE)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def json_bytes(data: object) -> bytes:
    """The JSON form of every file textrnn writes: indented, UTF-8, ending with a newline."""
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_json_atomic(path: str | os.PathLike, data: object) -> None:
    write_bytes_atomic(path, json_bytes(data))


def write_files_atomic(directory: str | os.PathLike, files: dict[str, bytes], last: str | None = None) -> None:
    """Write several files so that a failure while writing leaves every previous file untouched.

    All contents go to temporary files first (the slow part, where a full disk or a crash strikes);
    only then are they renamed into place, ``last`` at the end. A reader that finds ``last`` can
    check the others against the hashes it records.
    """
    directory = Path(directory)
    temporaries: dict[str, str] = {}
    try:
        for name, data in files.items():
            handle, temporaries[name] = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
            os.chmod(temporaries[name], FILE_MODE)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
    except BaseException:
        for temporary in temporaries.values():
            Path(temporary).unlink(missing_ok=True)
        raise
    for name in sorted(files, key=lambda n: n == last):
        os.replace(temporaries[name], directory / name)
    if hasattr(os, "O_DIRECTORY"):
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def temporary_prefix(target: Path) -> str:
    """The start of the name of a temporary file or directory made beside ``target`` by this process: it names
    the process, so that one left by a killed process can be told from one in use (:func:`remove_stale`)."""
    return f".{target.name}.{os.getpid()}."


def remove_stale(target: Path) -> None:
    """Remove the temporaries beside ``target`` that a killed process left (see :func:`temporary_prefix`)."""
    if os.name == "nt" or not target.parent.is_dir():  # there, os.kill(pid, 0) would end the process it names
        return
    start = f".{target.name}."
    for path in target.parent.iterdir():
        pid = path.name[len(start):].split(".")[0] if path.name.startswith(start) else ""
        if path.name.endswith(".tmp") and pid.isdigit() and not _running(int(pid)) and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
