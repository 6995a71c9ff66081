"""Flask app factory: one place wires config, database, store, NLU and every channel blueprint."""

from __future__ import annotations

import logging
import os
import re
from inspect import iscoroutinefunction
from types import FunctionType
from typing import Any

from flask import Flask, g, jsonify, request
from flask.sessions import SecureCookieSessionInterface

from .config import Config
from .logs import REQUEST_ID
from .runtime import Runtime, build_runtime
from .web import admin, metrics, sms, wechat

log = logging.getLogger("yinling")


def create_app(overrides: dict[str, Any] | None = None, *, config: Config | None = None,
               runtime: Runtime | None = None) -> Flask:
    """Build the web app. `overrides` are dotted config keys (e.g. {"database.url": ...})."""
    # A round trip per message saved: the turn itself replaces a connection the server dropped (bot.pipeline).
    rt = runtime or build_runtime(config=config, overrides=overrides, ping_when_idle=True)
    app = App("bot")
    app.session_interface = SessionCookies()
    app.config["MAX_CONTENT_LENGTH"] = rt.config.app.max_body_bytes
    app.extensions["yinling"] = rt

    @app.before_request
    def _request_id() -> None:
        rid = request_id_from(request.headers.get("X-Request-Id"))
        g.request_id = rid
        g.request_id_token = REQUEST_ID.set(rid)  # log lines of this request carry it

    @app.teardown_request
    def _forget_request_id(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            try:
                REQUEST_ID.reset(token)
            except ValueError:  # set in another context (a copied one): nothing to restore here
                pass

    @app.after_request
    def _headers(response: Any) -> Any:
        return security_headers(response, request.is_secure)

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


class App(Flask):
    """Flask, remembering which of its registered functions are plain `def`s: it asked `inspect` four times
    a request (request hooks, the view, the teardown), for functions that never change."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._plain: set[FunctionType] = set()
        super().__init__(*args, **kwargs)

    def ensure_sync(self, func: Any) -> Any:
        plain_function = type(func) is FunctionType  # registered hooks and views; not a bound method or a partial
        if plain_function and func in self._plain:
            return func
        if iscoroutinefunction(func):
            return self.async_to_sync(func)
        if plain_function:
            self._plain.add(func)
        return func


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def request_id_from(header: str | None) -> str:
    """The proxy's X-Request-Id when it is a plain token (it goes into log lines and message_log),
    else our own: a forged id cannot start a new log line or overflow the column."""
    if header and _REQUEST_ID.match(header):
        return header
    return os.urandom(6).hex()  # 12 random hex digits, like the uuid4().hex[:12] it replaces, without the UUID


SECURITY_HEADERS = (("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY"))
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def security_headers(response: Any, secure: bool) -> Any:
    """No framing, no MIME sniffing, no referrer to other sites, scripts only from us; HSTS over HTTPS.

    A header the view set already is kept (as `setdefault` would); the names present are read once, not
    looked up header by header (a miss in werkzeug's Headers raises and catches an exception)."""
    h = response.headers
    present = {name.lower() for name, _value in h.items()}
    for name, value in (*SECURITY_HEADERS, HSTS) if secure else SECURITY_HEADERS:
        if name.lower() not in present:
            h.add(name, value)
    return response


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions (the coordinators' pages), with the signing serializer made once per key
    instead of once per request: every request opens the session, the webhooks too."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], Any] = {}

    def get_signing_serializer(self, app: Flask) -> Any:
        if not app.secret_key:
            return None
        key = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(key)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            self._serializers = {key: serializer}  # only the current keys: a rotated-out key is dropped
        return serializer

    def open_session(self, app: Flask, request: Any) -> Any:
        if not request.environ.get("HTTP_COOKIE") and self.get_signing_serializer(app) is not None:
            return self.session_class()  # no cookie at all (every webhook call): a new session, as Flask would
        return super().open_session(app, request)


def _channel_registrars() -> list[Any]:
    """One line per webhook or page module, in order; each exposes `register(app, runtime)`."""
    return [wechat.register, sms.register, admin.register, metrics.register]
