"""Training-speed experiments of issue #3, side by side in one run: thread settings, sparse embedding updates,
bfloat16 autocast, and fewer host round-trips per step.

    .venv/bin/python bench/train_variants.py --rows 20000     # the lesson BiLSTM and the default model
    .venv/bin/python bench/train_variants.py --models lesson-bilstm --repeats 1   # quicker

Each variant runs in its own process (thread settings are per process) with the same data, the same
length-bucketed batch order, the same seed and textrnn's own model; it trains one epoch at batch 64 with the
same loop as textrnn.training.train_model (AdamW, gradient clipping at 1.0) and is then tested on the complete
test set. The shared machine's speed drifts by 20% and more between minutes, so variants run in interleaved
rounds and each shows its median. Results: bench/results/train_variants.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "ag_news"
MODELS = {
    "lesson-bilstm": dict(cell="lstm", embed_dim=128, hidden_size=64, num_layers=2, bidirectional=True,
                          pooling="last", dropout=0.0),
    "default": dict(cell="gru", embed_dim=64, hidden_size=64, num_layers=1, bidirectional=True, pooling="max",
                    dropout=0.3),
}
VARIANTS = {
    "baseline": "textrnn as it is: 2 intra-op threads, dense AdamW, float32, loss.item() every step",
    "1 thread": "torch.set_num_threads(1)",
    "sparse embedding": "nn.Embedding(sparse=True): SparseAdam updates only the rows a batch used; AdamW for the rest",
    "bfloat16 autocast": "torch.autocast('cpu', dtype=torch.bfloat16) around the forward pass",
    "no per-step sync": "loss and accuracy summed on-tensor, read once per epoch (no .item() per step)",
}


def run_variant(model_name: str, variant: str, rows: int | None) -> dict:
    import numpy as np
    import torch
    from torch import nn

    sys.path.insert(0, str(REPO / "src"))
    from textrnn.text.batching import EncodedTexts, training_batches
    from textrnn.data.ag_news import AG_NEWS_LABELS, load_ag_news
    from textrnn.model.network import RNNClassifier
    from textrnn.text.vectorizer import TextVectorizer

    if variant == "1 thread":
        torch.set_num_threads(1)
    train, test = load_ag_news("train", DATA_DIR), load_ag_news("test", DATA_DIR)
    texts, labels = train.texts, train.labels
    if rows:
        pick = np.random.default_rng(0).permutation(len(texts))[:rows]
        texts, labels = [texts[i] for i in pick], [labels[i] for i in pick]
    vectorizer = TextVectorizer(20_000).adapt(texts)
    index = {name: i for i, name in enumerate(AG_NEWS_LABELS)}
    x = EncodedTexts.encode(vectorizer.encode, texts)
    y = np.array([index[label] for label in labels])
    torch.manual_seed(0)
    model = RNNClassifier(vectorizer.vocab_size, 4, **MODELS[model_name])
    if variant == "sparse embedding":
        sparse = nn.Embedding(vectorizer.vocab_size, model.embedding.embedding_dim, padding_idx=0, sparse=True)
        sparse.weight.data.copy_(model.embedding.weight.data)
        model.embedding = sparse
        dense_params = [p for name, p in model.named_parameters() if not name.startswith("embedding.")]
        optimizers = [torch.optim.SparseAdam([sparse.weight], lr=2e-3), torch.optim.AdamW(dense_params, lr=2e-3,
                                                                                           weight_decay=0.0)]
    else:
        optimizers = [torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)]
    loss_fn = nn.CrossEntropyLoss()
    batches = training_batches(x.lengths, 64, np.random.default_rng(0))
    model.train()
    loss_total = torch.zeros(())
    correct_total = torch.zeros((), dtype=torch.long)
    loss_sum = correct = 0.0
    started = time.perf_counter()
    for batch in batches:
        ids, lengths = x.batch(batch)
        targets = torch.from_numpy(y[batch])
        if variant == "bfloat16 autocast":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                logits = model(ids, lengths)
            logits = logits.float()
        else:
            logits = model(ids, lengths)
        loss = loss_fn(logits, targets)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        dense = [p for p in model.parameters() if p.grad is not None and not p.grad.is_sparse]
        torch.nn.utils.clip_grad_norm_(dense, 1.0)  # sparse gradients are not clipped (clip_grad_norm_ cannot)
        for optimizer in optimizers:
            optimizer.step()
        if variant == "no per-step sync":
            loss_total += loss.detach() * len(batch)
            correct_total += (logits.argmax(dim=1) == targets).sum()
        else:
            loss_sum += loss.item() * len(batch)
            correct += int((logits.argmax(dim=1) == targets).sum())
    seconds = time.perf_counter() - started
    if variant == "no per-step sync":
        loss_sum, correct = float(loss_total), int(correct_total)

    model.eval()
    test_x = EncodedTexts.encode(vectorizer.encode, test.texts)
    test_y = np.array([index[label] for label in test.labels])
    predicted = np.empty(len(test_y), dtype=np.int64)
    with torch.no_grad():
        order = np.argsort(test_x.lengths, kind="stable")
        for start in range(0, len(order), 256):
            chunk = order[start : start + 256]
            predicted[chunk] = model(*test_x.batch(chunk)).argmax(dim=1).numpy()
    return {
        "model": model_name,
        "variant": variant,
        "train_rows": len(texts),
        "epoch_seconds": round(seconds, 2),
        "texts_per_second": round(len(texts) / seconds),
        "train_loss": round(loss_sum / len(texts), 4),
        "train_accuracy": round(correct / len(texts), 4),
        "test_accuracy": round(float((predicted == test_y).mean()), 4),
        "threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="training rows (default: all 45,593)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of all variants (median shown)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_variant(args.one[0], args.one[1], args.rows)))
        return
    command = "python bench/train_variants.py " + " ".join(sys.argv[1:])
    results = {"command": command, "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                               "processor": platform.processor()}, "variants": VARIANTS, "runs": [], "all_runs": []}
    # Round after round of every variant, so that a slow spell of this shared machine hits all of them alike;
    # the table shows each variant's median round.
    for repeat in range(args.repeats):
        for model_name in args.models:
            for variant in VARIANTS:
                extra = ["--rows", str(args.rows)] if args.rows else []
                done = subprocess.run([sys.executable, __file__, "--one", model_name, variant, *extra],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"{model_name} / {variant} failed:\n{done.stderr[-3000:]}")
                run = {**json.loads(done.stdout.strip().splitlines()[-1]), "round": repeat + 1}
                results["all_runs"].append(run)
                print(json.dumps(run), flush=True)
    for model_name in args.models:
        for variant in VARIANTS:
            rounds = sorted((r for r in results["all_runs"] if r["model"] == model_name and r["variant"] == variant),
                            key=lambda r: r["texts_per_second"])
            results["runs"].append({**rounds[len(rounds) // 2],
                                    "texts_per_second_all_rounds": [r["texts_per_second"] for r in rounds]})
    rows = results["runs"][0]["train_rows"]
    lines = [f"One training epoch at batch 64 on {rows:,} AG News training rows (the shared subset), then the "
             f"complete 7,600-row test set; {os.cpu_count()} CPUs, each variant in its own process, {args.repeats} "
             f"interleaved rounds, the median round shown (all rounds in the JSON). "
             f"Command: `{command}`.", "",
             "| model | variant | texts/s (median) | vs baseline | all rounds | test accuracy after 1 epoch |",
             "|---|---|---:|---:|---|---:|"]
    for run in results["runs"]:
        base = next(r for r in results["runs"] if r["model"] == run["model"] and r["variant"] == "baseline")
        lines.append(f"| {run['model']} | {run['variant']} | {run['texts_per_second']:,} | "
                     f"{run['texts_per_second'] / base['texts_per_second']:.2f}x | "
                     f"{', '.join(f'{t:,}' for t in run['texts_per_second_all_rounds'])} | "
                     f"{run['test_accuracy']:.2%} |")
    lines += ["", "Variants: " + "; ".join(f"**{k}**: {v}" for k, v in VARIANTS.items()) + "."]
    write_results(args.out, "train_variants", results, lines)


if __name__ == "__main__":
    main()
