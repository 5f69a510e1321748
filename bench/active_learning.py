"""Choosing what to label next, simulated on AG News: `texts_to_label` against random choice.

A labelling loop as a user would run it with `textrnn uncertain`: start from 500 labelled rows (random, seeded),
train the default model (Python API, the same seed), score it on the AG News test set (7,600 rows), then label
500 more rows of the shared training rows (45,593; their labels are revealed only when chosen), chosen at random
or by `texts_to_label` on the current model's probabilities; until 5,000 rows. Test accuracy per round, per seed.

    python bench/active_learning.py [--seeds 0 1 2] [--uncertainty margin]   (results: bench/results/active_learning.*)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from measure import write_results  # noqa: E402

DATA = ROOT.parent.parent / "shared" / "data" / "ag_news"
START, STEP, END = 500, 500, 5000
STRATEGIES = {"random": None, "uncertainty + diversity": 10, "uncertainty alone": 1}  # the diversity pool


def labelling_loop(texts, labels, test, strategy: str, seed: int, uncertainty: str) -> list[dict]:
    """Test accuracy after each round of one simulated labelling loop."""
    from textrnn import TextRNNClassifier
    from textrnn.evaluation.label_next import texts_to_label

    rng = np.random.default_rng(seed)
    labelled = rng.choice(len(texts), START, replace=False).tolist()  # the same start for both strategies
    rounds = []
    while True:
        started = time.perf_counter()
        model = TextRNNClassifier(seed=seed).fit([texts[i] for i in labelled], [labels[i] for i in labelled])
        rounds.append({"rows": len(labelled), "test_accuracy": round(float(model.score(*test)), 4),
                       "seconds": round(time.perf_counter() - started, 1)})
        print(json.dumps({"strategy": strategy, "seed": seed, **rounds[-1]}), flush=True)
        if len(labelled) >= END:
            return rounds
        taken = set(labelled)
        pool = [i for i in range(len(texts)) if i not in taken]
        if strategy == "random":
            labelled += rng.choice(pool, STEP, replace=False).tolist()
        else:
            chosen = texts_to_label([texts[i] for i in pool], model.predict_proba([texts[i] for i in pool]), STEP,
                                    method=uncertainty, pool=STRATEGIES[strategy])
            labelled += [pool[i] for i in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--uncertainty", choices=("margin", "entropy"), default="margin")
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), default=list(STRATEGIES)[:2])
    parser.add_argument("--name", help="results go to active_learning-NAME.{json,md}")
    args = parser.parse_args()
    from textrnn.data.ag_news import load_ag_news

    train, test = load_ag_news("train", DATA), load_ag_news("test", DATA)
    texts, labels = list(train.texts), [str(label) for label in train.labels]
    test_rows = (list(test.texts), [str(label) for label in test.labels])
    curves = {strategy: {seed: labelling_loop(texts, labels, test_rows, strategy, seed, args.uncertainty)
                         for seed in args.seeds} for strategy in args.strategies}
    results = {"seeds": args.seeds, "uncertainty": args.uncertainty, "curves": curves,
               "machine": f"{platform.platform()}, {len(os.sched_getaffinity(0))} CPUs"}
    name = "active_learning" + (f"-{args.name}" if args.name else "")
    write_results(ROOT / "results", name, results, markdown(results, sys.argv[1:]))


def markdown(results: dict, argv: list[str]) -> list[str]:
    strategies = list(results["curves"])
    sizes = [r["rows"] for r in next(iter(results["curves"][strategies[0]].values()))]
    mean = {strategy: [statistics.mean(curve[k]["test_accuracy"] for curve in by_seed.values())
                       for k in range(len(sizes))] for strategy, by_seed in results["curves"].items()}
    spread = {strategy: [statistics.pstdev([curve[k]["test_accuracy"] for curve in by_seed.values()])
                         for k in range(len(sizes))] for strategy, by_seed in results["curves"].items()}
    lines = ["| labelled rows | " + " | ".join(strategies) + " |", "|---|" + "---|" * len(strategies)]
    for k, size in enumerate(sizes):
        lines.append(f"| {size:,} | " + " | ".join(f"{mean[s][k]:.2%} ± {spread[s][k]:.2%}" for s in strategies) + " |")
    lines += ["", f"Test accuracy (AG News test set), mean ± spread over seeds {results['seeds']}; default model; "
              f"uncertainty: {results['uncertainty']}."]
    if "random" in strategies:
        target = mean["random"][-1]
        lines[-1] += f" Random choice at {sizes[-1]:,} rows: {target:.2%}."
        for strategy in strategies[1:]:
            reached = next((size for size, figure in zip(sizes, mean[strategy]) if figure >= target), None)
            lines[-1] += (f" {strategy}: reaches it at {reached:,} rows." if reached else
                          f" {strategy}: does not reach it by the last round.")
    lines[-1] += (
        f" Machine: {results['machine']}. Command: `{' '.join(['python', 'bench/active_learning.py', *argv])}`")
    return lines


if __name__ == "__main__":
    main()
