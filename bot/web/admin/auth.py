"""Coordinator log-in: hashed passwords, signed sessions, CSRF tokens, lock-out after repeated failures."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from data.models import Coordinator, Team, TeamCoordinator

# Checked when the user name is unknown, so both paths cost the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password-0")
MIN_PASSWORD = 10


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def check_csrf() -> None:
    """Every POST carries the session's token (form field `csrf` or header X-CSRF-Token)."""
    if request.method != "POST":
        return
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="页面已过期，请刷新后再试。")


class LoginResult:
    def __init__(self, coordinator: Coordinator | None, error: str | None) -> None:
        self.coordinator, self.error = coordinator, error


def attempt_login(db: Session, store: Any, username: str, password: str, failures: int,
                  lock_minutes: int) -> LoginResult:
    """Check a password; after `failures` wrong tries in `lock_minutes` the account waits that long.

    The attempt is counted atomically *before* the slow password check, so a burst of parallel guesses
    gets at most `failures` checks; a success clears the counter.
    """
    name = username.strip().lower()
    key = f"admin:fail:{name}"
    locked = f"密码错误次数太多，账号已暂时锁定，请{lock_minutes}分钟后再试。"
    n = store.incr(key, lock_minutes * 60)
    if n > failures:
        return LoginResult(None, locked)
    coord = db.scalars(select(Coordinator).where(Coordinator.username == name)).first() if name else None
    ok = check_password_hash(coord.password_hash if coord and coord.password_hash else _DUMMY_HASH, password)
    if not ok or coord is None or not coord.password_hash:
        left = failures - n
        if left <= 0:
            return LoginResult(None, locked)
        return LoginResult(None, f"用户名或密码不对，还可以再试{left}次。")
    store.delete(key)
    return LoginResult(coord, None)


BUSY_LOGIN = "现在登录的人太多，请过一分钟再试。"
BUSY_NOW = "现在登录的人太多，请过几秒钟再试。"


def client_address(trusted_proxies: int) -> str:
    """The client's address: the socket's, or the one our own proxies put in X-Forwarded-For."""
    if trusted_proxies > 0:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if len(hops) >= trusted_proxies:
            return hops[-trusted_proxies][:64]
    return str(request.remote_addr or "-")[:64]


def login_gate(store: Any, address: str, per_address_per_minute: int, checks_per_10s: int,
               now: float) -> str | None:
    """Refuse a log-in before any password work when this address, or the whole deployment, is flooding.

    Per address: a fixed one-minute window. Deployment-wide: at most `checks_per_10s` password checks per
    ten seconds across all workers, so a flood from many addresses cannot take the webhook's CPU.
    (Per name, `attempt_login` counts every attempt before its check.)
    """
    if per_address_per_minute and store.incr(f"admin:login:addr:{address}", 60) > per_address_per_minute:
        return BUSY_LOGIN
    if checks_per_10s and store.incr(f"admin:login:all:{int(now) // 10}", 20) > checks_per_10s:
        return BUSY_LOGIN
    return None


# Password checks running at once in this process (admin.login_checks_at_once): a flood queues nothing
# and bursts cannot take every core from the webhook.
_CHECKING = threading.BoundedSemaphore(1)
_CHECKING_SIZE = [1]
_CHECKING_LOCK = threading.Lock()


@contextmanager
def password_slot(at_once: int = 1) -> Iterator[bool]:
    """Yields True when this process may check a password now, False when `at_once` checks are running."""
    global _CHECKING
    if at_once <= 0:
        yield True
        return
    with _CHECKING_LOCK:
        if _CHECKING_SIZE[0] != at_once:
            _CHECKING, _CHECKING_SIZE[0] = threading.BoundedSemaphore(at_once), at_once
        slots = _CHECKING
    got = slots.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            slots.release()


def _password_mark(coord: Coordinator) -> str:
    """Changes whenever the password does: a session started before a password change is over."""
    return hashlib.sha256(("yinling-session:" + (coord.password_hash or "")).encode()).hexdigest()[:16]


def start_session(coord: Coordinator, hours: int, store: Any | None = None) -> None:
    """A signed cookie naming a server-side session (`admin:session:<sid>` in the store), so that logging
    out and changing the password end it at once instead of when the cookie expires."""
    session.clear()
    session.permanent = True
    sid = secrets.token_urlsafe(24)
    session["cid"] = coord.id
    session["sid"] = sid
    session["csrf"] = secrets.token_urlsafe(32)
    session["ttl"] = int(timedelta(hours=hours).total_seconds())
    if store is not None:
        store.set(f"admin:session:{sid}", f"{coord.id}:{_password_mark(coord)}", session["ttl"])


def session_valid(store: Any, coord: Coordinator) -> bool:
    """The cookie's server-side session is still open, for this coordinator and their current password."""
    sid = session.get("sid")
    if not sid:
        return False
    return bool(store.get(f"admin:session:{sid}") == f"{coord.id}:{_password_mark(coord)}")


def end_session(store: Any) -> None:
    sid = session.get("sid")
    if sid:
        store.delete(f"admin:session:{sid}")
    session.clear()


def team_ids_of(db: Session, coord: Coordinator) -> list[int]:
    """Every team for the operator; otherwise the coordinator's own teams."""
    if coord.is_operator:
        return list(db.scalars(select(Team.id)))
    return list(db.scalars(select(TeamCoordinator.team_id).where(TeamCoordinator.coordinator_id == coord.id)))


def leader_team_ids(db: Session, coord: Coordinator) -> list[int]:
    """Teams whose figures and robot the coordinator may see and set: all for the operator, else led ones."""
    if coord.is_operator:
        return list(db.scalars(select(Team.id)))
    return list(db.scalars(select(TeamCoordinator.team_id).where(TeamCoordinator.coordinator_id == coord.id,
                                                                 TeamCoordinator.is_leader.is_(True))))


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("coordinator") is None:
            return redirect(url_for("admin.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def create_coordinator_login(db: Session, *, username: str, password: str, name: str | None = None,
                             phone: str | None = None, team_names: list[str] | None = None, leader: bool = False,
                             operator: bool = False) -> Coordinator:
    """Create a coordinator (or set the password of an existing one by user name) and link teams."""
    username = username.strip().lower()
    if not username.isascii() or not username.replace("_", "").replace(".", "").isalnum():
        raise ValueError("用户名只能用字母、数字、下划线和点")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"密码至少{MIN_PASSWORD}位")
    coord = db.scalars(select(Coordinator).where(Coordinator.username == username)).first()
    if coord is None:
        if not name:
            raise ValueError("新协调员请用 --name 写上姓名")
        coord = Coordinator(name=name, contact_phone=phone or "", username=username)
        db.add(coord)
    coord.password_hash = generate_password_hash(password)
    if name:
        coord.name = name
    if phone:
        coord.contact_phone = phone
    coord.is_operator = coord.is_operator or operator
    db.flush()
    for team_name in team_names or []:
        team = db.scalars(select(Team).where(Team.name == team_name)).first()
        if team is None:
            raise ValueError(f"没有叫“{team_name}”的队伍")
        link = db.get(TeamCoordinator, (team.id, coord.id))
        if link is None:
            db.add(TeamCoordinator(team_id=team.id, coordinator_id=coord.id, is_leader=leader))
        elif leader:
            link.is_leader = True
    db.flush()
    return coord
