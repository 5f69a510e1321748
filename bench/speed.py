"""Speed and accuracy side by side: textrnn, the lesson's Keras model, plain PyTorch and fastText, one machine, one run.

    python bench/speed.py [--quick] [--data-dir ../shared/data/ag_news]

Every system trains on the same AG News rows (the shared 45,593-row training subset; --quick: 4,000 rows) and
is tested on the same test rows (all 7,600; --quick: 1,000), each in its own process so that its peak memory
can be read. Peers are installed into their own virtual environments under bench/.venvs (TensorFlow CPU,
fastText), never into the project's. Results: bench/results/speed[-quick].json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from measure import run_with_peak_memory, write_results

HERE = Path(__file__).parent
PEERS = HERE / "peers"
VENVS = HERE / ".venvs"
ACCURACY_PRESET = "word2vec-ensemble"
PEER_PACKAGES = {"tensorflow": ["tensorflow-cpu==2.21.0"], "fasttext": ["fasttext-numpy2==0.10.4"]}


def peer_python(name: str) -> str:
    """The interpreter of the peer's own virtual environment, created on first use."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing {' '.join(PEER_PACKAGES[name])} into {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES[name]], check=True)
    return str(python)


def run(name: str, python: str, runner: str, settings: dict) -> dict:
    """Run one system in its own process; return its result with wall time and peak resident memory."""
    command = [python, str(PEERS / runner), json.dumps(settings)]
    print(f"== {name}", flush=True)
    process, output, wall, peak_mb = run_with_peak_memory(command, cwd=PEERS,
                                                          env={**os.environ, "PYTHONPATH": str(PEERS)})
    if process.returncode:
        raise SystemExit(f"{name} failed (exit {process.returncode})")
    result = json.loads(next(line for line in output.splitlines()[::-1] if line.startswith("RESULT "))[7:])
    result.update(system=name, process_wall_seconds=wall, peak_rss_mb=peak_mb,
                  settings={k: v for k, v in settings.items() if k != "data_dir"})
    print(json.dumps({k: v for k, v in result.items() if k != "settings"}), flush=True)
    return result


