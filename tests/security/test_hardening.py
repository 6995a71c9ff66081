"""The "should fix" items of issue 13, each against the real app (Flask test client)."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.app import create_app
from bot.runtime import Runtime, build_runtime
from bot.web import runtime_of
from bot.web.admin.auth import create_coordinator_login
from data.exports import write_csv
from data.models import MessageLog
from tests.drivers.wechat import build_xml
from tests.fakes.push_apis import FakeApis
from tests.push.conftest import push_config

from .conftest import Admin, AppMaker, token, wechat

PASSWORD = "correct-horse-battery"


# -- Redis down: 503, nothing lost -----------------------------------------------------------------------
@pytest.fixture
def no_redis(db_url: str, fake: FakeApis) -> Iterator[Flask]:
    """The whole app configured for Redis on a port where nothing listens."""
    runtime = build_runtime(push_config(db_url, fake.url, redis_url="redis://127.0.0.1:1/0",
                                        **{"sms.android.signing_key": "sign-key-1"}))
    with runtime.sessions.begin() as s:
        create_coordinator_login(s, username="wangxy", password=PASSWORD)
    yield create_app(runtime=runtime)
    runtime.engine.dispose()


def test_admin_login_with_redis_down_is_503(no_redis: Flask) -> None:
    c = no_redis.test_client()
    page = c.get("/admin/login")
    assert page.status_code == 200
    r = c.post("/admin/login", data={"csrf": token(page.text), "username": "wangxy", "password": PASSWORD})
    assert r.status_code == 503 and r.headers["Retry-After"] == "60" and "请过一两分钟再试" in r.text


def test_sms_callback_with_redis_down_is_503_so_the_provider_retries(no_redis: Flask) -> None:
    body = json.dumps({"event": "sms:received", "id": "evt-1", "payload": {
        "messageId": "m1", "message": "找活动", "phoneNumber": "+8613912344321"}}).encode()
    ts = str(int(time.time()))
    sig = hmac.new(b"sign-key-1", body + ts.encode(), hashlib.sha256).hexdigest()
    r = no_redis.test_client().post("/sms/android", data=body, content_type="application/json",
                                    headers={"X-Signature": sig, "X-Timestamp": ts})
    assert r.status_code == 503
    with runtime_of(no_redis).sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageLog)) == 0  # nothing half-done


# -- sessions end on log-out and password change ------------------------------------------------------
def test_a_copied_session_cookie_dies_with_logout(admin: Admin) -> None:
    stolen = admin.c.get_cookie("yinling_admin")
    assert stolen is not None
    assert admin.post("/admin/logout").status_code == 302
    admin.c.set_cookie("yinling_admin", stolen.value)  # replay the cookie taken before the log-out
    r = admin.get("/admin/")
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]


def test_a_password_change_ends_every_session(admin: Admin, rt: Runtime) -> None:
    assert admin.get("/admin/").status_code == 200
    with rt.sessions.begin() as s:
        create_coordinator_login(s, username="wangxy", password="a-brand-new-password")
    assert admin.get("/admin/").status_code == 302


# -- headers ----------------------------------------------------------------------------------------------
def test_security_headers(app: Flask) -> None:
    r = app.test_client().get("/admin/login")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in r.headers  # plain HTTP: no HSTS
    tls = app.test_client().get("/admin/login", base_url="https://admin.example")
    assert tls.headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_is_secure_in_production(db_url: str, fake: FakeApis) -> None:
    runtime = build_runtime(push_config(db_url, fake.url, **{"app.env": "production"}))
    try:
        assert create_app(runtime=runtime).config["SESSION_COOKIE_SECURE"] is True
    finally:
        runtime.engine.dispose()


def test_session_cookie_is_plain_in_development(app: Flask) -> None:
    assert app.config["SESSION_COOKIE_SECURE"] is False


# -- CSV export and header injection ---------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["\t=HYPERLINK(\"http://x\")", "\r=1+1", "=1+1", "+1", "-1", "@SUM(A1)"])
def test_export_defuses_formula_cells(cell: str) -> None:
    rows = list(csv.reader(io.StringIO(write_csv(("a", "b"), [[cell, "x"]]).decode("utf-8-sig"))))
    assert rows[1] == ["'" + cell, "x"]


@pytest.mark.parametrize("path", ["/admin/export.csv?start=2025-01-01%0d%0aSet-Cookie:%20x=1",
                                  "/admin/export.csv?end=2025-01-31%0a",
                                  "/admin/login?next=/admin/%0d%0aLocation:%20http://evil"])
def test_crlf_in_the_query_is_400(admin: Admin, path: str) -> None:
    r = admin.get(path)
    assert r.status_code == 400
    assert "Set-Cookie" not in str(r.headers.get("Content-Disposition", ""))


def test_export_file_name_comes_from_the_parsed_dates(admin: Admin) -> None:
    r = admin.get("/admin/export.csv?start=2025-01-01&end=2025-01-31")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="service-records-2025-01-01-2025-01-31.csv"'


# -- coordinates and request ids -------------------------------------------------------------------------
@pytest.mark.parametrize("lat,lon", [("nan", "111.6"), ("inf", "111.6"), ("40.8", "-inf"), ("91", "111"),
                                     ("1e309", "2")])
def test_a_location_that_is_not_on_earth_is_answered_kindly(make_app: AppMaker, lat: str, lon: str) -> None:
    app = make_app()
    d = wechat(app)
    d.event("subscribe")
    d.text("1")
    fields = d._fields("location", Location_X=lat, Location_Y=lon, Scale=15, Label="", MsgId=777000 + len(lat))
    reply = d.post(*d.sign(build_xml(fields)))
    assert reply.status == 200 and reply.fields is not None
    assert "出了点小问题" not in reply.text  # not the failed-turn apology


def test_forged_request_ids_never_reach_the_log(make_app: AppMaker, caplog: pytest.LogCaptureFixture) -> None:
    app = make_app()
    caplog.set_level(logging.INFO)
    forged = "abc\nINFO yinling.admin coordinator wangxy granted operator"
    # Sent below the test client, which (like a browser) would refuse a header with a line break.
    r = app.test_client().get("/wechat?echostr=1", environ_overrides={"HTTP_X_REQUEST_ID": forged})
    assert r.status_code == 403
    assert all("granted operator" not in rec.getMessage() for rec in caplog.records)
    long_id = "x" * 200
    app.test_client().get("/wechat?echostr=1", headers={"X-Request-Id": long_id})
    assert all(long_id not in rec.getMessage() for rec in caplog.records)
    app.test_client().get("/wechat?echostr=1", headers={"X-Request-Id": "nginx-7f3a.91"})
    assert any("request_id=nginx-7f3a.91" in rec.getMessage() for rec in caplog.records)
