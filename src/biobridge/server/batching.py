"""One model thread, and micro-batching of retrieve requests onto it.

Every answer is computed on a single worker thread: the model's matrix products already use every core, and
one thread means the run's caches are never touched by two requests at once. Retrieve requests that arrive
while the thread is busy wait in a queue keyed by what they share (query type, target type, relation,
candidate policy, ``as_raw``); when the thread frees, each key's waiting requests are answered with one
``RetrievalService.retrieve_many`` call. Nothing waits for companions when the server is idle (no added
latency), and results are identical to answering one request at a time (``Bridge.retrieve_many``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from biobridge.server.schemas import RetrieveRequest, RetrieveResponse
from biobridge.server.service import RequestError, RetrievalService

log = logging.getLogger(__name__)


def batch_key(request: RetrieveRequest) -> tuple:
    return (request.query_type, request.target_type, request.relation, request.candidates, request.as_raw)


class ModelWorker:
    """Runs the service's work on one thread; ``retrieve`` micro-batches, ``call`` runs anything else."""

    def __init__(
        self, service: RetrievalService, max_batch: int, on_batch: Callable[[int], None] | None = None
    ):
        self.service = service
        self.max_batch = max_batch  # queries per retrieve_many call
        self.on_batch = on_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="biobridge-model")
        self._waiting: OrderedDict[tuple, list[tuple[RetrieveRequest, asyncio.Future]]] = OrderedDict()
        self._draining = False

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def retrieve(self, request: RetrieveRequest) -> RetrieveResponse:
        future = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(batch_key(request), []).append((request, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                key = next(iter(self._waiting))
                jobs = self._waiting[key]
                taken, n = [], 0
                while jobs and (not taken or n + len(jobs[0][0].query_list()) <= self.max_batch):
                    taken.append(jobs.pop(0))
                    n += len(taken[-1][0].query_list())
                if not jobs:
                    del self._waiting[key]
                else:  # the rest of this key goes behind the other keys (fair across keys)
                    self._waiting.move_to_end(key)
                outcomes = await self.call(self._answer, [request for request, _ in taken])
                for (_, future), outcome in zip(taken, outcomes, strict=True):
                    if future.done():  # the client went away
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._draining = False

    def _answer(self, requests: list[RetrieveRequest]) -> list[RetrieveResponse | BaseException]:
        """On the model thread: check each request alone (an error stays its own), answer the valid ones
        together."""
        outcomes: list[RetrieveResponse | BaseException | None] = []
        valid = []
        for request in requests:
            try:
                self.service.check_retrieve(request)
                outcomes.append(None)
                valid.append(request)
            except RequestError as exc:
                outcomes.append(exc)
        if valid:
            try:
                answers = iter(self.service.retrieve_many(valid))
            except Exception as exc:  # noqa: BLE001 - handed to every request of the batch
                log.exception("retrieve batch of %d requests failed", len(valid))
                answers = iter([exc] * len(valid))
            if self.on_batch is not None:
                self.on_batch(sum(len(r.query_list()) for r in valid))
            outcomes = [next(answers) if o is None else o for o in outcomes]
        return outcomes

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
