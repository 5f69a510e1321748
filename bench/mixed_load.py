"""Bad requests among good ones: does any good request fail because of a bad one sent beside it?

Starts `textrnn serve` on a loopback port and sends good single-text requests and malformed ones (lone
surrogates, control characters, nesting, wrong types, huge texts, not JSON) all at once from many concurrent
connections, so that the server batches them together; counts each kind of answer.

    python bench/mixed_load.py MODEL [--good 1200] [--bad 60] [--concurrency 64]
    (results: bench/results/mixed_load.{json,md})
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

BAD_BODIES = [
    b'{"texts": ["a \\ud800 b"]}',  # a lone surrogate: valid JSON, not valid Unicode
    b'{"texts": ["\\udfff", "fine"]}',
    b'{"texts": ["\\u0000\\u0007\\u001b control"]}',
    b'{"texts": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"texts": [null]}',
    b'{"texts": "not a list"}',
    b'{"texts": ["x"], "top_k": -1}',
    b"this is not JSON",
    json.dumps({"texts": ["word " * 100_000]}).encode(),
]
GOOD_TEXTS = ["Stocks rally as the central bank holds rates", "The team won the final in extra time",
              "New chip doubles battery life", "Talks resume over the border dispute"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def send_all(base: str, bodies: list[tuple[str, bytes]], concurrency: int) -> list[tuple[str, int]]:
    limits = httpx.Limits(max_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        async def one(kind: str, body: bytes) -> tuple[str, int]:
            async with gate:
                try:
                    response = await client.post("/v1/predict", content=body,
                                                 headers={"content-type": "application/json"})
                    return kind, response.status_code
                except httpx.HTTPError:
                    return kind, 0  # no answer at all
        return await asyncio.gather(*(one(kind, body) for kind, body in bodies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--good", type=int, default=1200)
    parser.add_argument("--bad", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    rng = random.Random(0)
    bodies = [("good", json.dumps({"texts": [rng.choice(GOOD_TEXTS)]}).encode()) for _ in range(args.good)]
    bodies += [("bad", BAD_BODIES[i % len(BAD_BODIES)]) for i in range(args.bad)]
    rng.shuffle(bodies)
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen([sys.executable, "-m", "textrnn", "serve", args.model, "--port", str(port)],
                                  stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        started = time.perf_counter()
        answers = asyncio.run(send_all(base, bodies, args.concurrency))
        seconds = time.perf_counter() - started
        after = httpx.post(f"{base}/v1/predict", json={"texts": [GOOD_TEXTS[0]]}).status_code
        server.terminate()
        server.wait(timeout=30)
    counts = {kind: dict(sorted(Counter(status for k, status in answers if k == kind).items())) for kind in ("good", "bad")}
    results = {"command": "python bench/mixed_load.py " + " ".join(sys.argv[1:]), "machine": platform.platform(),
               "good": args.good, "bad": args.bad, "concurrency": args.concurrency, "seconds": seconds,
               "statuses": counts, "good_request_after": after}
    good_failed = sum(n for status, n in counts["good"].items() if status != 200)
    bad_5xx = sum(n for status, n in counts["bad"].items() if status >= 500 or status == 0)
    lines = [f"{args.good:,} good and {args.bad:,} bad requests mixed, {args.concurrency} concurrent connections, "
             f"{seconds:.1f} s. Command: `{results['command']}`.", "",
             "| requests | answers (status: count) |", "|---|---|",
             f"| good | {', '.join(f'{s}: {n:,}' for s, n in counts['good'].items())} |",
             f"| bad | {', '.join(f'{s}: {n:,}' for s, n in counts['bad'].items())} |", "",
             f"Good requests not answered 200: {good_failed}; bad requests answered 5xx or not at all: {bad_5xx}; "
             f"a good request after the run: {after}. (Of the bad kinds, control characters and a 500,000-character "
             "text are valid input: answered 200, the long text cut at the server's --max-chars (10,000) and flagged; the rest get 4xx.)"]
    write_results(Path(__file__).resolve().parent / "results", "mixed_load", results, lines)


if __name__ == "__main__":
    main()
