"""Word vectors trained inside the fit: how many passes (and how much downsampling of frequent words) they need.

With 9 passes the default model on AG News spent about a third of its fit training word2vec on the training
texts (``embeddings="word2vec"``). This script fits the default model through the Python API for each variant and
seed, on the rows `bench/datasets.py` writes for `ag_news` (run it first), and records the test accuracy, the
RNN alone's test accuracy (before the bag-of-words path is mixed in), the word2vec seconds and the fit seconds.
A variant sets ``IN_FIT_TOKENS`` (passes = tokens / training tokens, 5 to 15) and ``IN_FIT_SAMPLE``
(gensim's ``sample``) in ``textrnn.text.embeddings``; everything else is the default, with 2 threads.

    python bench/word2vec_passes.py [--seeds 0 1 2]     (results: bench/results/word2vec_passes.{json,md})
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402
from small_data import read  # noqa: E402

CACHE = Path(__file__).resolve().parent / "results" / "tmp" / "datasets" / "ag_news"
VARIANTS = {  # name: (IN_FIT_TOKENS, IN_FIT_SAMPLE); None: no word vectors (embeddings=None)
    "15M tokens": (1.5e7, 1e-3),
    "10M tokens": (1.0e7, 1e-3),
    "15M tokens, sample 1e-4": (1.5e7, 1e-4),
    "10M tokens, sample 1e-4": (1.0e7, 1e-4),
    "7.5M tokens": (7.5e6, 1e-3),
    "no word vectors": None,
}


def timed_word2vec(embeddings, seconds: list[float]):
    """``vectors_for_vocabulary`` that appends its own wall seconds to ``seconds``."""
    original = embeddings.vectors_for_vocabulary

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        vectors = original(*args, **kwargs)
        seconds.append(time.perf_counter() - started)
        return vectors

    return wrapper


def main() -> None:
    from textrnn import TextRNNClassifier
    from textrnn.text import embeddings
    from textrnn.train.finish import without_bag_of_words

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", default="word2vec_passes", help="results name under bench/results")
    args = parser.parse_args()
    train, test = read(CACHE / "train.csv"), read(CACHE / "test.csv")
    results = {"command": "python bench/word2vec_passes.py " + shlex.join(sys.argv[1:]), "rows": len(train[0]),
               "runs": []}
    word2vec_seconds: list[float] = []
    embeddings.vectors_for_vocabulary = timed_word2vec(embeddings, word2vec_seconds)
    for seed in args.seeds:  # seeds outermost: a slow stretch of the shared machine hits every variant alike
        for variant in args.variants:
            setting = VARIANTS[variant]
            if setting:
                embeddings.IN_FIT_TOKENS, embeddings.IN_FIT_SAMPLE = setting
            started = time.perf_counter()
            clf = TextRNNClassifier(seed=seed, threads=2, embeddings=None if setting is None else "auto")
            clf.fit(*train)
            seconds = time.perf_counter() - started
            alone = without_bag_of_words(clf) or clf
            mix = clf.fit_info_.get("bag_of_words") or {}
            run = {"variant": variant, "seed": seed, "accuracy": clf.score(*test),
                   "rnn_alone_accuracy": alone.score(*test), "bag_of_words_weight": mix.get("weight"),
                   "epochs_run": clf.fit_info_["epochs_run"],
                   "word2vec_seconds": word2vec_seconds.pop() if word2vec_seconds else 0.0, "fit_seconds": seconds}
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
    write_results(Path(__file__).parent / "results", args.out, results, table(results))


def table(results: dict) -> list[str]:
    seeds = sorted({r["seed"] for r in results["runs"]})
    lines = [f"AG News ({results['rows']:,} training rows, 5% of them held out for validation), the default model with each word2vec setting; test "
             f"accuracy per seed ({', '.join(map(str, seeds))}) and mean; seconds are means. "
             f"Command: `{results['command'].strip()}`.", "",
             "| variant | test accuracy | mean | RNN alone, mean | word2vec s | fit s |",
             "|---|---|---:|---:|---:|---:|"]
    for variant in dict.fromkeys(r["variant"] for r in results["runs"]):
        runs = [r for r in results["runs"] if r["variant"] == variant]
        mean = lambda key, runs=runs: statistics.mean(r[key] for r in runs)
        per_seed = " / ".join(f"{100 * r['accuracy']:.2f}" for r in runs)
        lines.append(f"| {variant} | {per_seed} | {100 * mean('accuracy'):.2f}% | "
                     f"{100 * mean('rnn_alone_accuracy'):.2f}% | {mean('word2vec_seconds'):.1f} "
                     f"| {mean('fit_seconds'):.1f} |")
    return lines


if __name__ == "__main__":
    main()
