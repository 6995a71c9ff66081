"""Flask app factory: one place wires config, database, store, NLU and every channel blueprint."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, g, jsonify, request

from .config import Config
from .runtime import Runtime, build_runtime
from .web import admin, sms, wechat

log = logging.getLogger("yinling")


def create_app(overrides: dict[str, Any] | None = None, *, config: Config | None = None,
               runtime: Runtime | None = None) -> Flask:
    """Build the web app. `overrides` are dotted config keys (e.g. {"database.url": ...})."""
    rt = runtime or build_runtime(config=config, overrides=overrides)
    app = Flask("bot")
    app.config["MAX_CONTENT_LENGTH"] = rt.config.app.max_body_bytes
    app.extensions["yinling"] = rt

    @app.before_request
    def _request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:12]

    @app.get("/healthz")
    def healthz() -> Any:
        status = rt.health()
        ok = status["database"] == "ok" and (rt.redis is None or status["redis"] == "ok")
        return jsonify(status=("ok" if ok else "degraded"), **status), (200 if ok else 503)

    @app.errorhandler(413)
    def too_large(_e: Any) -> Any:
        return "body too large", 413

    @app.errorhandler(500)
    def internal(e: Any) -> Any:
        log.exception("unhandled error request_id=%s", getattr(g, "request_id", "-"))
        return "internal error", 500

    for register in _channel_registrars():
        register(app, rt)
    return app


def _channel_registrars() -> list[Any]:
    """One line per webhook or page module, in order; each exposes `register(app, runtime)`."""
    return [wechat.register, sms.register, admin.register]
