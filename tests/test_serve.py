"""The HTTP service, started for real on a free loopback port: every endpoint, every error, batching, shutdown."""

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import synthetic_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textrnn import TextRNNClassifier
from textrnn.deploy.export import export_onnx

LIMITS = ["--max-texts", "20", "--max-chars", "200", "--max-body-bytes", "20000"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_path, *extra, log=None):
    """The server in its own process; its output goes to ``log`` (a file) when given. A pipe nobody reads fills
    after some hundred request log lines, and then the server blocks on its next log line."""
    port = free_port()
    output = log if log is not None else subprocess.PIPE
    process = subprocess.Popen([sys.executable, "-m", "textrnn", "serve", str(model_path), "--port", str(port), *extra],
                               stdout=output, stderr=output, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else Path(log.name).read_text()
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not become ready")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    texts, labels = synthetic_corpus(600)
    directory = tmp_path_factory.mktemp("serve")
    TextRNNClassifier(embed_dim=16, hidden_size=16, epochs=3, lr=5e-3).fit(texts, labels).save(directory / "run")
    export_onnx(directory / "run", directory / "onnx")
    return directory


@pytest.fixture(scope="module")
def server(model_dir):
    with open(model_dir / "server.log", "w") as log:
        process, base = start_server(model_dir / "onnx", *LIMITS, log=log)
        yield base
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_predict_returns_labels_and_probabilities(server):
    response = httpx.post(f"{server}/v1/predict", json={"texts": ["a late goal for the team", "shares fell"], "top_k": 2})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == ["sport", "money"]
    for p in predictions:
        assert len(p["top_k"]) == 2 and p["top_k"][0]["label"] == p["label"] and p["truncated"] is False
        assert p["top_k"][0]["probability"] >= p["top_k"][1]["probability"]


def test_model_health_ready_and_openapi(server, model_dir):
    info = httpx.get(f"{server}/v1/model").json()
    assert info["labels"] == ["money", "sport", "tech"] and info["backend"] == "onnxruntime"
    assert info["params"]["cell"] == "gru" and info["vocab_size"] > 10 and info["textrnn_version"]
    assert info["limits"]["max_texts"] == 20
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server}/readyz").json() == {"status": "ready"}
    assert "/v1/predict" in httpx.get(f"{server}/openapi.json").json()["paths"]


@pytest.mark.parametrize("body,status,message", [
    ({"texts": []}, 422, "at least 1 item"),
    ({"texts": "not a list"}, 422, "valid list"),
    ({"texts": [3]}, 422, "valid string"),
    ({"texts": ["x"], "top_k": 0}, 422, "greater than or equal to 1"),
    ({"texts": ["x"], "extra": 1}, 422, "Extra inputs"),
    ({}, 422, "Field required"),
    ({"texts": ["x"] * 21}, 422, "too many texts: 21, at most 20"),
])
def test_client_mistakes_are_json_4xx(server, body, status, message):
    response = httpx.post(f"{server}/v1/predict", json=body)
    assert response.status_code == status and message in json.dumps(response.json())


# A corpus of bad requests, each answered on its own with a JSON 4xx that says what was wrong (never a 500, never
# a dropped connection). With the cases above and the limits test below: more than 15 kinds.
BAD_BODIES = {
    "a JSON array": (b"[1, 2]", 422, "valid dictionary"),
    "texts null": (b'{"texts": null}', 422, "valid list"),
    "a null text": (b'{"texts": [null]}', 422, "valid string"),
    "an object as text": (b'{"texts": [{"a": 1}]}', 422, "valid string"),
    "top_k a word": (b'{"texts": ["x"], "top_k": "two"}', 422, "valid integer"),
    "top_k a fraction": (b'{"texts": ["x"], "top_k": 2.5}', 422, "valid integer"),
    "top_k enormous": (b'{"texts": ["x"], "top_k": 1000000000000000000000000000000}', 422, "less than or equal to 1000"),
    "deeply nested": (b'{"texts": ' + b"[" * 2000 + b"]" * 2000 + b"}", 400, "error parsing the body"),
    "a lone surrogate": (b'{"texts": ["a \\ud800 b"]}', 422, "lone surrogate"),
    "not JSON at all": (b"texts=hello", 422, "detail"),
    "an empty body": (b"", 422, "detail"),
}


