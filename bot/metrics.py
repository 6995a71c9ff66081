"""Prometheus metrics: every series of the service in one place, with bounded label values only.

Callers add one line each (`metrics.delivery(route, outcome)`, `TurnProbe` in the pipeline, …). Under
gunicorn set PROMETHEUS_MULTIPROC_DIR (an empty directory, the same one for every process of the host,
web and worker): prometheus_client then keeps each process's values in files there and `/metrics` reads
them all. Queue depth and reviews past their deadline are not kept by any process: `ScrapeCollector`
computes them when Prometheus asks.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import event, inspect

import data
from data.handoffs import ROUTES as HANDOFF_ROUTES
from data.models import Signup, SignupStatus
from data.models_push import Handoff

from .logs import CHANNEL, INTENT, REQUEST_ID

log = logging.getLogger("yinling.turn")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


# prometheus_client opens its file there as each series below is made: a directory not made yet (a worker
# started before gunicorn, /run after a reboot) stopped every `python -m bot` command with a traceback.
if multiprocess_dir():
    Path(str(multiprocess_dir())).mkdir(parents=True, exist_ok=True, mode=0o700)

# -- bounded label values ------------------------------------------------------------------------
CHANNELS = frozenset({"wechat", "sms", "console"})
ROUTES = frozenset({"wechat_custom", "wechat_template", "sms"})
OUTCOMES = frozenset({"sent", "retry", "failed", "unreachable", "skipped", "uncertain"})
# WeChat errcodes we name; any other becomes "other" (a misbehaving API cannot grow the series).
WECHAT_ERRCODES = frozenset({-1, 40001, 40002, 40003, 40013, 40014, 40125, 40164, 41001, 42001, 43004, 43101,
                             45009, 45015, 45047, 47001, 47003, 48001, 61024, 89503})
OTHER = "other"


def _intents() -> frozenset[str]:
    """The intent names of the training data (the only values the `intent` label takes, with nlu_fallback)."""
    path = Path(data.__file__).parent / "nlu" / "nlu.yml"
    try:
        found = re.findall(r"^- intent:\s*([a-z_]+)\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)
    except OSError:
        found = []
    return frozenset(found) | {"nlu_fallback", "none"}


_INTENTS: list[frozenset[str]] = []


def bounded(value: Any, allowed: Iterable[Any]) -> str:
    """`value` as a label when it is one of `allowed`, else "other"."""
    return str(value) if value in allowed else OTHER


def intent_label(name: Any) -> str:
    if not _INTENTS:
        _INTENTS.append(_intents())
    return bounded(name, _INTENTS[0])


def errcode_label(errcode: int | None, http_status: int | None = None) -> str:
    if errcode is not None:
        return bounded(errcode, WECHAT_ERRCODES)
    if http_status:
        return "http_5xx" if http_status >= 500 else "http_4xx" if http_status >= 400 else "http_other"
    return "network"


# -- the series (each process writes its own; see the module docstring for gunicorn) -------------------
TURNS = Counter("yinling_turns_total", "Messages answered, by channel and the intent NLU read",
                ["channel", "intent"])
TURN_SECONDS = Histogram("yinling_turn_seconds", "Time to answer one message (NLU, dialogs, database)",
                         ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0))
NOT_UNDERSTOOD = Counter("yinling_not_understood_total", "Messages the bot answered with 没听明白", ["channel"])
TURN_FAILURES = Counter("yinling_turn_failures_total", "Turns that failed and got the polite apology",
                        ["channel"])
HANDOFFS = Counter("yinling_handoffs_total", "Requests for a person (找人工), by the route that tells a coordinator",
                   ["route"])
NLU_FALLBACKS = Counter("yinling_nlu_fallback_total",
                        "Messages the built-in parser read because the Rasa server could not be asked", ["reason"])
WECHAT_LATE = Counter("yinling_wechat_late_replies_total",
                      "WeChat turns that missed the 5-second window (the reply followed as a customer message)")
WECHAT_ERRORS = Counter("yinling_wechat_api_errors_total", "WeChat API calls that failed, by errcode",
                        ["errcode"])
DELIVERIES = Counter("yinling_deliveries_total", "Notice deliveries, by route tried last and outcome",
                     ["route", "outcome"])
SIGNUPS = Counter("yinling_signups_total", "Sign-ups made, by the status they started in", ["status"])
CANCELLATIONS = Counter("yinling_cancellations_total", "Sign-ups cancelled")
PROMOTIONS = Counter("yinling_waitlist_promotions_total", "Sign-ups moved from the waiting list to a place")


# -- one-line helpers for callers -------------------------------------------------------------------
def delivery(route: Any, outcome: Any) -> None:
    DELIVERIES.labels(bounded(route, ROUTES) if route else "none", bounded(outcome, OUTCOMES)).inc()


def wechat_error(errcode: int | None, http_status: int | None = None) -> None:
    WECHAT_ERRORS.labels(errcode_label(errcode, http_status)).inc()


def nlu_fallback(reason: str) -> None:
    NLU_FALLBACKS.labels(bounded(reason, {"unreachable", "bad_answer"})).inc()


# -- one turn: counted, timed, and its log line ---------------------------------------------------------
class TurnProbe:
    """Times one turn and counts it; while it runs, log lines of this thread carry its request id and channel.

    The pipeline adds three lines: `probe = TurnProbe(channel, request_id)` at the start, `probe.read(turn)`
    once the dialogs answered, `probe.done(failed)` at the end (it also writes the turn's log line).
    """

    def __init__(self, channel: str, request_id: str, clock: Callable[[], float] = time.perf_counter) -> None:
        self.channel = bounded(channel, CHANNELS)
        self.clock = clock
        self.started = clock()
        self.intent = "none"
        self.understood = True
        self._tokens = [REQUEST_ID.set(request_id), CHANNEL.set(self.channel), INTENT.set(None)]

    def read(self, turn: Any) -> None:
        """Take the intent NLU read and whether the dialogs understood (a `dialogs.Turn`)."""
        self.intent = intent_label((getattr(turn, "parse", None) or {}).get("intent", {}).get("name"))
        self.understood = bool(getattr(turn, "understood", True))
        INTENT.set(self.intent)

    def done(self, failed: bool = False) -> float:
        seconds = self.clock() - self.started
        TURNS.labels(self.channel, self.intent).inc()
        TURN_SECONDS.labels(self.channel).observe(seconds)
        if failed:
            TURN_FAILURES.labels(self.channel).inc()
        elif not self.understood:
            NOT_UNDERSTOOD.labels(self.channel).inc()
        log.info("turn done", extra={"intent": self.intent, "duration_ms": round(seconds * 1000, 1),
                                     "understood": self.understood,
                                     "failed": failed})
        for var, token in zip((REQUEST_ID, CHANNEL, INTENT), self._tokens, strict=True):
            try:
                var.reset(token)
            except ValueError:  # done in another context than it began: nothing to restore there
                pass
        return seconds


# -- sign-ups, cancellations, promotions, hand-offs: counted from the database session, after the commit ------
_PENDING_KEY = "yinling_metrics"


def _after_flush(session: Any, _flush_context: Any) -> None:
    counts: list[tuple[Any, ...]] = session.info.setdefault(_PENDING_KEY, [])
    for obj in session.new:
        if isinstance(obj, Signup) and obj.status is not None:
            counts.append((SIGNUPS, _status(obj.status)))
        elif isinstance(obj, Handoff):
            counts.append((HANDOFFS, bounded(obj.route, HANDOFF_ROUTES)))
    for obj in session.dirty:
        if not isinstance(obj, Signup):
            continue
        hist = inspect(obj).attrs.status.history
        if not hist.has_changes() or not hist.deleted:
            continue
        before, after = hist.deleted[0], obj.status
        if after == SignupStatus.CANCELLED and before != SignupStatus.CANCELLED:
            counts.append((CANCELLATIONS,))
        elif before == SignupStatus.WAITLISTED and after in (SignupStatus.CONFIRMED, SignupStatus.PENDING):
            counts.append((PROMOTIONS,))
        elif before == SignupStatus.CANCELLED and after != SignupStatus.CANCELLED:
            counts.append((SIGNUPS, _status(after)))  # a cancellation undone is a sign-up again


def _status(status: Any) -> str:
    return str(getattr(status, "value", status)).lower()


def _after_commit(session: Any) -> None:
    for item in session.info.pop(_PENDING_KEY, []):
        metric = item[0]
        (metric.labels(*item[1:]) if len(item) > 1 else metric).inc()


def _after_rollback(session: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


def watch_sessions(sessions: Any) -> None:
    """Count sign-ups, cancellations, promotions and hand-offs made through these sessions once committed
    (whoever made them: a conversation, a coordinator's page or a scheduled duty)."""
    if not event.contains(sessions, "after_flush", _after_flush):
        event.listen(sessions, "after_flush", _after_flush)
        event.listen(sessions, "after_commit", _after_commit)
        event.listen(sessions, "after_rollback", _after_rollback)


# -- the scrape ------------------------------------------------------------------------------------
class ScrapeCollector(Collector):
    """Series computed when Prometheus asks: RQ queue depth and oldest job age, reviews past their deadline.

    Args:
        redis: a Redis client (decoded or raw) or None; `rq_prefix` is RQ's key prefix (`yinling:rq`).
        queues: RQ queue names.
        overdue_reviews: returns the number of sign-ups waiting for review longer than allowed, or None.
        now: the current time (UTC).
    """

    def __init__(self, redis: Any, rq_prefix: str, queues: Iterable[str], overdue_reviews: Callable[[], int | None],
                 now: Callable[[], datetime]) -> None:
        self.redis = redis
        self.rq_prefix = rq_prefix
        self.queues = list(dict.fromkeys(queues))
        self.overdue_reviews = overdue_reviews
        self.now = now

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("yinling_queue_depth", "Jobs waiting in each RQ queue", labels=["queue"])
        age = GaugeMetricFamily("yinling_queue_oldest_job_seconds", "Age of the oldest waiting job per RQ queue",
                                labels=["queue"])
        up = GaugeMetricFamily("yinling_redis_up", "Whether Redis answered this scrape")
        if self.redis is not None:
            try:
                for name in self.queues:
                    n, oldest = self._queue(name)
                    depth.add_metric([name], n)
                    age.add_metric([name], oldest)
                up.add_metric([], 1)
            except Exception:  # noqa: BLE001 - a scrape reports Redis down instead of failing
                log.warning("queue depth not read: Redis did not answer")
                up.add_metric([], 0)
            yield depth
            yield age
            yield up
        overdue = GaugeMetricFamily("yinling_reviews_overdue",
                                    "Sign-ups waiting for a coordinator's review past the deadline")
        try:
            value = self.overdue_reviews()
        except Exception:  # noqa: BLE001
            log.warning("overdue reviews not counted: the database did not answer")
            value = None
        if value is not None:
            overdue.add_metric([], value)
            yield overdue

    def _queue(self, name: str) -> tuple[int, float]:
        key = f"{self.rq_prefix}:queue:{name}"
        n = int(self.redis.llen(key))
        if not n:
            return 0, 0.0
        first = self.redis.lindex(key, 0)
        if first is None:
            return n, 0.0
        job_id = first.decode() if isinstance(first, bytes) else str(first)
        raw = self.redis.hget(f"{self.rq_prefix}:job:{job_id}", "enqueued_at")
        if not raw:
            return n, 0.0
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return n, 0.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        now = self.now()
        now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        return n, max(0.0, (now - when).total_seconds())


def exposition(extra: Collector | None = None) -> bytes:
    """The text Prometheus scrapes: this process's series (or every process's, in multiprocess mode) + `extra`."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Everything())
    if extra is not None:
        registry.register(extra)
    return generate_latest(registry)


class _Everything(Collector):
    """This process's default registry, inside a per-scrape registry."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def mark_process_dead(pid: int) -> None:
    """gunicorn's `child_exit` hook: forget a dead worker's live gauges (counters stay summed)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
