"""Several runs side by side: metrics, time, size, and the parameters in which they differ."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Sequence

from ..artifacts import read_json
from ..errors import ModelFileError, quoted
from ..rundir import read_status
from .baseline import composition

# Multi-label runs: "test accuracy" is subset accuracy; macro-F1 is their main figure, micro-F1 beside it.
# "RNN alone": a model that mixes in its bag-of-words path, without it (the same as the model when the weight is 0).
COLUMNS = ("run", "model", "test accuracy", "macro-F1", "micro-F1", "RNN alone accuracy", "baseline accuracy",
           "baseline macro-F1", "best val. accuracy", "train time", "texts/s", "parameters", "training rows")


def compare_runs(run_dirs: Sequence[str | Path]) -> tuple[list[dict], list[str], list[tuple[str, str]]]:
    """One row of figures per finished run, the names of the parameters whose values differ between them,
    and the directories left out with the reason (not a run, still running, failed)."""
    rows, configs, left_out = [], [], []
    for run_dir in map(Path, run_dirs):
        reason = _not_finished(run_dir)
        if reason:
            left_out.append((str(run_dir), reason))
            continue
        try:  # one damaged run is left out with its reason; the others are still compared
            metrics = read_json(run_dir / "metrics.json")
            config = read_json(run_dir / "config.json")
            run = read_json(run_dir / "run.json") if (run_dir / "run.json").is_file() else {}
            settings = {**config.get("params", {}), **{k: v for k, v in run.get("config", {}).items()
                                                      if k not in config.get("params", {})}}
            row = _row(run_dir, metrics)
        except (ModelFileError, OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            left_out.append((str(run_dir), f"damaged ({type(error).__name__}: {str(error)[:150]})"))
            continue
        configs.append(settings)
        rows.append(row)
    if not rows:
        raise ModelFileError("compare: no finished run among " + "; ".join(f"{d} ({r})" for d, r in left_out))
    ignored = {"out", "verbose", "device"}
    differing = sorted(
        key for key in set().union(*configs)
        if key not in ignored and len({repr(c.get(key)) for c in configs}) > 1
    )
    for row, config in zip(rows, configs):
        row["differs"] = {key: config.get(key) for key in differing}
    return rows, differing, left_out


def _not_finished(run_dir: Path) -> str | None:
    """Why ``run_dir`` cannot be compared, or None for a finished run."""
    if not run_dir.is_dir():
        return "no such directory"
    status = read_status(run_dir)
    if status and status["status"] != "finished":
        return f"the run is {status['status']}" + (f": {status['error']}" if status["error"] else "")
    if not (run_dir / "metrics.json").is_file() or not (run_dir / "config.json").is_file():
        return "no metrics.json and config.json, so not a finished textrnn run"
    return None


def _row(run_dir: Path, metrics: dict) -> dict:
    test = metrics.get("test") or {}
    baseline = (metrics.get("baseline") or {}).get("test") or {}
    mix = metrics.get("bag_of_words") or {}
    alone = (mix.get("network_alone") or {}).get("test") or (test if mix else {})
    validation = [r["val_accuracy"] for r in metrics.get("history", []) if "val_accuracy" in r]
    row = {
        "run": run_dir.name,
        "model": composition(mix.get("weight"))[0],  # "bag of words" when the network adds nothing
        "test accuracy": test.get("accuracy"),
        "macro-F1": test.get("macro_f1"),
        "micro-F1": test.get("micro_f1"),
        "RNN alone accuracy": alone.get("accuracy"),
        "baseline accuracy": baseline.get("accuracy"),
        "baseline macro-F1": baseline.get("macro_f1"),
        "best val. accuracy": max(validation) if validation else None,
        "train time": metrics.get("timing", {}).get("train_seconds"),
        "texts/s": metrics.get("timing", {}).get("samples_per_second"),
        "parameters": _parameter_count(run_dir / "model.safetensors"),
        "training rows": metrics.get("data", {}).get("train_rows"),
    }
    for name, value in row.items():  # a hand-edited metrics.json: said here, not when the table is printed
        if name not in ("run", "model") and value is not None and (isinstance(value, bool)
                                                                  or not isinstance(value, (int, float))):
            raise ValueError(f"{name} is {quoted(value)}, not a number")
    return row


def _parameter_count(path: Path) -> int:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        total = 0
        for name in handle.keys():
            count = 1
            for size in handle.get_slice(name).get_shape():
                count *= size
            total += count
        return total


def format_comparison(rows: list[dict], differing: list[str], fmt: str = "table") -> str:
    """The comparison as an aligned text table (figures formatted, columns no run fills left out), or as CSV
    or JSON lines (raw figures, every column: for other tools)."""
    if fmt in ("csv", "jsonl"):
        records = [{**{k: v for k, v in row.items() if k != "differs"}, **row["differs"]} for row in rows]
        if fmt == "jsonl":
            return "\n".join(json.dumps(record) for record in records)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=[*COLUMNS, *differing], lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue().rstrip("\n")
    cells = [[_cell(column, row[column]) for column in COLUMNS] + [str(row["differs"][key]) for key in differing]
             for row in rows]
    header = list(COLUMNS) + differing
    filled = [i for i in range(len(header)) if any(c[i] != "-" for c in cells)]  # micro-F1 of single-label: none
    header, cells = [header[i] for i in filled], [[c[i] for i in filled] for c in cells]
    widths = [max(len(str(h)), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = lambda values: "  ".join(f"{v:<{w}}" for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(header), line("-" * w for w in widths), *map(line, cells)])


def _cell(column: str, value) -> str:
    if value is None:
        return "-"
    if column in ("test accuracy", "macro-F1", "micro-F1", "RNN alone accuracy", "baseline accuracy",
                  "baseline macro-F1", "best val. accuracy"):
        return _percent(value)
    if column == "train time":
        return f"{value:.1f} s"
    if column == "texts/s":
        return f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _percent(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "-"