@pytest.mark.parametrize("case", BAD_BODIES)
def test_each_bad_request_gets_its_own_json_4xx(server, case):
    body, status, message = BAD_BODIES[case]
    response = httpx.post(f"{server}/v1/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert message in json.dumps(response.json())
    assert httpx.get(f"{server}/readyz").status_code == 200  # and the server goes on serving


def test_odd_but_valid_texts_are_answered(server):
    texts = ["", "\x00\x07 control characters", "emoji 🎉 and RTL \u202e text", " " * 50]
    response = httpx.post(f"{server}/v1/predict", json={"texts": texts})
    assert response.status_code == 200 and len(response.json()["predictions"]) == 4
    assert httpx.get(f"{server}/v1/predict").status_code == 405


def test_body_encoding_size_and_length_limits(server):
    too_big = httpx.post(f"{server}/v1/predict", json={"texts": ["goal " * 5000]})
    assert too_big.status_code == 413 and "body too large" in too_big.json()["detail"]
    not_utf8 = httpx.post(f"{server}/v1/predict", content=b'{"texts": ["\xff\xfe"]}',
                          headers={"content-type": "application/json"})
    assert not_utf8.status_code == 400 and "UTF-8" in not_utf8.json()["detail"]
    broken = httpx.post(f"{server}/v1/predict", content=b'{"texts": [', headers={"content-type": "application/json"})
    assert broken.status_code == 422
    long = httpx.post(f"{server}/v1/predict", json={"texts": ["goal " * 100, "goal"]}).json()["predictions"]
    assert [p["truncated"] for p in long] == [True, False]


def test_concurrent_requests_share_batches(server):
    before = httpx.get(f"{server}/v1/model").json()["served"]
    results = []

    def call(i):
        results.append(httpx.post(f"{server}/v1/predict", json={"texts": [f"the team scored goal {i}"]}, timeout=30))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = httpx.get(f"{server}/v1/model").json()["served"]
    assert all(r.status_code == 200 and r.json()["predictions"][0]["label"] == "sport" for r in results)
    assert after["texts"] - before["texts"] == 60
    assert after["batches"] - before["batches"] < 60  # some requests went through the model together


def test_sigterm_lets_in_flight_requests_finish(model_dir):
    process, base = start_server(model_dir / "run", "--max-texts", "5000", "--max-body-bytes", "10000000")
    answer = {}

    def slow_request():
        answer["response"] = httpx.post(f"{base}/v1/predict", json={"texts": ["goal " * 300] * 4000}, timeout=60)

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    thread.join()
    _, err = process.communicate(timeout=30)
    assert answer["response"].status_code == 200 and len(answer["response"].json()["predictions"]) == 4000
    # Uvicorn shuts down gracefully, then re-raises the signal so that the exit status tells what stopped it.
    assert process.returncode in (0, -signal.SIGTERM) and "Finished server process" in err
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(entry["path"] == "/v1/predict" and entry["status"] == 200 and entry["ms"] > 0 for entry in logs)


def test_fuzzed_requests_never_get_a_server_error(server, tmp_path):
    """Schemathesis generates requests from the OpenAPI document (valid and invalid); none may get a 5xx."""
    fuzzer = Path(sys.executable).parent / "schemathesis"
    result = subprocess.run([str(fuzzer), "run", f"{server}/openapi.json", "--checks", "not_a_server_error",
                             "--max-examples", "200", "--seed", "1"], capture_output=True, text=True, timeout=600,
                            cwd=tmp_path)  # its cache goes there, not into the checkout
    assert result.returncode == 0, result.stdout[-3000:]
    assert "No issues found" in result.stdout


# Bodies a careless or hostile client sends: texts with lone surrogates, control characters and every other kind
# of character; any JSON at all, nested; nesting thousands deep; strings far past the limits; raw bytes.
ODD_CHARACTERS = st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Co", "Zs", "Zl", "Lu", "Ll", "Nd", "Po",
                                                        "Sm", "So", "Mn"])
ODD_TEXT = st.text(alphabet=ODD_CHARACTERS, max_size=60)
ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | ODD_TEXT,
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
                        max_leaves=20)


def encoded(value) -> bytes:
    return json.dumps(value).encode()  # ensure_ascii: a lone surrogate travels as the escape \ud800


