"""Saved directories: one writer and one loader for a model, an ONNX export and a language model.

Each of them is a directory of plain files plus one JSON *manifest* (``config.json``, ``export.json``,
``lm.json``) that names the format and records a SHA-256 of every other file. Writing puts every file
under a temporary name first and renames the manifest last, so a crash or a full disk never leaves a
mix of old and new files that a reader would accept. Reading checks, before anything is parsed, that
no file in the directory is a pickle (a format that runs code when loaded), that every required file
is there, that the manifest names a format this version reads, and that each file is the one the
manifest was written with.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from .errors import ModelFileError
from .files import json_bytes, write_files_atomic

PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".joblib")


def write_artifact(directory: str | Path, files: dict[str, bytes], manifest_name: str, manifest: dict) -> Path:
    """Write ``files`` and the ``manifest`` (with the files' SHA-256 added) into ``directory``, atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {**manifest, "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
    write_files_atomic(directory, {**files, manifest_name: json_bytes(manifest)}, last=manifest_name)
    return directory


def read_artifact(
    directory: str | Path,
    manifest_name: str,
    formats: Sequence[str],
    required: Sequence[str],
    error: type[Exception] = ModelFileError,
) -> dict:
    """The checked manifest of a saved directory; ``error`` (with a message naming the file) if anything is off.

    ``formats`` are the manifest formats this version reads (the newest first); ``required`` the other
    files that must be there. A file the manifest lists must have the recorded SHA-256, and may only be
    a plain name inside ``directory`` (never a path that leads out of it).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise error(f"{directory}: no such directory")
    unsafe = sorted(p.name for p in directory.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
    if unsafe:
        raise error(
            f"{directory} holds {', '.join(unsafe)}: a format that runs code when loaded (pickle). textrnn "
            "reads only JSON, safetensors and ONNX and refuses a directory with such a file in it"
        )
    for name in (manifest_name, *required):
        if not (directory / name).is_file():
            raise error(f"{directory}: missing {name} (expected {', '.join((manifest_name, *required))})")
    manifest = read_json(directory / manifest_name, error)
    if not isinstance(manifest, dict) or manifest.get("format") not in formats:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise error(f"{directory / manifest_name}: format {found!r}; this version of textrnn reads "
                    f"{', '.join(map(repr, formats))}")
    check_hashes(directory, manifest.get("sha256") or {}, error)
    return manifest


def check_hashes(directory: Path, hashes: dict, error: type[Exception]) -> None:
    for name, expected in hashes.items():
        if not is_plain_name(name):
            raise error(f"{directory}: the manifest names {name!r}, which is not a file in this directory")
        path = directory / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise error(
                f"{path} is missing or not the file the manifest was saved with (SHA-256 differs): "
                "the directory was changed or a save was cut short; refusing to mix them"
            )


def is_plain_name(name: Any) -> bool:
    """A file name with no directory part: what a manifest may point to."""
    return isinstance(name, str) and name not in ("", ".", "..") and Path(name).name == name and "\\" not in name


def read_json(path: Path, error: type[Exception] = ModelFileError) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as problem:  # RecursionError: nested thousands of levels deep
        raise error(f"{path}: not readable JSON ({str(problem)[:200]})") from None
