"""The errors textrnn reports to its users, in a module that imports nothing heavy.

The command line catches these and prints their message; anything else is a bug. They live here,
not beside the code that raises them, so that the command line and the ONNX runtime can name them
without importing PyTorch.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A parameter has a value textrnn cannot use; the message names the parameter."""


class DataError(ValueError):
    """The data cannot be used as it is; the message says where (file, row, field) and why."""


class RowError(DataError):
    """One row cannot be used; with ``on_bad_rows="skip"`` it is reported and left out instead of stopping."""

    def __init__(self, path: Path, where: str, reason: str, field: str | None = None, content: object = None):
        self.path, self.where, self.reason, self.field, self.content = path, where, reason, field, content
        place = f"{path}, {where}" + (f", field {field!r}" if field else "")
        super().__init__(f"{place}: {reason}")

    def record(self) -> dict:
        """The JSON line written to the side file of skipped rows."""
        return {"file": str(self.path), "where": self.where, "field": self.field, "reason": self.reason,
                "content": self.content if isinstance(self.content, (str, dict, list)) else repr(self.content)}


class ModelFileError(ValueError):
    """A saved model directory is missing a file or holds something that does not fit together."""


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, or does not belong to this run."""


class MemoryBudgetError(ValueError):
    """A batch would need more memory than the budget allows; raised before it is tried."""


class RunDirError(ValueError):
    """The run directory cannot be used: it holds another run, or another process is writing to it."""


class ExportError(ValueError):
    """An export directory is missing a file, holds files that do not fit together, or would disagree."""


_QUOTED = reprlib.Repr()  # Python 3.11's Repr takes its limits as attributes
_QUOTED.maxlevel, _QUOTED.maxstring, _QUOTED.maxother = 2, 60, 60
_QUOTED.maxlist = _QUOTED.maxtuple = _QUOTED.maxdict = _QUOTED.maxset = 4


def quoted(value: Any) -> str:
    """A value as a message shows it: its repr, bounded (a few items of a list, the start of a long string), so
    that quoting what a user gave never costs more than the message itself (a YAML alias bomb, a huge text)."""
    return _QUOTED.repr(value)


def listed(names, limit: int = 12) -> str:
    """Names joined for a message, at most ``limit`` of them and how many more (10,000 classes, one line)."""
    names = [str(name)[:60] for name in names]
    more = f" and {len(names) - limit:,} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


MAX_PROBLEMS_SHOWN = 20  # an error message lists at most this many parameters


def format_validation_error(error) -> str:
    """Pydantic's ``ValidationError`` as one line per bad parameter: its name, what was wrong, and the value
    given. A parameter that takes one of several kinds (a number or ``auto``) gets one line listing what each
    kind would have needed."""
    problems: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    for item in error.errors(include_url=False):
        name = str(item["loc"][0])[:80] if item["loc"] else "config"
        message = "unknown parameter" if item["type"] == "extra_forbidden" else item["msg"]
        if message not in problems.setdefault(name, []):
            problems[name].append(message)
        values.setdefault(name, item["input"])
    lines = [f"{name}: {', or '.join(m[0].lower() + m[1:] if i else m for i, m in enumerate(messages[:4]))}"
             + ("" if messages == ["unknown parameter"] else f" (got {quoted(values[name])})")
             for name, messages in list(problems.items())[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"... and {len(problems) - MAX_PROBLEMS_SHOWN:,} more")
    return "invalid parameters:\n  " + "\n  ".join(lines)


# Every error a user can cause: the command line prints these as one line, anything else is a bug.
USER_ERRORS = (ConfigError, DataError, ModelFileError, CheckpointError, MemoryBudgetError, RunDirError, ExportError)


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; a checkpoint was written and the run can be resumed."""

    def __init__(self, signal_name: str, state: Any, checkpoint: Path | None) -> None:
        self.signal_name, self.state, self.checkpoint = signal_name, state, checkpoint
        super().__init__(f"{signal_name}: stopped in epoch {state.epoch} after {state.step} batches; checkpoint {checkpoint}")
