"""Finding mislabelled rows, measured on planted flips in AG News: textrnn's rule against cleanlab's on the same
probabilities, and what retraining without the flagged rows recovers.

The shared AG News training rows (45,593) get 5% or 10% of their labels flipped (seeded): to a random other
class ("uniform"), or to the class the clean rows' out-of-fold bag-of-words model confuses most with the true
one ("confusable": harder, the flips look plausible). For each setting, `find_label_issues` (5 folds, its
default) flags rows; the same out-of-fold probabilities go through cleanlab's `find_label_issues`, its default
(`prune_by_noise_rate`) and `low_self_confidence`; precision and recall are against the planted flips (AG News
has real label errors too, so a few "false" flags are right). Ranking quality: average precision of the
self-confidence and of the normalised margin. With `--retrain`, the default model (Python API, seed 0) is
trained on the clean rows, on the noisy rows (10% settings) and on the noisy rows without the flagged ones, and
scored on the AG News test set (7,600 rows); and on the noisy rows with each flagged row given the suggested
class instead.

With `--network`, the 10% uniform setting only is judged three ways: from the bag of words' out-of-fold
probabilities, from the default network's (five trainings, kept in bench/results/tmp for reruns) and from their
mean; with `--retrain`, each judge's flagged rows are removed or relabelled and the default model retrained
(`--retrain-seeds N`: the mean over N seeds; 2 threads throughout, so figures do not move with machine load).
`--rows N` does it on a seeded sample of N training rows, where the noise costs the model more.

    python bench/label_issues.py [--retrain]      (results: bench/results/label_issues.{json,md})
    python bench/label_issues.py --network [--retrain [--retrain-seeds 2]] [--rows 15000]
        (results: bench/results/label_issues-network[-rowsN].{json,md})

Needs cleanlab, a benchmark-only dependency: pip install -c constraints.txt cleanlab
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from measure import write_results  # noqa: E402

DATA = ROOT.parent.parent / "shared" / "data" / "ag_news"
SETTINGS = (("uniform", 0.05), ("uniform", 0.10), ("confusable", 0.05), ("confusable", 0.10))


def plant(labels: np.ndarray, kind: str, share: float, confusable: np.ndarray, seed: int) -> np.ndarray:
    """Labels with ``share`` of them flipped to another class: a random one, or ``confusable[true class]``."""
    rng = np.random.default_rng(seed)
    flipped = rng.choice(len(labels), int(round(share * len(labels))), replace=False)
    noisy = labels.copy()
    classes = labels.max() + 1
    if kind == "uniform":
        noisy[flipped] = (labels[flipped] + rng.integers(1, classes, len(flipped))) % classes
    else:
        noisy[flipped] = confusable[labels[flipped]]
    return noisy


def most_confused(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each class, the other class its rows are most often predicted as."""
    classes = probabilities.shape[1]
    confusion = np.zeros((classes, classes))
    np.add.at(confusion, (labels, probabilities.argmax(axis=1)), 1)
    np.fill_diagonal(confusion, -1)
    return confusion.argmax(axis=1)


