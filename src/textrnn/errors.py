"""The errors textrnn reports to its users, in a module that imports nothing heavy.

The command line catches these and prints their message; anything else is a bug. They live here,
not beside the code that raises them, so that the command line and the ONNX runtime can name them
without importing PyTorch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


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


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; a checkpoint was written and the run can be resumed."""

    def __init__(self, signal_name: str, state: Any, checkpoint: Path | None) -> None:
        self.signal_name, self.state, self.checkpoint = signal_name, state, checkpoint
        super().__init__(f"{signal_name}: stopped in epoch {state.epoch} after {state.step} batches; checkpoint {checkpoint}")
