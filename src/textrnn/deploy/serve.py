"""An HTTP service for a trained model (a run directory) or an ONNX export, on FastAPI and Uvicorn.

    POST /v1/predict   {"texts": ["...", ...], "top_k": 2}  ->  labels and probabilities per text
    GET  /v1/model     labels, architecture, vocabulary size, training metrics, version
    GET  /healthz      the process is up          GET /readyz   the model is loaded and serving
    GET  /openapi.json and /docs                   the API description

Concurrent requests are grouped: texts wait at most ``max_wait_ms`` for others to arrive and then go
through the model together, at most ``max_batch`` at a time, so throughput grows with load. Every
client mistake is a 4xx with a JSON body; every request is logged as one JSON line; on SIGTERM the
server stops accepting connections and finishes the requests it has (Uvicorn's graceful shutdown),
then the batcher drains.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import __version__
from ..multilabel import given_labels
from .batcher import MicroBatcher, PredictionFailed

SETTINGS_VARIABLE = "TEXTRNN_SERVE_SETTINGS"
access_log = logging.getLogger("textrnn.access")


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: str
    max_batch: int = Field(64, ge=1, description="most texts that go through the model together")
    max_wait_ms: float = Field(
        0.0, ge=0, description="how long a text may wait for more to share its batch (texts that queued up while "
        "the model was busy always go together)")
    max_texts: int = Field(256, ge=1, description="most texts in one request")
    max_chars: int = Field(10_000, ge=1, description="longer texts are cut to this many characters (and flagged)")
    max_body_bytes: int = Field(1_000_000, ge=1, description="larger request bodies are refused with 413")
    threads: int = Field(1, ge=1, description="threads the model computes with (the event loop needs a core too)")


# ------------------------------------------------------------------------------------------- the model


class Predictor:
    """The model behind the service: an ONNX export (no torch) or a run directory (PyTorch)."""

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        path = Path(path)
        # /v1/model is public: it names files, never where they are on the server (no absolute paths)
        self.info: dict[str, Any] = {"model": path.resolve().name, "textrnn_version": __version__}
        from .runtime import OnnxClassifier, load_predictor

        self.model = load_predictor(path, threads)
        if isinstance(self.model, OnnxClassifier):
            manifest = self.model.manifest
            self.info.update(backend="onnxruntime", quantize=manifest.get("quantize"),
                             params=_without_paths(manifest.get("params") or {}))
            source = Path(manifest.get("source_run", ""))
        else:
            self.info.update(backend="pytorch", params=_without_paths(self.model.get_params()))
            if threads:  # this process serves one model: set once, so predictions need not switch it per batch
                import torch

                torch.set_num_threads(threads)
            source = path
        self.classes = list(self.model.class_names_)
        self.thresholds = getattr(self.model, "thresholds_", None)  # multi-label models only
        self.info.update(labels=self.classes, vocab_size=self.model.vectorizer_.vocab_size,
                         multi_label=self.thresholds is not None)
        if self.thresholds is not None:
            self.info["thresholds"] = dict(zip(self.classes, map(float, self.thresholds)))
        metrics_path = source / "metrics.json"
        if metrics_path.is_file():
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
            test = metrics.get("test") or {}
            self.info["training_metrics"] = {
                "test_accuracy": test.get("accuracy"), "test_macro_f1": test.get("macro_f1"),
                **({"test_micro_f1": test["micro_f1"]} if "micro_f1" in test else {}),
                "train_rows": metrics.get("data", {}).get("train_rows"),
                "train_source": _file_name(metrics.get("data", {}).get("train_source")),
            }

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(texts)


def _file_name(value):
    """A file's name without its directory (``/home/me/data/train.csv`` -> ``train.csv``); other values as they are."""
    return Path(value).name if isinstance(value, str) and ("/" in value or "\\" in value) else value


def _without_paths(params: dict) -> dict:
    return {name: _file_name(value) for name, value in params.items()}


# ------------------------------------------------------------------------------------------ the schema


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[str] = Field(min_length=1, description="the texts to classify (valid Unicode: no lone surrogates)")
    top_k: int = Field(1, ge=1, le=1000, description="how many labels to return per text, most probable first")

    @field_validator("texts")
    @classmethod
    def _valid_unicode(cls, texts: list[str]) -> list[str]:
        """JSON may spell a lone surrogate (``"\\ud800"``), which is not text: refuse it here, for this request only."""
        for index, text in enumerate(texts):
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError(f"texts[{index}]: not valid Unicode (a lone surrogate at character {error.start})")
        return texts


class LabelProbability(BaseModel):
    label: str
    probability: float


class Prediction(BaseModel):
    label: str = Field(description="the most probable label")
    probability: float = Field(description="its probability")
    labels: list[LabelProbability] = Field(
        description="the labels the text gets, most probable first: for a multi-label model every label whose "
        "probability reaches its threshold (perhaps none), otherwise the most probable label alone")
    top_k: list[LabelProbability]
    truncated: bool = Field(description="true when the text was cut to max_chars characters before prediction")


class PredictResponse(BaseModel):
    predictions: list[Prediction]


class ErrorResponse(BaseModel):
    detail: Any


# ------------------------------------------------------------------------------------------------- app