def scored(flagged: np.ndarray, wrong: np.ndarray) -> dict:
    hits = int((flagged & wrong).sum())
    precision, recall = hits / max(int(flagged.sum()), 1), hits / max(int(wrong.sum()), 1)
    return {"flagged": int(flagged.sum()), "precision": round(precision, 4), "recall": round(recall, 4),
            "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 4)}


def peers(probabilities: np.ndarray, noisy: np.ndarray, wrong: np.ndarray) -> dict:
    try:
        from cleanlab.filter import find_label_issues as cleanlab_issues
    except ImportError:
        sys.exit("bench/label_issues.py compares with cleanlab: pip install -c constraints.txt cleanlab")
    from sklearn.metrics import average_precision_score

    rows = np.arange(len(noisy))
    self_confidence = probabilities[rows, noisy]
    others = probabilities.copy()
    others[rows, noisy] = -np.inf
    margin = self_confidence - others.max(axis=1)
    return {"cleanlab default (prune_by_noise_rate)": scored(cleanlab_issues(noisy, probabilities), wrong),
            "cleanlab low_self_confidence": scored(cleanlab_issues(noisy, probabilities,
                                                                   filter_by="low_self_confidence"), wrong),
            "ranking AP, self-confidence": round(float(average_precision_score(wrong, -self_confidence)), 4),
            "ranking AP, normalised margin": round(float(average_precision_score(wrong, -margin)), 4)}


def accuracy(train_texts, train_labels, test, seeds: tuple[int, ...] = (0,), threads="auto") -> float:
    """Test accuracy of the default model, the mean over ``seeds`` (the network comparison pins 2 threads, so
    that its figures do not move with machine load; the first table was measured with the default, auto). Each
    seed's figure is printed as it comes, for the spread behind the mean."""
    from textrnn import TextRNNClassifier

    scores = []
    for seed in seeds:
        scores.append(TextRNNClassifier(seed=seed, threads=threads).fit(train_texts, train_labels).score(*test))
        print(json.dumps({"retrained on rows": len(train_texts), "seed": seed, "test accuracy": scores[-1]}),
              flush=True)
    return round(float(np.mean(scores)), 4)


def retrained(texts, given: list[str], flagged: np.ndarray, suggested: list[str], test_rows, seeds=(0,),
              threads="auto") -> dict:
    """Test accuracy of the default model trained without the flagged rows, and with each flagged row given its
    ``suggested`` label (the first seed only: one more training per setting)."""
    kept = np.flatnonzero(~flagged)
    fixed = [suggested[i] if flagged[i] else label for i, label in enumerate(given)]
    return {"test accuracy, flagged rows removed": accuracy([texts[i] for i in kept], [given[i] for i in kept],
                                                            test_rows, seeds, threads),
            "test accuracy, flagged rows relabelled": accuracy(texts, fixed, test_rows, seeds[:1], threads)}


def goemotions_example(rows: int = 10) -> list[str]:
    """The most suspect GoEmotions training rows, multi-label (no ground truth: an example, not a measurement)."""
    from textrnn.data.sources import load_dataset
    from textrnn.data.tables import TableOptions
    from textrnn.evaluation.label_issues import find_label_issues

    folder = DATA.parent / "goemotions"
    names = (folder / "labels.txt").read_text().split()
    options = TableOptions(header=False, quoting="none", label_separator=",")
    data = load_dataset(str(folder / "train.tsv.gz"), "train", ["0"], "1", options=options)
    labels = [tuple(names[int(i)] for i in row) for row in data.labels]
    issues = find_label_issues(data.texts, labels, places=data.places)
    lines = [f"{len(issues.rows):,} of {len(labels):,} GoEmotions training rows flagged ({issues.seconds:.0f} s); "
             "the first ten:", "", "| row | text | label | suggested | score |", "|---|---|---|---|---|"]
    for row in issues.rows[:rows]:
        text = row["text"].replace("|", "\\|")
        lines.append(f"| {row['row']} | {text} | {row['label']} | {row['suggested']} | {row['score']:.4f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--retrain", action="store_true", help="also retrain the default model (about 10 minutes)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--goemotions", action="store_true", help="only the GoEmotions example (no ground truth)")
    parser.add_argument("--network", action="store_true",
                        help="the network's out-of-fold probabilities beside the bag of words' (10%% uniform only)")
    parser.add_argument("--rows", type=int, help="with --network: a seeded sample of this many training rows")
    parser.add_argument("--retrain-seeds", type=int, default=1,
                        help="with --network --retrain: average the retrained models over this many seeds")
    args = parser.parse_args()
    if args.rows is not None and not (args.network and 100 <= args.rows):
        parser.error("--rows: with --network only, and at least 100 rows")
    if args.goemotions:
        lines = goemotions_example()
        write_results(ROOT / "results", "label_issues-goemotions", {"lines": lines}, lines + [
            "", "Command: `python bench/label_issues.py --goemotions`"])
        return
    from textrnn.data.ag_news import load_ag_news
    from textrnn.evaluation.label_issues import find_label_issues

    train, test = load_ag_news("train", DATA), load_ag_news("test", DATA)
    texts, names = list(train.texts), sorted(set(map(str, train.labels)))
    truth = np.array([names.index(str(label)) for label in train.labels])
    if args.rows is not None:  # a seeded sample, where the noise costs more than on all 45,593 rows
        if args.rows > len(texts):
            raise SystemExit(f"--rows {args.rows}: the training data has {len(texts):,} rows")
        sample = np.sort(np.random.default_rng(args.seed).choice(len(texts), args.rows, replace=False))
        texts, truth = [texts[i] for i in sample], truth[sample]
    test_rows = (list(test.texts), [str(label) for label in test.labels])
    clean = find_label_issues(texts, [names[i] for i in truth], seed=args.seed)
    confusable = most_confused(clean.probabilities, truth)
    machine = f"{platform.platform()}, {len(os.sched_getaffinity(0))} CPUs"
    results = {"rows": len(texts), "seed": args.seed, "machine": machine,
               "clean data": {"flagged": len(clean.rows), "seconds": round(clean.seconds, 1)},
               "confusable": {names[i]: names[j] for i, j in enumerate(confusable)}, "settings": {}}
    if args.network:
        return network_versus_bag_of_words(texts, names, truth, confusable, results, args.seed,
                                           test_rows if args.retrain else None, tuple(range(args.retrain_seeds)),
                                           f"-rows{args.rows}" if args.rows else "")
    if args.retrain:
        results["clean data"]["test accuracy"] = accuracy(texts, [names[i] for i in truth], test_rows)
    for kind, share in SETTINGS:
        noisy = plant(truth, kind, share, confusable, args.seed)
        wrong = noisy != truth
        issues = find_label_issues(texts, [names[i] for i in noisy], seed=args.seed)
        flagged = np.zeros(len(texts), dtype=bool)
        flagged[[row["row"] - 1 for row in issues.rows]] = True
        record = {"planted": int(wrong.sum()), "seconds": round(issues.seconds, 1),
                  "textrnn": scored(flagged, wrong), **peers(issues.probabilities, noisy, wrong)}
        if args.retrain and share == 0.10:
            given = [names[i] for i in noisy]
            suggested = list(given)
            for row in issues.rows:
                suggested[row["row"] - 1] = row["suggested"]
            record["test accuracy, noisy"] = accuracy(texts, given, test_rows)
            record.update(retrained(texts, given, flagged, suggested, test_rows))
        results["settings"][f"{kind} {share:.0%}"] = record
        print(json.dumps({f"{kind} {share:.0%}": record}), flush=True)
    write_results(ROOT / "results", "label_issues", results, markdown(results, sys.argv[1:]))


def network_versus_bag_of_words(texts, names, truth, confusable, results: dict, seed: int, test_rows=None,
                                seeds: tuple[int, ...] = (0,), suffix: str = "") -> None:
    """10% uniform flips judged from the bag of words' out-of-fold probabilities, from the network's, and from
    their mean; with ``test_rows``, the default model retrained (mean over ``seeds``) on the noisy rows, and for
    each judge without its flagged rows and with them relabelled."""
    from textrnn import TextRNNClassifier
    from textrnn.evaluation.label_issues import _conflicting_duplicates, flag_rows, out_of_fold_probabilities

    noisy = plant(truth, "uniform", 0.10, confusable, seed)
    wrong, given = noisy != truth, [names[i] for i in noisy]
    if test_rows is not None:
        results["clean data"]["test accuracy"] = accuracy(texts, [names[i] for i in truth], test_rows, seeds, 2)
        results["test accuracy, noisy"] = accuracy(texts, given, test_rows, seeds, 2)
    lines = ["| out-of-fold probabilities from | flagged · precision · recall | cleanlab default | cleanlab "
             "low_self_confidence | ranking AP: self-confidence · margin | seconds | test accuracy: flagged "
             "removed · relabelled |", "|---|---|---|---|---|---|---|"]
    duplicates = list(_conflicting_duplicates(texts, given))  # flagged whatever the judge, as the library does
    judges = {}
    for name, classifier in (("bag of words", None), ("network (default)", TextRNNClassifier(seed=seed, threads=2))):
        find = lambda: timed(out_of_fold_probabilities, texts, given, names, folds=5, seed=seed,  # noqa: E731
                             multi_label=False, classifier=classifier, progress=print)
        issues = cached_issues(name.split()[0] + suffix, find, seed)
        judges[name] = issues["probabilities"], issues["seconds"]
    # the mean is what find_label_issues(..., classifier=network) and `textrnn suspects --network` judge by
    judges["mean of the two"] = (judges["bag of words"][0] + judges["network (default)"][0]) / 2, sum(
        seconds for _, seconds in judges.values())
    for name, (probabilities, seconds) in judges.items():
        flagged = flag_rows(probabilities, noisy)
        flagged[duplicates] = True
        others = probabilities.copy()
        others[np.arange(len(noisy)), noisy] = -np.inf
        suggested = [names[i] for i in others.argmax(axis=1)]
        record = {"textrnn": scored(flagged, wrong), **peers(probabilities, noisy, wrong), "seconds": round(seconds, 1)}
        if test_rows is not None:
            record.update(retrained(texts, given, flagged, suggested, test_rows, seeds, threads=2))
        results["settings"][name] = record
        print(json.dumps({name: record}), flush=True)
        cells = [f"{record[key]['flagged']:,} · {record[key]['precision']:.3f} · {record[key]['recall']:.3f}"
                 for key in ("textrnn", "cleanlab default (prune_by_noise_rate)", "cleanlab low_self_confidence")]
        accuracies = (f"{record['test accuracy, flagged rows removed']:.2%} · "
                      f"{record['test accuracy, flagged rows relabelled']:.2%}" if test_rows is not None else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {record['ranking AP, self-confidence']:.3f} · "
                     f"{record['ranking AP, normalised margin']:.3f} | {record['seconds']:,.0f} | {accuracies} |")
    if test_rows is not None:
        lines += ["", f"The default model (2 threads; mean of seeds {', '.join(map(str, seeds))}; relabelled: seed "
                  f"{seeds[0]} only) scores {results['clean data']['test accuracy']:.2%} on the test set trained on "
                  f"the clean rows, {results['test accuracy, noisy']:.2%} on the noisy rows."]
    command = " ".join(["python", "bench/label_issues.py", *sys.argv[1:]])
    lines += ["", f"AG News training rows: {results['rows']:,}, 10% of labels flipped uniformly "
              f"({int(wrong.sum()):,}); 5 folds; seed {seed}; the network with 2 threads; the mean's seconds are "
              f"both judges'. Machine: {results['machine']}. Command: `{command}`"]
    write_results(ROOT / "results", f"label_issues-network{suffix}", results, lines)


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    return {"probabilities": function(*args, **kwargs), "seconds": time.perf_counter() - started}


def cached_issues(key: str, find, seed: int) -> dict:
    """The out-of-fold probabilities of one judge, kept in bench/results/tmp so that a rerun (say, with
    --retrain) does not repeat the network's five trainings (the run is deterministic: 2 threads, one seed)."""
    path = ROOT / "results" / "tmp" / f"label_issues-{key}-seed{seed}.npz"
    if not path.exists():
        issues = find()
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, probabilities=issues["probabilities"], seconds=issues["seconds"])
    stored = np.load(path)
    return {"probabilities": stored["probabilities"], "seconds": float(stored["seconds"])}


