"""GET /metrics for Prometheus: a bearer token (YINLING_METRICS_TOKEN), or from this host only."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST

from data.timeutil import utcnow

from .. import metrics
from ..push import get_push
from ..push.queue import QUEUES
from ..push.scheduled import overdue_reviews
from ..runtime import Runtime, bind_rq_prefix, rq_key_prefix

bp = Blueprint("metrics", __name__)
LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})


def allowed(rt: Runtime, headers: Any, remote_addr: str | None) -> bool:
    """With a token configured, only `Authorization: Bearer <token>`; without, only a direct local request
    (a request relayed by a proxy on this host carries X-Forwarded-For and is refused)."""
    token = rt.config.app.metrics_token
    if token:
        given = headers.get("Authorization", "")
        return given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode())
    return remote_addr in LOOPBACK and "X-Forwarded-For" not in headers and "X-Real-IP" not in headers


def collector(rt: Runtime) -> metrics.ScrapeCollector:
    """Queue depth per RQ queue and reviews past their deadline, read when Prometheus asks."""
    cfg = rt.config
    queues = [*QUEUES, cfg.wechat.reply_queue, cfg.sms.queue]
    # RQ's keys in this process are under the prefix bound first (one per process; see bind_rq_prefix).
    rq_prefix = bind_rq_prefix(cfg.redis.prefix) if cfg.redis.url else rq_key_prefix(cfg.redis.prefix)
    return metrics.ScrapeCollector(rt.redis, rq_prefix, queues,
                                   lambda: overdue_reviews(get_push(rt), utcnow()), utcnow)


@bp.get("/metrics")
def scrape() -> Response:
    rt: Runtime = current_app.extensions["yinling"]
    if not allowed(rt, request.headers, request.remote_addr):
        abort(403 if not rt.config.app.metrics_token else 401)
    return Response(metrics.exposition(current_app.extensions["metrics"]), content_type=CONTENT_TYPE_LATEST)


def register(app: Any, rt: Runtime) -> None:
    """Mount /metrics."""
    app.extensions["metrics"] = collector(rt)
    app.register_blueprint(bp)
