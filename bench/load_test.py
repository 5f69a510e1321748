"""Load test of `textrnn serve` with wrk on loopback: requests/s and p50/p99 latency for single-text requests.

    apt-get install -y wrk
    python bench/load_test.py RUN_DIR_OR_EXPORT [--seconds 10] [--concurrency 1 8 64] [--workers 1]

Starts the server on a free loopback port, warms it up, runs wrk (one thread) for each concurrency, and
writes bench/results/load_test.json and load_test.md. Every request posts one AG News headline.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from measure import write_results

HERE = Path(__file__).parent
SCRIPT = HERE / "predict_one.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, connections: int, seconds: int) -> dict:
    output = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(SCRIPT), url],
                            capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (.*)", output)
    values = dict(pair.split("=") for pair in match.group(1).split())
    return {"concurrency": connections, "requests": int(values["requests"]),
            "failed": int(values["errors"]) + int(values["status_errors"]), "requests_per_second": float(values["rps"]),
            "p50_ms": float(values["p50_ms"]), "p99_ms": float(values["p99_ms"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_path")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--results", default=str(HERE / "results"))
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    Path(args.results).mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = ["textrnn", "serve", args.model_path, "--port", str(port), "--workers", str(args.workers)]
    # The server's access log (one JSON line per request) goes to a real file, as in production.
    log_file = open(Path(args.results) / "load_test_server.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "textrnn", *command[1:]], stdout=log_file, stderr=log_file)
    url = f"http://127.0.0.1:{port}/v1/predict"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        wrk(url, 8, 2)  # warm-up
        rows = []
        for connections in args.concurrency:
            rows.append(wrk(url, connections, args.seconds))
            print(rows[-1], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log_file.close()
    results = {"command": " ".join(["python bench/load_test.py", *sys.argv[1:]]), "server": " ".join(command[:3] + command[5:]),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "seconds_per_level": args.seconds,
               "load_generator": "wrk, 1 thread, same machine (it shares the 2 cores with the server)", "runs": rows}
    lines = ["| concurrency | requests/s | p50 | p99 | requests | failed |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['concurrency']} | {r['requests_per_second']:,.0f} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
              f"{r['requests']:,} | {r['failed']} |" for r in rows]
    lines.append(f"\n`{results['command']}`; server: `{results['server']}`; {results['load_generator']}.")
    write_results(args.results, "load_test", results, lines)


if __name__ == "__main__":
    main()
