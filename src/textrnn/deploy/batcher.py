"""Micro-batching for the server: texts from concurrent requests share one model call, and a request the
model fails on fails alone."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import numpy as np

access_log = logging.getLogger("textrnn.access")


class MicroBatcher:
    """Collects texts from concurrent requests into batches for one model call at a time."""

    def __init__(self, predict, max_batch: int, max_wait_ms: float) -> None:
        self.predict, self.max_batch, self.max_wait = predict, max_batch, max_wait_ms / 1000
        self.queue: asyncio.Queue = asyncio.Queue()
        self.worker: asyncio.Task | None = None
        self.served = {"requests": 0, "texts": 0, "batches": 0}

    def start(self) -> None:
        self.worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        await self.queue.join()
        if self.worker:
            self.worker.cancel()

    async def submit(self, texts: list[str]) -> np.ndarray:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((texts, future))
        return await future

    async def _run(self) -> None:
        while True:
            pending = [await self.queue.get()]
            count = len(pending[0][0])
            deadline = time.perf_counter() + self.max_wait
            while count < self.max_batch:
                # Whatever queued up while the model was busy goes in at once; then wait, if allowed, for more.
                if self.queue.empty():
                    timeout = deadline - time.perf_counter()
                    if timeout <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self.queue.get(), timeout)
                    except asyncio.TimeoutError:
                        break
                else:
                    item = self.queue.get_nowait()
                pending.append(item)
                count += len(item[0])
            try:
                await self._answer(pending)
            finally:
                for _ in pending:
                    self.queue.task_done()

    async def _answer(self, pending: list) -> None:
        """Predict a batch; if it fails, each request again on its own, so one bad request fails alone."""
        texts = [text for request_texts, _ in pending for text in request_texts]
        try:
            probabilities = await self._predict(texts)
        except PredictionFailed:
            if len(pending) == 1:
                _, future = pending[0]
                if not future.done():
                    future.set_exception(PredictionFailed("the model could not label these texts"))
                return
            for item in pending:
                await self._answer([item])
            return
        self.served["batches"] += 1
        self.served["requests"] += len(pending)
        self.served["texts"] += len(texts)
        start = 0
        for request_texts, future in pending:
            if not future.done():
                future.set_result(probabilities[start : start + len(request_texts)])
            start += len(request_texts)

    async def _predict(self, texts: list[str]) -> np.ndarray:
        try:
            return await asyncio.to_thread(self.predict, texts)
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # a library's panic derives from BaseException: it must not end the loop
            access_log.error(json.dumps({"event": "prediction_failed", "error": f"{type(error).__name__}: {error}"}))
            raise PredictionFailed(str(error)) from None


class PredictionFailed(Exception):
    """The model raised while labelling a batch (logged); the request gets a 500, other requests are unharmed."""
