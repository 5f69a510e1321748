"""How the bag-of-words mixing weight is chosen: three rules against what each weight gives on the test rows.

For each dataset and seed, the default model is fitted through the Python API with the weight held at 0.5 (so
that both parts stay in the model), and every weight from 0 to 1 is then scored on the test rows from the two
parts' calibrated log-probabilities, exactly as the model mixes them. The rules, all on the validation rows the
fit recorded: the weight with the best validation figure (a tie going to the weight nearest 0.5), the weight
with the lowest validation log-loss, and 0.5 always. Datasets: the 2,000-row sets of `bench/small_data.py` and
the full `ag_news-titles`, `ag_news` and `goemotions-single` of `bench/datasets.py` (run it first: it writes the
CSV files read here), each holding out its validation rows as by default (GoEmotions' own dev split unused).

    python bench/mix_weights.py [--seeds 0 1 2]     (results: bench/results/mix_weights.{json,md})
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402
from small_data import CACHE, datasets, read  # noqa: E402

WEIGHTS = tuple(round(0.1 * step, 1) for step in range(11))
RULES = ("best validation figure", "lowest validation log-loss", "always 0.5")


def test_figures(clf, texts: list[str], labels: list[str], monitor: str) -> dict[float, float]:
    """The test figure of every mixing weight, from the model's two calibrated parts."""
    from textrnn.evaluation.metrics import classification_metrics
    from textrnn.text.batching import EncodedTexts
    from textrnn.train.predict import predict_logits

    model, encoded = clf.model_, EncodedTexts.encode(clf.vectorizer_.encode, texts)
    network = torch.log_softmax(torch.from_numpy(predict_logits(model.network, encoded, clf.params_))
                                / model.network_temperature, dim=1).numpy()
    words = torch.log_softmax(torch.from_numpy(predict_logits(model.bag_of_words, encoded, clf.params_))
                              / model.bag_of_words_temperature, dim=1).numpy()
    truth = np.array([clf.classes_.index(label) for label in labels])
    return {w: classification_metrics(truth, ((1 - w) * network + w * words).argmax(axis=1), clf.classes_)[monitor]
            for w in WEIGHTS}


def chosen(record: dict) -> dict[str, float]:
    figures = {float(w): v for w, v in record["validation_by_weight"].items()}
    loss = {float(w): v for w, v in record["validation_loss_by_weight"].items()}
    return {RULES[0]: max(WEIGHTS, key=lambda w: (figures[w], -abs(w - 0.5))),
            RULES[1]: min(WEIGHTS, key=lambda w: loss[w]), RULES[2]: 0.5}


def all_datasets() -> dict:
    sets = datasets()
    for name in ("ag_news-titles", "ag_news", "goemotions-single"):
        sets[name] = (read(CACHE / name / "train.csv"), read(CACHE / name / "test.csv"))
    return sets


def main() -> None:
    from textrnn import TextRNNClassifier
    from textrnn.train import bag_of_words

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--full-seeds", type=int, nargs="+", default=[0], help="seeds for the full datasets")
    args = parser.parse_args()
    bag_of_words._best_weight = lambda figures, loss, monitor: 0.5  # keep both parts; the rules are applied here
    results = {"command": "python bench/mix_weights.py " + " ".join(sys.argv[1:]), "runs": []}
    for name, (train, test) in all_datasets().items():
        for seed in (args.seeds if "rows" in name or name.endswith("small") else args.full_seeds):
            clf = TextRNNClassifier(seed=seed, threads=2).fit(*train)
            record = clf.fit_info_["bag_of_words"]
            figures = test_figures(clf, *test, record["monitor"])
            run = {"dataset": name, "seed": seed, "monitor": record["monitor"], "test_by_weight": figures,
                   "rnn_alone": figures[0.0], "bag_of_words_alone": figures[1.0],
                   "chosen": chosen(record), "validation_rows": clf.fit_info_["calibration"]["validation_rows"]}
            run["test"] = {rule: figures[w] for rule, w in run["chosen"].items()}
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
    write_results(Path(__file__).parent / "results", "mix_weights", results, table(results))


def table(results: dict) -> list[str]:
    lines = [("Test figure (accuracy, or macro-F1 where the classes are imbalanced) minus the bag-of-words path alone, "
              f"in points, mean over seeds; the weight chosen in brackets. Command: `{results['command'].strip()}`."),
             "", "| dataset (monitor, validation rows) | RNN alone | " + " | ".join(RULES) + " | best weight on test |",
             "|---|---:|" + "---:|" * (len(RULES) + 1)]
    for name in dict.fromkeys(r["dataset"] for r in results["runs"]):
        runs = [r for r in results["runs"] if r["dataset"] == name]
        gap = lambda value, run: 100 * (value - run["bag_of_words_alone"])
        mean = lambda values: f"{statistics.mean(values):+.1f}"
        cells = [mean([gap(r["rnn_alone"], r) for r in runs])]
        for rule in RULES:
            weights = "/".join(f"{r['chosen'][rule]:g}" for r in runs)
            cells.append(f"{mean([gap(r['test'][rule], r) for r in runs])} ({weights})")
        best = [max(r["test_by_weight"], key=lambda w: r["test_by_weight"][w]) for r in runs]
        cells.append(f"{mean([gap(max(r['test_by_weight'].values()), r) for r in runs])} "
                     f"({'/'.join(f'{float(w):g}' for w in best)})")
        lines.append(f"| {name} ({runs[0]['monitor']}, {runs[0]['validation_rows']:,}) | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
