"""What the benchmark scripts share: running a command while watching its peak memory, and writing results."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path


def run_with_peak_memory(command: list[str], **popen) -> tuple[subprocess.Popen, str, float, float]:
    """Run ``command`` to the end; return the process, its stdout, wall seconds and peak resident MB.

    Peak memory is the process's VmHWM, polled from /proc every 50 ms while it runs.
    """
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, **popen)
    peak_kb = 0
    while process.poll() is None:
        try:
            with open(f"/proc/{process.pid}/status") as status:
                peak_kb = max([peak_kb] + [int(line.split()[1]) for line in status if line.startswith("VmHWM:")])
        except OSError:
            pass
        time.sleep(0.05)
    return process, process.stdout.read(), time.perf_counter() - started, peak_kb / 1024


def write_results(directory: str | Path, name: str, results: dict, markdown_lines: list[str]) -> None:
    """``name``.json (everything measured) and ``name``.md (the table for the README), and the table on stdout."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (directory / f"{name}.md").write_text("\n".join(markdown_lines) + "\n")
    print("\n".join(markdown_lines))
