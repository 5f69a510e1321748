"""Where ONNX Runtime's batch inference of the lesson BiLSTM spends its time, and what batch size suits it.

Trains the lesson BiLSTM for one epoch on a tenth of the AG News training rows (inference speed does not
depend on how well it is trained), exports it (float32), then on the 7,600 test texts:

* documents/s of the graph alone for batches of 32, 64, 128 and 256 texts (interleaved rounds, median);
* documents/s of `predict_proba` called on chunks of 256 texts, as `bench/speed.py` calls it, and the share
  of that time spent tokenizing;
* ONNX Runtime's own profile: the share of graph time per operator.

    python bench/onnx_inference.py     (results: bench/results/onnx_inference.{json,md})
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ag_news"
BATCH_SIZES = (32, 64, 128, 256)
ROUNDS = 5


def seconds(function, repeats: int = 3) -> float:
    """The fastest of ``repeats`` calls: the least disturbed by other work on a shared machine."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def operator_shares(directory: Path, model_file: str, encoded: list) -> dict[str, float]:
    import onnxruntime as ort

    from textrnn.deploy import runtime

    options = ort.SessionOptions()
    options.enable_profiling, options.inter_op_num_threads = True, 1
    options.profile_file_prefix = str(directory / "profile")
    classifier = runtime.OnnxClassifier(directory)
    classifier.session = ort.InferenceSession(str(directory / model_file), options,
                                              providers=["CPUExecutionProvider"])
    classifier.predict_encoded(encoded)
    events = json.loads(Path(classifier.session.end_profiling()).read_text())
    by_operator: dict[str, float] = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            operator = event["args"].get("op_name", "?")
            by_operator[operator] = by_operator.get(operator, 0.0) + event["dur"]
    total = sum(by_operator.values())
    return {op: value / total for op, value in sorted(by_operator.items(), key=lambda item: -item[1])}


def main() -> None:
    from textrnn import TextRNNClassifier
    from textrnn.data.ag_news import load_ag_news
    from textrnn.deploy import runtime
    from textrnn.deploy.export import export_onnx
    from textrnn.presets import preset

    train = load_ag_news("train", DATA_DIR)
    test = load_ag_news("test", DATA_DIR).texts
    params = {k: v for k, v in preset("lesson-bilstm").items() if k != "text_column"}
    params.update(epochs=1, val_size=0, threads=2, verbose=False)
    with tempfile.TemporaryDirectory() as scratch:
        TextRNNClassifier(**params).fit(train.texts[::10], train.labels[::10]).save(f"{scratch}/run")
        directory, _ = export_onnx(f"{scratch}/run", quantize=None, check_texts=test[:200])
        classifier = runtime.OnnxClassifier(directory)
        encoded = classifier.vectorizer_.encode(test)
        graph = {size: [] for size in BATCH_SIZES}
        for _ in range(ROUNDS):
            for size in BATCH_SIZES:
                runtime.BATCH_SIZE = size
                graph[size].append(len(test) / seconds(lambda: classifier.predict_encoded(encoded)))
        runtime.BATCH_SIZE = 64

        def in_chunks(function):
            return lambda: [function(test[i : i + 256]) for i in range(0, len(test), 256)]

        whole = seconds(in_chunks(classifier.predict_proba))
        tokenizing = seconds(in_chunks(classifier.vectorizer_.encode))
        shares = operator_shares(Path(directory), classifier.manifest["model_file"], encoded)
    results = {"command": "python bench/onnx_inference.py", "test_texts": len(test),
               "graph_docs_per_second": {str(size): statistics.median(v) for size, v in graph.items()},
               "graph_docs_per_second_rounds": {str(size): v for size, v in graph.items()},
               "predict_proba_chunks_of_256_docs_per_second": len(test) / whole,
               "tokenizing_share": tokenizing / whole, "operator_shares": shares}
    lines = [f"ONNX Runtime, the lesson BiLSTM exported as float32, {len(test):,} AG News test texts, 2 threads. "
             f"Command: `{results['command']}`.", "",
             "| texts per batch | graph documents/s (median of 5 interleaved rounds) |", "|---:|---:|"]
    lines += [f"| {size} | {docs:,.0f} |" for size, docs in results["graph_docs_per_second"].items()]
    lines += ["", f"`predict_proba` on chunks of 256 texts (as the speed benchmark calls it): "
              f"{results['predict_proba_chunks_of_256_docs_per_second']:,.0f} documents/s, "
              f"{results['tokenizing_share']:.0%} of it tokenizing.", "",
              "| operator | share of graph time |", "|---|---:|"]
    lines += [f"| {op} | {share:.1%} |" for op, share in list(shares.items())[:6]]
    write_results(Path(__file__).parent / "results", "onnx_inference", results, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