def _lifespan(settings: ServeSettings, state: dict):
    """Load the model and start the batcher when the server starts; finish queued work when it stops."""

    @asynccontextmanager
    async def lifespan(app):
        state["predictor"] = Predictor(settings.model_path, settings.threads)
        batcher = MicroBatcher(state["predictor"].predict_proba, settings.max_batch, settings.max_wait_ms)
        batcher.start()
        state["batcher"], state["ready"] = batcher, True
        yield
        state["ready"] = False
        await batcher.stop()

    return lifespan


def create_app(settings: ServeSettings):
    from fastapi import FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    state: dict[str, Any] = {"ready": False}
    app = FastAPI(title="textrnn", version=__version__, lifespan=_lifespan(settings, state),
                  description="Text classification with a textrnn recurrent-network model.")
    app.add_middleware(BodyLimitAndAccessLog, max_body_bytes=settings.max_body_bytes)
    errors = {413: {"model": ErrorResponse, "description": "body too large"},
              422: {"model": ErrorResponse, "description": "not a valid request"},
              503: {"model": ErrorResponse, "description": "the model is not loaded yet"}}

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError):
        details = [{"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
                   for e in error.errors()]
        return JSONResponse(status_code=422, content={"detail": details})

    @app.post("/v1/predict", response_model=PredictResponse, responses=errors)
    async def predict(request: PredictRequest) -> PredictResponse:
        if not state["ready"]:
            raise HTTPException(503, "the model is not loaded yet")
        if len(request.texts) > settings.max_texts:
            raise HTTPException(422, f"too many texts: {len(request.texts)}, at most {settings.max_texts} per request")
        texts = [text[: settings.max_chars] for text in request.texts]
        try:
            probabilities = await state["batcher"].submit(texts)
        except PredictionFailed as failure:
            raise HTTPException(500, f"the model failed on this request's texts ({failure}); other requests "
                                     "are not affected") from None
        predictor = state["predictor"]
        return predictions(request, probabilities, predictor.classes, settings.max_chars, predictor.thresholds)

    @app.get("/v1/model", responses=errors)
    async def model_info() -> dict:
        if not state["ready"]:
            raise HTTPException(503, "the model is not loaded yet")
        limits = settings.model_dump(exclude={"model_path"})
        return {**state["predictor"].info, "limits": limits, "served": dict(state["batcher"].served)}

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", responses=errors)
    async def readyz():
        if not state["ready"]:
            return JSONResponse(status_code=503, content={"detail": "the model is not loaded yet"})
        return {"status": "ready"}

    return app


def predictions(request: "PredictRequest", probabilities: np.ndarray, classes: list[str],
                max_chars: int, thresholds: np.ndarray | None = None) -> "PredictResponse":
    """The response: each text's labels (multi-label: by ``thresholds``), its top ``request.top_k`` labels, and
    whether the text was cut."""
    k = min(request.top_k, len(classes))
    rows = []
    choice = lambda row, j: LabelProbability(label=classes[j], probability=float(row[j]))
    for original, row, given in zip(request.texts, probabilities, given_labels(probabilities, thresholds)):
        top = [choice(row, j) for j in np.argsort(-row, kind="stable")[:k]]
        rows.append(Prediction(label=top[0].label, probability=top[0].probability,
                               labels=[choice(row, j) for j in given], top_k=top, truncated=len(original) > max_chars))
    return PredictResponse(predictions=rows)


class BodyLimitAndAccessLog:
    """ASGI middleware: refuse bodies over the limit (413) or not UTF-8 (400), and log each request as JSON."""

    def __init__(self, app, max_body_bytes: int) -> None:
        self.app, self.max_body_bytes = app, max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_logged(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            body, problem = await self._read_body(scope, receive)
            if problem:
                await _json_error(send_logged, *problem)
                return
            replayed = False

            async def replay():
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send_logged)
        finally:
            client = scope.get("client")
            access_log.info(json.dumps({
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "method": scope["method"], "path": scope["path"],
                "status": status["code"], "ms": round(1000 * (time.perf_counter() - started), 2),
                "client": f"{client[0]}:{client[1]}" if client else None,
            }))

    async def _read_body(self, scope, receive) -> tuple[bytes, tuple[int, str] | None]:
        declared = dict(scope.get("headers") or {}).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return b"", (413, f"body too large: {int(declared):,} bytes, at most {self.max_body_bytes:,}")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", (413, f"body too large: over {self.max_body_bytes:,} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as error:
            return b"", (400, f"body is not valid UTF-8 (byte {error.start})")
        return body, None


async def _json_error(send, status: int, detail: str) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


def app_from_environment():
    """The app for ``uvicorn --factory`` (several workers): settings come from an environment variable."""
    if not access_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access_log.addHandler(handler)
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
    return create_app(ServeSettings(**json.loads(os.environ[SETTINGS_VARIABLE])))


def serve(settings: ServeSettings, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    import uvicorn

    Predictor(settings.model_path)  # fail here, with a clear message, rather than in every worker
    os.environ[SETTINGS_VARIABLE] = settings.model_dump_json()
    uvicorn.run("textrnn.deploy.serve:app_from_environment", factory=True, host=host, port=port, workers=workers,
                access_log=False, timeout_graceful_shutdown=30, log_level="info")