def time_to(result: dict, accuracy: float) -> float | None:
    reached = [e["cumulative_seconds"] for e in result["epochs"] if e["test_accuracy"] >= accuracy]
    return reached[0] if reached else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4,000 training rows, 1 epoch: a few minutes")
    parser.add_argument("--data-dir", default=os.environ.get("TEXTRNN_DATA_DIR", "../shared/data/ag_news"))
    parser.add_argument("--epochs", type=int, default=None, help="epochs for the recurrent models (default 2; quick 1)")
    args = parser.parse_args()
    epochs = args.epochs or (1 if args.quick else 2)
    base = {"data_dir": str(Path(args.data_dir).resolve()), "quick": args.quick}
    tf, ft = peer_python("tensorflow"), peer_python("fasttext")
    results = [
        run("textrnn lesson-bilstm", sys.executable, "textrnn_runner.py",
            {**base, "preset": "lesson-bilstm", "epochs": epochs, "batch_size": 64}),
        run("textrnn lesson-bilstm, sparse embedding", sys.executable, "textrnn_runner.py",
            {**base, "preset": "lesson-bilstm", "epochs": epochs, "batch_size": 64,
             "params": {"sparse_embedding": True}}),
        run("textrnn default", sys.executable, "textrnn_runner.py",
            {**base, "preset": "default", "epochs": epochs, "batch_size": 64}),
        run("textrnn default, sparse embedding", sys.executable, "textrnn_runner.py",
            {**base, "preset": "default", "epochs": epochs, "batch_size": 64, "params": {"sparse_embedding": True}}),
        run("Keras lesson BiLSTM", tf, "keras_runner.py", {**base, "epochs": epochs, "batch_size": 64}),
        run("PyTorch tutorial BiLSTM (padded + packed)", sys.executable, "torch_runner.py",
            {**base, "epochs": epochs, "batch_size": 64}),
    ]
    for ngrams, ft_epochs in ((1, 5), (2, 5), (2, 10)):
        results.append(run(f"fastText wordNgrams {ngrams}, {ft_epochs} epochs", ft, "fasttext_runner.py",
                           {**base, "word_ngrams": ngrams, "epochs": ft_epochs}))
    # Issue #5's recipe as a user runs it (its own epochs, validation split and early stopping; quick: 2 members).
    results.append(run(f"textrnn --preset {ACCURACY_PRESET}", sys.executable, "textrnn_runner.py",
                       {**base, "preset": ACCURACY_PRESET, "as_preset": True,
                        "params": {"ensemble": 2} if args.quick else {}}))

    suffix = "-quick" if args.quick else ""
    command = "python bench/speed.py" + (" --quick" if args.quick else "")
    report = {"command": command, "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
              "training_rows": "4,000 (quick)" if args.quick else "45,593 (the shared AG News training subset)",
              "test_rows": "1,000 (quick)" if args.quick else "7,600 (the complete AG News test set)",
              "results": results}
    system = {r["system"]: r for r in results}
    keras, bilstm, default = system["Keras lesson BiLSTM"], system["textrnn lesson-bilstm"], system["textrnn default"]

    def training_speed(result: dict) -> float:
        return result["epochs"][0]["samples_per_second"]

    report["ratios"] = {
        "bilstm_training_throughput_textrnn_over_keras": training_speed(bilstm) / training_speed(keras),
        "bilstm_training_throughput_sparse_over_dense_embedding":
            training_speed(system["textrnn lesson-bilstm, sparse embedding"]) / training_speed(bilstm),
        "default_training_throughput_sparse_over_dense_embedding":
            training_speed(system["textrnn default, sparse embedding"]) / training_speed(default),
        "bilstm_inference_textrnn_onnx_over_keras_predict":
            bilstm["onnx"]["inference_docs_per_second"] / keras["inference_docs_per_second"],
        "bilstm_inference_textrnn_onnx_int8_over_keras_predict":
            bilstm["onnx_int8"]["inference_docs_per_second"] / keras["inference_docs_per_second"],
        "bilstm_inference_textrnn_pytorch_over_keras_predict":
            bilstm["inference_docs_per_second"] / keras["inference_docs_per_second"],
        f"{ACCURACY_PRESET}_test_accuracy_minus_best_fasttext_points": 100 * (
            system[f"textrnn --preset {ACCURACY_PRESET}"]["epochs"][-1]["test_accuracy"]
            - max(r["epochs"][-1]["test_accuracy"] for r in results if r["system"].startswith("fastText"))),
    }
    lines = [f"Training rows: {report['training_rows']}; test rows: {report['test_rows']}; "
             f"{report['machine']['cpus']} CPUs. Command: `{command}`.", "",
             "| system | train texts/s (epoch 1) | epoch 1 time | before epoch 1 | test accuracy by epoch | time to 88% | time to 90% |"
             " inference docs/s (batch 256) | 1-doc latency p50 / p99 | peak memory |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        fmt = lambda s: f"{s:.0f} s" if s is not None else "not reached"  # noqa: E731
        rows = [(r["system"], r)]
        for variant in ("onnx", "onnx_int8"):
            if variant in r:
                rows.append((f"{r['system']}, {variant.replace('_', ' ')} inference", {**r, **r[variant]}))
        for name, values in rows:
            first = r["epochs"][0]
            accuracies = " / ".join(f"{100 * e['test_accuracy']:.2f}%" for e in r["epochs"])
            training = name == r["system"]
            lines.append(
                f"| {name} | {first['samples_per_second']:,.0f} | {first['train_seconds']:.1f} s | "
                f"{before_epochs(r) if training else ''} | "
                f"{accuracies if training else '(same model)'} | {fmt(time_to(r, 0.88)) if training else ''} | "
                f"{fmt(time_to(r, 0.90)) if training else ''} | {values['inference_docs_per_second']:,.0f} | "
                f"{values['latency_ms'][0]:.2f} / {values['latency_ms'][1]:.2f} ms | "
                f"{r['peak_rss_mb']:,.0f} MB |")
    lines += ["", "Ratios measured in this run: " + ", ".join(f"{k} = {v:.2f}" for k, v in report["ratios"].items())]
    lines += ["", "\"before epoch 1\": textrnn's fit outside its epochs (vocabulary, word vectors trained on the "
              "training texts, calibration); \"time to\" counts epochs only."]
    write_results(HERE / "results", f"speed{suffix}", report, lines)


def before_epochs(result: dict) -> str:
    seconds = result.get("fit_seconds_outside_epochs")
    return f"{seconds:.1f} s" if seconds else ""


if __name__ == "__main__":
    main()
