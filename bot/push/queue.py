"""Where push jobs run: RQ queues on Redis (any number of workers and hosts) or in-process (embedded)."""

from __future__ import annotations

import heapq
import importlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("yinling.push")

QUEUES = ("replies", "notices")  # workers take replies first


@dataclass(frozen=True)
class JobSpec:
    """One job: a dotted function path and integer arguments (cheap to pickle, safe to repeat)."""

    func: str
    args: tuple[Any, ...]
    job_id: str
    queue: str = "notices"
    delay: float = 0.0


def resolve(func: str) -> Callable[..., Any]:
    module, name = func.rsplit(".", 1)
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn


class JobQueue(Protocol):
    def enqueue(self, specs: list[JobSpec]) -> None: ...

    def waiting(self, job_id: str) -> bool: ...


class RQJobQueue:
    """RQ on Redis. Jobs with a delay go through RQ's scheduler (workers run `with_scheduler`).

    With `prefix` (the deployment's `redis.prefix`), RQ's keys (queues, jobs, registries, workers,
    scheduler) are under `<prefix>rq:` in this process (see `bind_rq_prefix`).
    """

    def __init__(self, url: str, job_timeout: int = 900, prefix: str | None = None) -> None:
        import redis

        from ..runtime import bind_rq_prefix

        if prefix is not None:
            bind_rq_prefix(prefix)
        # RQ pickles job data: it needs a connection without decode_responses.
        self.connection = redis.Redis.from_url(url)
        self.job_timeout = job_timeout
        self._queues: dict[str, Any] = {}

    def queue(self, name: str) -> Any:
        from rq import Queue

        if name not in self._queues:
            self._queues[name] = Queue(name, connection=self.connection, default_timeout=self.job_timeout)
        return self._queues[name]

    def enqueue(self, specs: list[JobSpec]) -> None:
        from datetime import timedelta

        from rq import Queue, Retry

        now_specs: dict[str, list[Any]] = {}
        for spec in specs:
            q = self.queue(spec.queue)
            kwargs: dict[str, Any] = dict(job_id=spec.job_id, result_ttl=600, failure_ttl=7 * 86400,
                                          retry=Retry(max=3, interval=[5, 30, 120]))
            if spec.delay > 0:
                q.enqueue_in(timedelta(seconds=spec.delay), spec.func, *spec.args, **kwargs)
            else:
                now_specs.setdefault(spec.queue, []).append(
                    Queue.prepare_data(spec.func, args=spec.args, **kwargs))
        for name, datas in now_specs.items():
            for i in range(0, len(datas), 500):
                self.queue(name).enqueue_many(datas[i : i + 500])

    def waiting(self, job_id: str) -> bool:
        """Queued, scheduled or deferred: some worker will run it. (Running jobs hold a lease instead.)"""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job

        try:
            status = Job.fetch(job_id, connection=self.connection).get_status()
        except NoSuchJobError:
            return False
        return str(getattr(status, "value", status)) in ("queued", "scheduled", "deferred")


@dataclass(order=True)
class _Item:
    due: float
    priority: int
    seq: int
    spec: JobSpec = field(compare=False)


class LocalJobQueue:
    """Embedded mode: the same job functions in this process, replies before notices, delays honoured.

    `threaded=False` runs nothing by itself: call `drain()` (tests and the CLI use it).
    """

    def __init__(self, threaded: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        self._heap: list[_Item] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._clock = clock
        self._known: dict[str, str] = {}
        self._running = 0
        self._threaded = threaded
        self._thread: threading.Thread | None = None

    def enqueue(self, specs: list[JobSpec]) -> None:
        with self._cv:
            for spec in specs:
                prio = QUEUES.index(spec.queue) if spec.queue in QUEUES else len(QUEUES)
                heapq.heappush(self._heap, _Item(self._clock() + spec.delay, prio, next(self._seq), spec))
                self._known[spec.job_id] = "queued"
            self._cv.notify()
        if self._threaded and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="yinling-push", daemon=True)
            self._thread.start()

    def waiting(self, job_id: str) -> bool:
        return self._known.get(job_id) == "queued"

    def _take(self, block: bool) -> JobSpec | None:
        with self._cv:
            while True:
                now = self._clock()
                if self._heap:
                    # Earliest due first; among due items, replies before notices.
                    due = [i for i in self._heap if i.due <= now]
                    if due:
                        item = min(due, key=lambda i: (i.priority, i.seq))
                        self._heap.remove(item)
                        heapq.heapify(self._heap)
                        self._known[item.spec.job_id] = "started"
                        self._running += 1
                        return item.spec
                    wait = min(i.due for i in self._heap) - now
                else:
                    wait = None
                if not block:
                    return None
                self._cv.wait(timeout=wait)

    def _run(self, spec: JobSpec) -> None:
        try:
            resolve(spec.func)(*spec.args)
            state = "finished"
        except Exception:  # noqa: BLE001 - one failed job must not stop the embedded worker
            log.exception("push job %s failed", spec.job_id)
            state = "failed"
        with self._cv:
            self._known[spec.job_id] = state
            self._running -= 1
            self._cv.notify_all()

    def _loop(self) -> None:
        while True:
            spec = self._take(block=True)
            if spec is not None:
                self._run(spec)

    def drain(self, include_delayed: bool = False, timeout: float = 30.0) -> int:
        """Run every due job in this thread (and delayed ones too when asked); returns how many ran."""
        ran = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spec = self._take(block=False)
            if spec is None:
                if include_delayed and self._heap:
                    with self._cv:
                        for item in self._heap:
                            item.due = 0.0
                    continue
                if self._threaded and (self._running or self._heap):
                    time.sleep(0.01)
                    continue
                return ran
            self._run(spec)
            ran += 1
        return ran

    def pending(self) -> int:
        with self._cv:
            return len(self._heap) + self._running
