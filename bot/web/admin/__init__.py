"""Coordinator pages under /admin: activities, review, roster and check-in, hours, notices, export, and the
people waiting to be contacted after a hand-off."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, g, session
from redis.exceptions import RedisError

from .auth import check_csrf, csrf_token

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def register(app: Flask, rt: Any) -> None:
    """Mount the admin blueprint; the session key derives from the deployment's secret key."""
    from ...push import get_push
    from . import export_views, stats_views, views  # noqa: F401 - attach the routes to `bp`

    if not app.secret_key:
        app.secret_key = hashlib.sha256(b"yinling-admin-session:" + rt.config.secret_key.encode()).hexdigest()
    cfg = rt.config.admin
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=cookie_secure(rt.config), SESSION_COOKIE_NAME="yinling_admin",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=cfg.session_hours))
    app.extensions["yinling.push"] = get_push(rt)
    if "admin" not in app.blueprints:
        app.register_blueprint(bp)


def cookie_secure(config: Any) -> bool:
    """Secure session cookie: as configured, else on in production (served behind HTTPS)."""
    set_to = config.admin.cookie_secure
    return bool(set_to) if set_to is not None else config.app.env == "production"


@bp.before_request
def _refuse_control_characters() -> Any:
    """CR, LF and NUL in the query string are never data here (forms may carry line breaks): 400, before
    any of them can reach a header (a file name, a redirect)."""
    from flask import abort, request

    for key, value in request.args.items(multi=True):
        if any(ch in key + value for ch in "\r\n\x00"):
            abort(400, description="请求里有不能识别的字符。")
    return None


@bp.errorhandler(RedisError)
def _store_down(exc: Exception) -> Any:
    """Redis unreachable: 503 with Retry-After (nothing half-done: sessions and limits live there)."""
    import logging

    from flask import render_template

    logging.getLogger("yinling.admin").error("admin: store unavailable (%s) request_id=%s", type(exc).__name__,
                                             g.get("request_id", "-"))
    return render_template("admin/login.html", error="系统暂时忙，请过一两分钟再试。"), 503, {"Retry-After": "60"}


@bp.before_request
def _load() -> None:
    from flask import current_app

    from data.models import Coordinator

    from .. import runtime_of
    from .auth import leader_team_ids, session_valid, team_ids_of

    check_csrf()
    g.rt = runtime_of(current_app)
    g.push = current_app.extensions["yinling.push"]
    g.db = g.rt.sessions()
    g.coordinator = None
    cid = session.get("cid")
    if cid is not None:
        coord = g.db.get(Coordinator, int(cid))
        if coord is not None and coord.password_hash and session_valid(g.rt.store, coord):
            g.coordinator = coord
            g.team_ids = team_ids_of(g.db, coord)
            g.leader_team_ids = leader_team_ids(g.db, coord)


@bp.teardown_request
def _close(_exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


@bp.app_template_global()
def csrf() -> str:
    return csrf_token()


@bp.app_template_filter("when")
def _when(value: datetime | None) -> str:
    from data.timeutil import format_when

    return format_when(value) if value else ""


@bp.app_template_filter("local")
def _local(value: datetime | None) -> str:
    from data.timeutil import to_local

    return to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""
