"""How long the command line takes to answer: help, errors, and one prediction from a run directory and an export.

Trains a small run of the default architecture (bidirectional GRU, 64 units; 600 synthetic rows, so a small
vocabulary) once, and a copy of it with its ONNX export, then runs each command ``--repeat`` times in a fresh
process and reports the median wall time, beside a bare Python start and ``import torch`` measured in the same
run: the floors no command, and no command that needs PyTorch, can beat on this machine at this minute.

    python bench/startup.py [--repeat 7]      (results: bench/results/startup.{json,md})

Targets: any error and any --help under 1 s; one text from a run directory under 2 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import synthetic_corpus  # noqa: E402
from measure import write_results  # noqa: E402

TARGETS = {"help": 1.0, "error": 1.0, "prediction from a run directory": 2.0}


def cases(work: Path) -> list[tuple[str, str, list[str]]]:
    """(kind, what, arguments of textrnn) for every command timed."""
    run, exported, data = work / "run", work / "exported", work / "train.csv"
    return [
        ("floor", "python -c pass (no textrnn)", ["-c", "pass"]),
        ("floor", "python -c 'import torch' (no textrnn)", ["-c", "import torch"]),
        ("help", "textrnn --help", ["--help"]),
        ("help", "textrnn train --help", ["train", "--help"]),
        ("error", "train: the data file does not exist", ["train", "--dataset", str(work / "missing.csv")]),
        ("error", "train: no such label column", ["train", "--dataset", str(data), "--label-column", "stars"]),
        ("error", "predict: no such run directory", ["predict", str(work / "no-run"), "some text"]),
        ("error", "evaluate: the test file does not exist", ["evaluate", str(run), "--test-data", str(work / "x.csv")]),
        ("prediction from a run directory", "predict RUN \"text\" (PyTorch)", ["predict", str(run), "a late goal"]),
        ("prediction from a run directory", "predict RUN \"text\" (RUN has an export)",
         ["predict", str(exported), "a late goal"]),
        ("prediction from an export", "predict RUN/onnx \"text\"", ["predict", str(exported / "onnx"), "a late goal"]),
    ]


def timed(arguments: list[str], repeat: int) -> tuple[float, int]:
    """Median wall seconds of ``repeat`` fresh processes, and the exit code of the last one."""
    command = [sys.executable, *arguments] if arguments[0] == "-c" else [sys.executable, "-m", "textrnn", *arguments]
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result.returncode


def prepare(work: Path) -> None:
    texts, labels = synthetic_corpus(600)
    (work / "train.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts, labels)))
    subprocess.run([sys.executable, "-m", "textrnn", "train", "--dataset", str(work / "train.csv"), "--out",
                    str(work / "run"), "--epochs", "2", "--no-verbose"], check=True, capture_output=True)
    shutil.copytree(work / "run", work / "exported")
    subprocess.run([sys.executable, "-m", "textrnn", "export", str(work / "exported")], check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        prepare(work)
        rows = []
        for kind, what, arguments in cases(work):
            seconds, code = timed(arguments, args.repeat)
            rows.append({"kind": kind, "what": what, "seconds": round(seconds, 3), "exit_code": code,
                         "target_seconds": TARGETS.get(kind)})
    command = "python bench/startup.py " + shlex.join(sys.argv[1:])
    lines = [f"Command: `{command.strip()}`. Median of {args.repeat} fresh processes each; {platform.platform()}, "
             f"{os.cpu_count()} CPUs, Python {platform.python_version()}.", "",
             "| what | kind | seconds (median) | target | exit code |", "|---|---|---:|---:|---:|"]
    for row in rows:
        target = f"< {row['target_seconds']:g} s" if row["target_seconds"] else "-"
        lines.append(f"| {row['what']} | {row['kind']} | {row['seconds']:.2f} | {target} | {row['exit_code']} |")
    missed = [row["what"] for row in rows if row["target_seconds"] and row["seconds"] >= row["target_seconds"]]
    lines += ["", "Every target met." if not missed else "Targets missed: " + "; ".join(missed) + "."]
    write_results(Path(__file__).resolve().parent / "results", "startup",
                  {"command": command, "repeat": args.repeat, "machine": platform.platform(), "cpus": os.cpu_count(),
                   "rows": rows}, lines)


if __name__ == "__main__":
    main()
