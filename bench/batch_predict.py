"""Batch prediction over the AG News test set and a file 20 times its size: documents/s and peak memory.

    python bench/batch_predict.py RUN_DIR [--data-dir ../shared/data/ag_news]

RUN_DIR must hold a trained default-style model; the script exports it (float and int8 ONNX, each checked
against PyTorch by `textrnn export`), reports both exports' agreement with PyTorch and accuracy on the
whole test set, then times `textrnn predict EXPORT --input FILE --out FILE` on the 7,600-row test CSV
and on a 152,000-row CSV (the test rows repeated 20 times), polling the process's peak resident memory.
Results: bench/results/batch_predict.json and batch_predict.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import run_with_peak_memory, write_results

HERE = Path(__file__).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--data-dir", default=os.environ.get("TEXTRNN_DATA_DIR", "../shared/data/ag_news"))
    parser.add_argument("--results", default=str(HERE / "results"))
    args = parser.parse_args()

    from textrnn import TextRNNClassifier, load_ag_news
    from textrnn.deploy.export import agreement_on_labeled, export_onnx
    from textrnn.deploy.runtime import OnnxClassifier

    test = load_ag_news("test", args.data_dir)
    clf = TextRNNClassifier.load(args.run_dir)
    exports, agreement = {}, {}
    for quantize in (None, "int8"):
        out, _ = export_onnx(args.run_dir, quantize=quantize, check_texts=test.texts)
        name = quantize or "float32"
        exports[name] = out
        agreement[name] = agreement_on_labeled(clf, OnnxClassifier(out), test.texts, test.labels)
        print(name, agreement[name], flush=True)

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch) / "test.csv"
        big = Path(scratch) / "test_x20.csv"
        for path, repeat in ((base, 1), (big, 20)):
            with open(path, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["id", "text", "label"])
                for r in range(repeat):
                    writer.writerows((f"{r}-{i}", t, l) for i, (t, l) in enumerate(zip(test.texts, test.labels)))
        for name in ("float32", "int8"):
            for path, count in ((base, len(test)), (big, 20 * len(test))):
                command = [sys.executable, "-m", "textrnn", "predict", str(exports[name]), "--input", str(path),
                           "--out", str(Path(scratch) / "out.csv")]
                process, _, wall, peak = run_with_peak_memory(command, stderr=subprocess.PIPE)
                if process.returncode:
                    sys.exit(f"{' '.join(command)} failed: {process.stderr.read()}")
                rows.append({"export": name, "rows": count, "wall_seconds": wall, "documents_per_second": count / wall,
                             "peak_rss_mb": peak})
                print(rows[-1], flush=True)
    results = {"command": "python bench/batch_predict.py " + " ".join(sys.argv[1:]),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
               "agreement_on_test_set": agreement, "batch_predict": rows,
               "note": "wall time of the whole `textrnn predict` process: start-up, reading, writing included"}
    lines = ["| export | same label as PyTorch | accuracy PyTorch | accuracy export |", "|---|---|---|---|"]
    lines += [f"| {n} | {a['label_agreement']:.2%} ({a['texts']:,} texts) | {a['pytorch_accuracy']:.2%} | "
              f"{a['onnx_accuracy']:.2%} |" for n, a in agreement.items()]
    lines += ["", "| export | rows | wall time | documents/s | peak memory |", "|---|---|---|---|---|"]
    lines += [f"| {r['export']} | {r['rows']:,} | {r['wall_seconds']:.1f} s | {r['documents_per_second']:,.0f} | "
              f"{r['peak_rss_mb']:.0f} MB |" for r in rows]
    lines.append(f"\n`{results['command']}`; {results['note']}.")
    write_results(args.results, "batch_predict", results, lines)


if __name__ == "__main__":
    main()
