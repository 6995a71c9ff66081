"""With `nlu.backend: rasa` and the Rasa server down (or answering nonsense), the built-in parser reads the
messages: logged, counted, and the conversation goes on instead of 没听明白 for every message."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from pytest_httpserver import HTTPServer
from sqlalchemy import select

from bot import metrics
from bot.app import create_app
from bot.web import runtime_of
from data.models import ChannelIdentity, Signup, SignupStatus
from tests.conftest import TEST_SECRET
from tests.drivers.wechat import APP_ID, TOKEN, WechatDriver, flask_transport
from tests.loopback import free_port

from .conftest import demo_database


@pytest.fixture(scope="module")
def rasa_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    url = demo_database("sqlite", request, tmp_path_factory)
    app = create_app({"database.url": url, "redis.url": None, "secret_key": TEST_SECRET, "wechat.token": TOKEN,
                      "wechat.app_id": APP_ID, "wechat.reply_budget_seconds": 30.0,
                      "nlu.backend": "rasa", "nlu.rasa_url": f"http://127.0.0.1:{free_port()}",
                      "nlu.rasa_timeout": 1.0})
    runtime_of(app).load_nlu()
    yield app
    app.extensions["wechat"].pool.shutdown(wait=True)
    runtime_of(app).engine.dispose()


def fallbacks(reason: str) -> float:
    return float(metrics.NLU_FALLBACKS.labels(reason)._value.get())


def test_dead_rasa_server_the_builtin_parser_answers(rasa_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    parser = runtime_of(rasa_app).nlu
    parser._paused_until = 0.0
    before = fallbacks("unreachable")
    wx = WechatDriver(flask_transport(rasa_app.test_client()), openid="o-ops-rasa-dead")
    with caplog.at_level(logging.WARNING, logger="nlu.rasa_client"):
        replies = [wx.text(m).text for m in ["你好", "行", "明天有啥活", "2", "1", "1"]]
    assert not any("没听明白" in r or "没明白" in r for r in replies), replies
    with runtime_of(rasa_app).sessions() as s:  # the outcome, in the database
        booked = s.scalars(select(Signup).join(ChannelIdentity, ChannelIdentity.volunteer_id == Signup.volunteer_id)
                           .where(ChannelIdentity.external_id == "o-ops-rasa-dead")).all()
    assert [b.status for b in booked] == [SignupStatus.CONFIRMED]
    assert fallbacks("unreachable") - before >= 5  # every message with text (an event has none)
    warned = [r for r in caplog.records if r.name == "nlu.rasa_client"]
    assert len(warned) == 1, "one warning, then the server is left alone for a while (no timeout per message)"
    assert "built-in parser answers" in warned[0].getMessage()


def test_rasa_answering_nonsense(rasa_app: Flask, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/model/parse", method="POST").respond_with_data("<html>502</html>", status=200)
    parser = runtime_of(rasa_app).nlu
    url, paused = parser.url, parser._paused_until
    parser.url, parser._paused_until = httpserver.url_for("/model/parse"), 0.0
    before = fallbacks("bad_answer")
    try:
        wx = WechatDriver(flask_transport(rasa_app.test_client()), openid="o-ops-rasa-bad")
        replies = [wx.text(m).text for m in ["你好", "行", "明天有啥活"]]
    finally:
        parser.url, parser._paused_until = url, paused
    assert "的活动有" in replies[-1] and "没听明白" not in replies[-1], replies[-1]
    assert fallbacks("bad_answer") - before == 3  # one per message: a bad answer does not pause the server