def markdown(results: dict, argv: list[str]) -> list[str]:
    lines = ["| planted flips | rows | textrnn: flagged · precision · recall | cleanlab default: flagged · precision · "
             "recall | cleanlab low_self_confidence | ranking AP: self-confidence · margin | test accuracy: "
             "noisy → flagged removed · relabelled (clean) |", "|---|---|---|---|---|---|---|"]
    clean = results["clean data"].get("test accuracy")
    for name, record in results["settings"].items():
        cells = [f"{record[key]['flagged']:,} · {record[key]['precision']:.3f} · {record[key]['recall']:.3f}"
                 for key in ("textrnn", "cleanlab default (prune_by_noise_rate)", "cleanlab low_self_confidence")]
        retrained = ""
        if "test accuracy, noisy" in record:
            retrained = (f"{record['test accuracy, noisy']:.2%} → {record['test accuracy, flagged rows removed']:.2%}"
                         f" · {record['test accuracy, flagged rows relabelled']:.2%} ({clean:.2%})")
        lines.append(f"| {name} | {record['planted']:,} | " + " | ".join(cells)
                     + f" | {record['ranking AP, self-confidence']:.3f} · {record['ranking AP, normalised margin']:.3f}"
                     f" | {retrained} |")
    lines += ["", f"AG News training rows: {results['rows']:,} (the shared subset); 5 folds; seed {results['seed']}. "
              f"On the clean labels {results['clean data']['flagged']:,} rows are flagged (real errors or hard rows; "
              f"no ground truth). Machine: {results['machine']}. Command: "
              f"`{' '.join(['python', 'bench/label_issues.py', *argv])}`"]
    return lines


if __name__ == "__main__":
    main()
