"""The figures: training curves, confusion matrix, data overview and run comparison, as PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..files import write_bytes_atomic


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: Path) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    pyplot().close(figure)
    data = buffer.getvalue()
    write_bytes_atomic(path, data)
    return data


def plot_curves(history: list[dict], path: Path, monitor: str = "accuracy") -> bytes:
    """Training and validation loss and accuracy per epoch, and the validation ``monitor`` (the figure that chose
    the epoch) when it is not accuracy; an ensemble's members each get their own lines."""
    plt = pyplot()
    members = sorted({record.get("member", 0) for record in history})
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 3.6))
    title = "accuracy" if monitor == "accuracy" else f"accuracy and {monitor.replace('macro_f1', 'macro-F1')}"
    for axes, key, title in ((loss_axes, "loss", "loss"), (accuracy_axes, "accuracy", title)):
        for member in members:
            records = [r for r in history if r.get("member", 0) == member]
            epochs = [r["epoch"] for r in records]
            name = f"member {member} " if member else ""
            axes.plot(epochs, [r[f"train_{key}"] for r in records], "o-", label=f"{name}training")
            if all(f"val_{key}" in r for r in records):
                axes.plot(epochs, [r[f"val_{key}"] for r in records], "o--", label=f"{name}validation")
            if key == "accuracy" and monitor != "accuracy" and all(f"val_{monitor}" in r for r in records):
                axes.plot(epochs, [r[f"val_{monitor}"] for r in records], "s:",
                          label=f"{name}validation {monitor.replace('macro_f1', 'macro-F1')} (chose the epoch)")
        axes.set_xlabel("epoch")
        axes.set_title(title)
        axes.set_xticks(sorted({r["epoch"] for r in history}))
        axes.grid(alpha=0.3)
        axes.legend()
    return save_figure(figure, path)


def plot_confusion(test: dict, path: Path) -> bytes:
    plt = pyplot()
    matrix = np.asarray(test["confusion_matrix"])
    labels = test["labels"]
    size = max(4.0, 0.9 * len(labels) + 2)
    figure, axes = plt.subplots(figsize=(size, size * 0.85))
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, f"{count:,}", ha="center", va="center",
                  color="white" if shares[row, column] > 0.5 else "black", fontsize=9)
    axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"test confusion matrix (accuracy {test['accuracy']:.2%})")
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true class")
    return save_figure(figure, path)


def plot_data(class_counts: dict[str, int], lengths: np.ndarray, max_length: int | None, path: Path) -> bytes:
    plt = pyplot()
    figure, (balance, histogram) = plt.subplots(1, 2, figsize=(10, 3.6))
    balance.bar(list(class_counts), list(class_counts.values()), color="#4878a8")
    balance.set_title("training rows per class")
    balance.tick_params(axis="x", rotation=30)
    histogram.hist(lengths, bins=min(60, max(10, int(lengths.max()) if len(lengths) else 10)), color="#4878a8")
    if max_length:
        histogram.axvline(max_length, color="#c0392b", label=f"max_length {max_length}")
        histogram.legend()
    histogram.set_title("training text length (tokens)")
    histogram.set_xlabel("tokens")
    return save_figure(figure, path)



def plot_reliability(calibration: dict, path: Path) -> bytes:
    """Reliability diagram: accuracy against confidence per bin, before and after temperature scaling."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(4.6, 4.2))
    axes.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1, label="perfectly calibrated")
    for key, label, colour in (("bins_before", "before", "#d08c3b"), ("bins_after", "after", "#4878a8")):
        bins = calibration[key]
        ece = calibration["ece_" + key.split("_")[1]]
        axes.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", color=colour,
                  label=f"{label} (ECE {ece:.3f})")
    axes.set_xlabel("confidence (probability of the predicted class)")
    axes.set_ylabel("accuracy")
    axes.set_title(f"validation rows, temperature {calibration['temperature']:.2f}")
    axes.legend(fontsize=8)
    return save_figure(figure, path)


def plot_comparison(rows: list[dict], path: str | Path) -> None:
    """Test accuracy (with each run's bag-of-words baseline as a mark) and training time, one bar per run."""
    plt = pyplot()
    names = [row["run"] for row in rows]
    figure, (accuracy, seconds) = plt.subplots(1, 2, figsize=(max(8, 1.6 * len(rows) + 4), 3.8))
    accuracy.bar(names, [100 * (row["test accuracy"] or 0) for row in rows], color="#4878a8", label="RNN")
    marks = [(name, 100 * row["baseline accuracy"]) for name, row in zip(names, rows) if row.get("baseline accuracy")]
    if marks:
        accuracy.scatter(*zip(*marks), color="#222222", marker="_", s=600, zorder=3, label="bag-of-words baseline")
        accuracy.legend(loc="lower right", fontsize=8)
    low = min((100 * row["test accuracy"] for row in rows if row["test accuracy"]), default=0)
    accuracy.set_ylim(max(0, low - 5), 100)
    accuracy.set_title("test accuracy (%)")
    seconds.bar(names, [row["train time"] or 0 for row in rows], color="#d08c3b")
    seconds.set_title("training time (s)")
    for axes in (accuracy, seconds):
        axes.tick_params(axis="x", rotation=30)
    save_figure(figure, path)
