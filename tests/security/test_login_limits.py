"""Attacks 2 and 3: parallel wrong guesses past the lock-out, and log-in floods from one or many addresses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

import bot.web.admin.auth as auth
import bot.web.admin.views as views
from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.web.admin.auth import create_coordinator_login
from data.models import Coordinator
from tests.fakes.push_apis import FakeApis
from tests.push.conftest import push_config

from .conftest import token

PASSWORD = "correct-horse-battery"


def _runtime(db_url: str, fake: FakeApis, **overrides: Any) -> Runtime:
    runtime = build_runtime(push_config(db_url, fake.url, **overrides))
    with runtime.sessions.begin() as s:
        create_coordinator_login(s, username="wangxy", password=PASSWORD)
    return runtime


@pytest.fixture
def unlimited(db_url: str, fake: FakeApis) -> Iterator[Flask]:
    """Only the per-name lock-out is on: the address and deployment limits are switched off, and the
    one-check-per-process slot is widened (as with many gunicorn workers, each with its own slot)."""
    runtime = _runtime(db_url, fake, **{"admin.login_per_address_per_minute": 0, "admin.login_checks_per_10s": 0,
                                        "admin.login_checks_at_once": 0})
    yield create_app(runtime=runtime)
    runtime.engine.dispose()


@pytest.fixture
def limited(db_url: str, fake: FakeApis) -> Iterator[Flask]:
    runtime = _runtime(db_url, fake)
    yield create_app(runtime=runtime)
    runtime.engine.dispose()


def _post_login(app: Flask, password: str, address: str = "127.0.0.1", user: str = "wangxy") -> Any:
    c = app.test_client()
    c.environ_base["REMOTE_ADDR"] = address
    page = c.get("/admin/login").text
    return c.post("/admin/login", data={"csrf": token(page), "username": user, "password": password})


def test_parallel_wrong_guesses_get_at_most_the_allowed_password_checks(
        unlimited: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[str] = []
    real = auth.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        checks.append(password)
        return real(pwhash, password)

    monkeypatch.setattr(auth, "check_password_hash", counting)
    start = threading.Barrier(30)
    codes: list[int] = []

    def guess(i: int) -> None:
        start.wait()
        codes.append(_post_login(unlimited, f"wrong-guess-{i:03d}", f"10.0.{i}.1").status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(302) == 0 and codes.count(429) == 0
    assert len(checks) <= 5, f"{len(checks)} password checks for a lock-out after 5"
    r = _post_login(unlimited, PASSWORD, "10.9.9.9")
    assert r.status_code == 401 and "锁定" in r.text
    assert len(checks) <= 5


def test_a_success_inside_the_limit_still_logs_in(unlimited: Flask) -> None:
    for i in range(4):
        assert _post_login(unlimited, f"wrong-{i}").status_code == 401
    assert _post_login(unlimited, PASSWORD).status_code == 302
    assert "还可以再试4次" in _post_login(unlimited, "wrong-again").text  # the counter starts over


def _clock(monkeypatch: pytest.MonkeyPatch, at: float) -> None:
    """The log-in limits read the time through `views.time`; pin it so no window boundary is crossed."""
    monkeypatch.setattr(views, "time", SimpleNamespace(time=lambda: at))


def test_one_address_flooding_is_refused_before_any_password_check(
        limited: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    checks: list[int] = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: checks.append(1) or real(h, p))
    _clock(monkeypatch, 1_000_000.0)
    codes = [_post_login(limited, "x", "203.0.113.5", user=f"nobody{i}").status_code for i in range(14)]
    assert codes[:10] == [401] * 10 and codes[10:] == [429] * 4
    assert len(checks) == 10
    r = _post_login(limited, PASSWORD, "203.0.113.5")
    assert r.status_code == 429 and "请过一分钟再试" in r.text and r.headers["Retry-After"] == "60"
    _clock(monkeypatch, 1_000_010.0)  # next 10-second window: another address logs in
    assert _post_login(limited, PASSWORD, "198.51.100.7").status_code == 302


def test_many_addresses_cannot_buy_more_password_checks_than_the_deployment_allows(
        limited: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood spread over many addresses: at most 10 password checks per 10-second window."""
    checks: list[int] = []
    real = auth.check_password_hash
    monkeypatch.setattr(auth, "check_password_hash", lambda h, p: checks.append(1) or real(h, p))
    _clock(monkeypatch, 1_000_000.0)
    codes = [_post_login(limited, "x", f"198.18.{i}.1", user=f"n{i}").status_code for i in range(25)]
    assert len(checks) == 10 and codes.count(429) == 15


def test_one_password_check_at_a_time_per_process(limited: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """While a check runs in this process, another log-in is refused at once instead of queueing on the CPU."""
    entered, release = threading.Event(), threading.Event()
    real = auth.check_password_hash

    def slow(h: str, p: str) -> bool:
        entered.set()
        release.wait(10)
        return real(h, p)

    monkeypatch.setattr(auth, "check_password_hash", slow)
    first: list[Any] = []
    t = threading.Thread(target=lambda: first.append(_post_login(limited, "wrong-1", "192.0.2.1")))
    t.start()
    assert entered.wait(10)
    r = _post_login(limited, PASSWORD, "192.0.2.2")
    release.set()
    t.join()
    assert r.status_code == 429 and "请过几秒钟再试" in r.text
    assert first[0].status_code == 401
    assert _post_login(limited, PASSWORD, "192.0.2.2").status_code == 302


def test_forwarded_for_is_only_trusted_from_our_own_proxy(db_url: str, fake: FakeApis) -> None:
    runtime = _runtime(db_url, fake, **{"admin.trusted_proxies": 1})
    app = create_app(runtime=runtime)
    try:
        # The client forges a first hop; nginx appends the real one. Only the real one counts.
        with app.test_request_context("/", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}):
            assert auth.client_address(1) == "203.0.113.9"
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": "10.1.1.1"}):
            assert auth.client_address(0) == "10.1.1.1"
        with runtime.sessions() as s:
            assert s.scalars(select(Coordinator).where(Coordinator.username == "wangxy")).first() is not None
    finally:
        runtime.engine.dispose()
