#!/usr/bin/env bash
# Build the wheel and sdist, install the wheel with only the `serve` extra in a fresh virtual environment
# (no PyTorch), then predict with and serve the ONNX export that textrnn 0.1.0 wrote (tests/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
python3.11 -m venv "$work/build"
"$work/build/bin/pip" install -q -c constraints.txt "build>=1.2"
"$work/build/bin/python" -m build --outdir "$work/dist" . > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
ls "$work/dist"
python3.11 -m venv "$work/serve"
wheel=$(ls "$work"/dist/textrnn-*.whl)
"$work/serve/bin/pip" install -q -c constraints.txt "$wheel[serve]"
if "$work/serve/bin/python" -c "import torch" 2>/dev/null; then echo "torch is installed: the serve extra must not need it" >&2; exit 1; fi
export_dir=tests/fixtures/legacy-0.1/export
"$work/serve/bin/textrnn" predict "$export_dir" "ball goal team" "stock bank price" --format jsonl
port=$(python3.11 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$work/serve/bin/textrnn" serve "$export_dir" --port "$port" > "$work/serve.log" 2>&1 &
server=$!
"$work/serve/bin/python" - "$port" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
for _ in range(100):
    try:
        if urllib.request.urlopen(base + "/readyz", timeout=1).status == 200:
            break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("the server did not become ready")
request = urllib.request.Request(base + "/v1/predict", data=json.dumps({"texts": ["ball goal team"]}).encode(),
                                 headers={"content-type": "application/json"})
reply = json.load(urllib.request.urlopen(request, timeout=10))
assert reply["predictions"][0]["label"] == "sport", reply
print("served without torch:", reply["predictions"][0])
PY
# The sdist builds and installs too (without dependencies: they are the wheel's).
"$work/serve/bin/pip" install -q --no-deps --force-reinstall "$(ls "$work"/dist/textrnn-*.tar.gz)"
"$work/serve/bin/textrnn" --version
echo "packaging checked: wheel and sdist build; the serve extra predicts and serves without torch"
