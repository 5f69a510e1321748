"""Training throughput on a busy machine: alone, and beside one and two CPU-bound competitor processes.

For the default model and the lesson's BiLSTM, one training epoch on a slice of AG News is timed with each
thread setting (`--threads auto`, the library's choice, against fixed 1 and 2 threads), while 0, 1 or 2
competitors (plain Python busy loops, started and stopped by this script) run beside it. Each measurement is
its own process, so thread settings and OpenMP's environment start fresh. A last measurement starts one
competitor after the first of three epochs, to show what `auto` does when the machine becomes busy mid-run.

    python bench/contention.py [--rows 1500]      (results: bench/results/contention.{json,md})
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ag_news"
MODELS = {"default": {}, "lesson-bilstm": {"preset": "lesson-bilstm"}}
THREADS = ("auto", "1", "2")

ONE_EPOCH = """
import json, sys, time
from textrnn import TextRNNClassifier
from textrnn.data.ag_news import load_ag_news
from textrnn.presets import preset
rows, model, threads = int(sys.argv[1]), sys.argv[2], sys.argv[3]
data = load_ag_news("train", sys.argv[4])
params = {k: v for k, v in preset(model).items() if k != "text_column"} if model != "default" else {}
params.update(epochs=1, val_size=0, threads=threads, verbose=False)
clf = TextRNNClassifier(**params)
started = time.perf_counter()
step = max(1, len(data.texts) // rows)  # the file is grouped by class: take rows from all of it
clf.fit(data.texts[::step][:rows], data.labels[::step][:rows])
print(json.dumps({"texts_per_second": clf.fit_info_["samples_per_second"],
                  "threads_used": clf.fit_info_["threads"]["used"]}))
"""

LATE_COMPETITOR = """
import json, multiprocessing, sys
from textrnn import TextRNNClassifier
from textrnn.data.ag_news import load_ag_news
from textrnn.train.callbacks import Callback

def busy():
    while True:
        pass

class StartCompetitor(Callback):
    def on_epoch_end(self, loop, record):
        if record["epoch"] == 1:
            self.worker = multiprocessing.Process(target=busy, daemon=True)
            self.worker.start()

if __name__ == "__main__":
    rows, threads = int(sys.argv[1]), sys.argv[2]
    data = load_ag_news("train", sys.argv[3])
    step = max(1, len(data.texts) // rows)
    clf = TextRNNClassifier(epochs=3, val_size=0, threads=threads, verbose=False)
    clf.fit(data.texts[::step][:rows], data.labels[::step][:rows], callbacks=[StartCompetitor()])
    print(json.dumps({"epochs_texts_per_second": [r["samples_per_second"] for r in clf.history_],
                      "threads_used": clf.fit_info_["threads"]["used"],
                      "changes": clf.fit_info_["threads"].get("changes", [])}))
"""


def busy() -> None:
    while True:
        pass


TIMEOUT_SECONDS = 150


def measure(rows: int, model: str, threads: str) -> dict:
    """One epoch in a fresh process; a run past the time limit is stopped and recorded as an upper bound."""
    try:
        out = subprocess.run([sys.executable, "-c", ONE_EPOCH, str(rows), model, threads, str(DATA_DIR)],
                             capture_output=True, text=True, check=True, timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return {"texts_per_second": rows / TIMEOUT_SECONDS, "threads_used": threads, "timed_out": True}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1500, help="training rows per measurement (default: 1500)")
    args = parser.parse_args()
    results = {"command": "python bench/contention.py " + " ".join(sys.argv[1:]), "rows": args.rows,
               "cpus": len(os.sched_getaffinity(0)), "measurements": []}
    for competitors in (0, 1, 2):
        workers = [multiprocessing.Process(target=busy, daemon=True) for _ in range(competitors)]
        for worker in workers:
            worker.start()
        time.sleep(1)
        try:
            for model in MODELS:
                for threads in THREADS:
                    figures = measure(args.rows, model, threads)
                    results["measurements"].append({"competitors": competitors, "model": model, "threads": threads,
                                                    **figures})
                    print(json.dumps(results["measurements"][-1]), flush=True)
        finally:
            for worker in workers:
                worker.terminate()
    results["late_competitor"] = [late_competitor(4 * args.rows, threads) for threads in THREADS]
    write_results(Path(__file__).parent / "results", "contention", results, table(results))


def late_competitor(rows: int, threads: str) -> dict:
    """Three epochs of the default model; one competitor starts when the first epoch ends."""
    with open(Path(os.environ.get("TMPDIR", "/tmp")) / "textrnn_late_competitor.py", "w") as script:
        script.write(LATE_COMPETITOR)
    out = subprocess.run([sys.executable, script.name, str(rows), threads, str(DATA_DIR)], capture_output=True,
                         text=True, check=True, timeout=20 * TIMEOUT_SECONDS)
    figures = {"rows": rows, "threads": threads, **json.loads(out.stdout.strip().splitlines()[-1])}
    print(json.dumps(figures), flush=True)
    return figures


def table(results: dict) -> list[str]:
    lines = [f"Training throughput (texts/s, one epoch on {results['rows']:,} AG News rows) beside CPU-bound "
             f"competitors; {results['cpus']} CPUs. Command: `{results['command']}`.", "",
             "| model | competitors | threads auto (used) | 1 thread | 2 threads | auto / best fixed | auto / auto alone |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    by = {(m["model"], m["competitors"], m["threads"]): m for m in results["measurements"]}
    for model in MODELS:
        alone = by[(model, 0, "auto")]["texts_per_second"]
        for competitors in (0, 1, 2):
            auto, one, two = (by[(model, competitors, t)] for t in THREADS)
            best = max(one["texts_per_second"], two["texts_per_second"])
            cell = lambda m: ("< " if m.get("timed_out") else "") + f"{m['texts_per_second']:,.0f}"
            lines.append(f"| {model} | {competitors} | {cell(auto)} ({auto['threads_used']}) | "
                         f"{cell(one)} | {cell(two)} | "
                         f"{auto['texts_per_second'] / best:.2f} | {auto['texts_per_second'] / alone:.2f} |")
    late = results.get("late_competitor", [])
    if late:
        lines += ["", f"The default model, three epochs on {late[0]['rows']:,} rows; one competitor starts when the "
                  "first epoch ends (texts/s per epoch; `auto` looks at the load again every 2 seconds):", "",
                  "| threads | epoch 1 (alone) | epoch 2 | epoch 3 | thread changes |", "|---|---:|---:|---:|---|"]
        for run in late:
            speeds = " | ".join(f"{value:,.0f}" for value in run["epochs_texts_per_second"])
            changes = ", ".join(f"to {c['threads']} in epoch {c['epoch']}" for c in run["changes"]) or "none"
            lines.append(f"| {run['threads']} (started with {run['threads_used']}) | {speeds} | {changes} |")
    return lines


if __name__ == "__main__":
    main()