FUZZED_BODIES = st.one_of(
    st.builds(lambda texts: encoded({"texts": texts}), st.lists(ODD_TEXT, max_size=25)),
    st.builds(lambda texts, top_k: encoded({"texts": texts, "top_k": top_k}), st.lists(ODD_TEXT, max_size=3),
              ANY_JSON),
    st.builds(lambda value: encoded({"texts": value}), ANY_JSON),
    st.builds(encoded, ANY_JSON),
    st.builds(lambda depth: b'{"texts": ' + b"[" * depth + b"]" * depth + b"}", st.integers(1, 100_000)),
    st.builds(lambda depth: b'{"texts": [' + b'{"a": ' * depth + b"1" + b"}" * depth + b"]}", st.integers(1, 5_000)),
    st.builds(lambda size, char: encoded({"texts": [char * size]}), st.integers(0, 1_000_000), ODD_CHARACTERS),
    st.binary(max_size=3_000),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.function_scoped_fixture])
@given(body=FUZZED_BODIES)
def test_fuzzed_bodies_get_answers_below_500_and_the_server_keeps_answering(server, body):
    response = httpx.post(f"{server}/v1/predict", content=body, headers={"content-type": "application/json"},
                          timeout=30)
    assert response.status_code < 500, (body[:200], response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    if response.status_code == 200:
        assert all(p["label"] in ("money", "sport", "tech") for p in response.json()["predictions"])
    good = httpx.post(f"{server}/v1/predict", json={"texts": ["the team scored a late goal"]}, timeout=30)
    assert good.status_code == 200 and good.json()["predictions"][0]["label"] == "sport"


def test_one_bad_request_fails_alone_and_a_panic_does_not_stop_the_server(model_dir):
    """A request the model fails on (here: a text with 'boom' raises; 'panic' raises a BaseException, as the
    tokenizers library's PanicException does) gets its own error; requests batched with it are answered, and the
    server goes on serving."""
    import asyncio

    from fastapi.testclient import TestClient

    from textrnn.deploy import serve as serve_module

    class Panic(BaseException):
        pass

    real = serve_module.Predictor.predict_proba

    def fragile(self, texts):
        if any("panic" in t for t in texts):
            raise Panic("a library panicked")
        if any("boom" in t for t in texts):
            raise ValueError("boom")
        return real(self, texts)

    serve_module.Predictor.predict_proba = fragile
    try:
        app = serve_module.create_app(serve_module.ServeSettings(model_path=str(model_dir / "onnx"), max_wait_ms=50))
        with TestClient(app) as client:
            async def burst():
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
                    bodies = [{"texts": ["goal for the team"]}, {"texts": ["boom"]}, {"texts": ["stock market"]},
                              {"texts": ["panic now"]}, {"texts": ["new chip"]}]
                    return await asyncio.gather(*(c.post("/v1/predict", json=b) for b in bodies))

            replies = client.portal.call(burst)
            assert [r.status_code for r in replies] == [200, 500, 200, 500, 200]
            assert "other requests are not affected" in replies[1].json()["detail"]
            after = client.post("/v1/predict", json={"texts": ["the coach"]})
            assert after.status_code == 200 and client.get("/readyz").status_code == 200
            lone = client.post("/v1/predict", content=b'{"texts": ["a \\ud800 b", "fine"]}',
                               headers={"content-type": "application/json"})
            assert lone.status_code == 422 and "lone surrogate" in json.dumps(lone.json())
    finally:
        serve_module.Predictor.predict_proba = real


def test_the_model_description_names_files_but_never_where_they_are(tmp_path):
    """/v1/model is public: the training file and word-vector paths appear by name, not by absolute path."""
    from textrnn.cli import main
    from textrnn.deploy.serve import Predictor

    texts, labels = synthetic_corpus(300)
    data = tmp_path / "secret-place" / "train.csv"
    data.parent.mkdir()
    data.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts, labels)))
    run = tmp_path / "secret-place" / "run"
    assert main(["train", "--dataset", str(data), "--out", str(run), "--embed-dim", "8", "--hidden-size", "8",
                 "--epochs", "1", "--no-verbose"]) == 0
    info = Predictor(run).info
    assert info["training_metrics"]["train_source"] == "train.csv" and info["model"] == "run"
    assert "secret-place" not in json.dumps(info)
