"""Several runs side by side: metrics, time, size, and the parameters in which they differ."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .classifier import read_json
from .errors import ModelFileError

COLUMNS = ("run", "test accuracy", "macro-F1", "best val. accuracy", "train time", "texts/s", "parameters",
           "training rows")


def compare_runs(run_dirs: Sequence[str | Path]) -> tuple[list[dict], list[str]]:
    """One row of figures per run, and the names of the parameters whose values differ between runs."""
    rows, configs = [], []
    for run_dir in map(Path, run_dirs):
        if not (run_dir / "metrics.json").is_file():
            raise ModelFileError(f"{run_dir}: no metrics.json, so not a finished textrnn run")
        metrics = read_json(run_dir / "metrics.json")
        config = read_json(run_dir / "config.json")
        run = read_json(run_dir / "run.json") if (run_dir / "run.json").is_file() else {}
        configs.append({**config.get("params", {}), **{k: v for k, v in run.get("config", {}).items()
                                                        if k not in config.get("params", {})}})
        test = metrics.get("test") or {}
        validation = [r["val_accuracy"] for r in metrics.get("history", []) if "val_accuracy" in r]
        rows.append({
            "run": run_dir.name,
            "test accuracy": test.get("accuracy"),
            "macro-F1": test.get("macro_f1"),
            "best val. accuracy": max(validation) if validation else None,
            "train time": metrics.get("timing", {}).get("train_seconds"),
            "texts/s": metrics.get("timing", {}).get("samples_per_second"),
            "parameters": _parameter_count(run_dir / "model.safetensors"),
            "training rows": metrics.get("data", {}).get("train_rows"),
        })
    ignored = {"out", "verbose", "device"}
    differing = sorted(
        key for key in set().union(*configs)
        if key not in ignored and len({repr(c.get(key)) for c in configs}) > 1
    )
    for row, config in zip(rows, configs):
        row["differs"] = {key: config.get(key) for key in differing}
    return rows, differing


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


def format_comparison(rows: list[dict], differing: list[str]) -> str:
    header = list(COLUMNS) + differing
    cells = []
    for row in rows:
        cells.append([
            row["run"],
            _percent(row["test accuracy"]), _percent(row["macro-F1"]), _percent(row["best val. accuracy"]),
            f"{row['train time']:.1f} s" if row["train time"] is not None else "-",
            f"{row['texts/s']:,.0f}" if row["texts/s"] else "-",
            f"{row['parameters']:,}", f"{row['training rows']:,}" if row["training rows"] else "-",
            *[str(row["differs"][key]) for key in differing],
        ])
    widths = [max(len(str(h)), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    line = lambda values: "  ".join(f"{v:<{w}}" for v, w in zip(values, widths)).rstrip()
    return "\n".join([line(header), line("-" * w for w in widths), *map(line, cells)])


def _percent(value: float | None) -> str:
    return f"{value:.2%}" if value is not None else "-"


def plot_comparison(rows: list[dict], path: str | Path) -> None:
    from .report import _pyplot

    plt = _pyplot()
    names = [row["run"] for row in rows]
    figure, (accuracy, seconds) = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(rows) + 4), 3.8))
    accuracy.bar(names, [100 * (row["test accuracy"] or 0) for row in rows], color="#4878a8")
    low = min((100 * row["test accuracy"] for row in rows if row["test accuracy"]), default=0)
    accuracy.set_ylim(max(0, low - 5), 100)
    accuracy.set_title("test accuracy (%)")
    seconds.bar(names, [row["train time"] or 0 for row in rows], color="#d08c3b")
    seconds.set_title("training time (s)")
    for axes in (accuracy, seconds):
        axes.tick_params(axis="x", rotation=30)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
