"""The /wechat webhook end to end, spoken to exactly as WeChat does, on SQLite/PostgreSQL and memory/Redis."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.web import runtime_of
from bot.web.wechat import WechatChannel
from data.models import ChannelIdentity, MessageLog, Signup, Volunteer
from dialogs import Text
from tests.drivers.wechat import ACCOUNT, APP_ID, WechatDriver, build_xml, flask_transport
from tests.drivers.wechat_app import channel, wechat_service
from tests.fakes.wechat_api import APP_SECRET, FakeWechatAPI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wechat"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeWechatAPI]:
    server = FakeWechatAPI(APP_ID, APP_SECRET).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite-memory", "sqlite-redis", "postgres-redis"])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
        fake: FakeWechatAPI) -> Iterator[Flask]:
    """The whole service on a fresh, migrated, demo-seeded database, talking to the fake WeChat API."""
    with wechat_service(request, tmp_path_factory, fake.url) as flask_app:
        yield flask_app


@pytest.fixture
def rt(app: Flask, fake: FakeWechatAPI) -> Runtime:
    fake.reset()
    return runtime_of(app)


def driver(app: Flask, mode: str = "plain") -> WechatDriver:
    return WechatDriver(flask_transport(app.test_client()), mode=mode)


def rows(rt: Runtime, openid: str | None = None) -> int:
    """MessageLog rows (for one user, or all) — what the dialogs wrote."""
    with rt.sessions() as s:
        stmt = select(func.count()).select_from(MessageLog)
        if openid is not None:
            stmt = stmt.where(MessageLog.channel == "wechat", MessageLog.address == openid)
        return int(s.scalar(stmt) or 0)


def identities(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(ChannelIdentity)) or 0)


def next_msg_id() -> int:
    return int(uuid.uuid4().int % 10**15)


def numbered(text: str) -> bool:
    return "1." in text or "1、" in text or "1）" in text


# -- the front door -----------------------------------------------------------------------------
def test_url_check(app: Flask, rt: Runtime) -> None:
    d = driver(app)
    assert d.verify("5837397476071829046") == (200, b"5837397476071829046")
    assert d.verify("5837397476071829046", good=False)[0] == 403
    assert app.test_client().get("/wechat?echostr=1").status_code == 403


@pytest.mark.parametrize("mode", ["plain", "safe"])
def test_wrong_signature_is_403_and_writes_nothing(app: Flask, rt: Runtime, mode: str) -> None:
    d = driver(app, mode)
    before = (rows(rt), identities(rt))
    query, body = d.sign(build_xml(d._fields("text", Content="找活动", MsgId=1)))
    assert d.post({**query, "signature": "0" * 40}, body).status == 403
    assert d.post({k: v for k, v in query.items() if k != "signature"}, body).status == 403
    if mode == "safe":  # right URL signature, wrong msg_signature over the ciphertext
        assert d.post({**query, "msg_signature": "0" * 40}, body).status == 403
    assert (rows(rt), identities(rt)) == before


@pytest.mark.parametrize("offset", [-3600, 3600, 10**6])
def test_replayed_request_is_refused(app: Flask, rt: Runtime, offset: int) -> None:
    """Signed an hour ago (captured and replayed) or an hour ahead (signed in advance, or a wrong clock)."""
    d = driver(app, "safe")
    before = (rows(rt), identities(rt))
    stamp = str(int(time.time()) + offset)
    assert d.post(*d.sign(build_xml(d._fields("text", Content="1", MsgId=3)), timestamp=stamp)).status == 403
    assert (rows(rt), identities(rt)) == before
    # The same message signed now goes through: what was refused was the time, not the message.
    assert d.post(*d.sign(build_xml(d._fields("text", Content="1", MsgId=3)))).status == 200


def test_huge_body_is_413(app: Flask, rt: Runtime) -> None:
    d = driver(app)
    xml = build_xml(d._fields("text", Content="很长" * 40_000, MsgId=2))
    query, body = d.sign(xml)
    before = rows(rt)
    assert d.post(query, body).status == 413
    assert rows(rt) == before


@pytest.mark.parametrize("name", ["billion_laughs.xml", "malformed.xml"])
def test_hostile_or_broken_xml_is_acknowledged_and_writes_nothing(app: Flask, rt: Runtime, name: str) -> None:
    d = driver(app)
    query, body = d.sign((FIXTURES / name).read_text(encoding="utf-8"))
    before = (rows(rt), identities(rt))
    started = time.monotonic()
    reply = d.post(query, body)
    assert reply.status == 200 and reply.body == b"success"
    assert time.monotonic() - started < 15  # entities are refused, never expanded (which would not end)
    assert (rows(rt), identities(rt)) == before


# -- whole conversations --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
def test_conversation_subscribe_onboarding_search_sign_up(app: Flask, rt: Runtime, mode: str) -> None:
    d = driver(app, mode)
    welcome = d.event("subscribe")
    assert "同意" in welcome.text and numbered(welcome.text)
    for message in ("1", "阳光社区", "跳过", "跳过"):  # consent, then three skippable questions
        assert d.text(message).text.strip(), message
    listing = d.text("找活动")
    assert numbered(listing.text) and "月" in listing.text and "日" in listing.text  # dates as people say them
    detail = d.text("1")
    assert "时间" in detail.text and "地点" in detail.text
    confirm = d.text("1")
    assert "确认" in confirm.text
    done = d.text("1")
    with rt.sessions() as s:
        ident = s.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == d.openid)).one()
        signups = s.scalars(select(Signup).where(Signup.volunteer_id == ident.volunteer_id)).all()
    assert len(signups) == 1
    # The acknowledgement says what happened to this sign-up, repeats the activity, and what to send next.
    said = {"confirmed": "报好了", "pending": "已提交", "waitlisted": "已排队"}[signups[0].status.value]
    assert said in done.text, done.text
    with rt.sessions() as s:
        title = s.get(Signup, signups[0].id).activity.title
    assert title in done.text and "回复0回主菜单" in done.text, done.text
    assert rows(rt, d.openid) == 2 * 9  # every turn logged once in, once out


def test_every_message_type_is_answered(app: Flask, rt: Runtime) -> None:
    d = driver(app)
    d.event("subscribe")
    for name in ("text.xml", "voice.xml", "voice_no_recognition.xml", "location.xml", "image.xml", "video.xml",
                 "link.xml", "event_click.xml", "event_scan.xml", "event_subscribe_qrscene.xml"):
        xml = (FIXTURES / name).read_text(encoding="utf-8").replace("oUSER", d.openid)
        reply = d.post(*d.sign(xml))
        assert reply.status == 200, name
        assert reply.fields is not None and reply.text.strip(), name
    for name in ("event_templatesendjobfinish.xml", "event_view.xml", "event_location.xml"):
        xml = (FIXTURES / name).read_text(encoding="utf-8").replace("oUSER", d.openid)
        assert d.post(*d.sign(xml)).empty


def test_menu_click_searches(app: Flask, rt: Runtime) -> None:
    d = driver(app)
    d.event("subscribe")
    d.text("1")
    listing = d.event("CLICK", "MENU_FIND")
    assert "活动" in listing.text and "月" in listing.text and numbered(listing.text)


def test_voice_without_recognition_and_no_recognizer_is_answered_kindly(app: Flask, rt: Runtime,
                                                                        fake: FakeWechatAPI) -> None:
    """No recognizer configured (asr.url unset): nothing is downloaded, the person gets the menu; WeChat's own
    transcript, when it comes, is used as typed text (tests/voice covers our own recognition)."""
    d = driver(app)
    assert channel(app).recognizer is None
    reply = d.voice("", media_id="media-abc")
    assert numbered(reply.text) and "语音" in reply.text  # not understood: kindly, with the menu
    assert "media/get" not in fake.requests
    d.voice("明天有什么活动", media_id="media-def")
    with rt.sessions() as s:
        texts = list(s.scalars(select(MessageLog.text).where(MessageLog.address == d.openid,
                                                            MessageLog.direction == "in")
                              .order_by(MessageLog.id)))
    assert texts[-1] == "明天有什么活动"


def test_unsubscribe_stops_sending(app: Flask, rt: Runtime) -> None:
    d = driver(app)
    d.event("subscribe")
    api = channel(app).api
    assert api.unreachable_reason(d.openid) is None
    assert d.event("unsubscribe").empty
    assert api.unreachable_reason(d.openid) == "unsubscribed"
    assert api.send_text(d.openid, "还在吗").reason == "unsubscribed"
    d.event("subscribe")  # they come back
    assert api.unreachable_reason(d.openid) is None


# -- WeChat's retries and the 5-second window --------------------------------------------------------
def test_duplicate_delivery_runs_the_dialog_once(app: Flask, rt: Runtime) -> None:
    d = driver(app, "safe")
    d.event("subscribe")
    fields = d._fields("text", Content="找活动", MsgId=987654321)
    first, second, third = (d.send(fields) for _ in range(3))  # WeChat retries up to three times
    assert first.text == second.text == third.text
    event = d._fields("event", Event="CLICK", EventKey="MENU_FIND")
    assert d.send(event).text == d.send(event).text
    assert rows(rt, d.openid) == 2 * 3


def test_slow_turn_answers_empty_then_arrives_as_customer_message(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.pipeline

    real, release = bot.pipeline.respond, threading.Event()

    def slow(turn: Any) -> Any:  # held until WeChat has had its answer (or 10 s, far past the budget)
        release.wait(10)
        return real(turn)

    ch = channel(app)
    d = driver(app, "safe")
    d.event("subscribe")
    monkeypatch.setattr(ch.cfg, "reply_budget_seconds", 0.3)
    monkeypatch.setattr(bot.pipeline, "respond", slow)
    fields = d._fields("text", Content="找活动", MsgId=555000111)
    first = d.send(fields)  # a webhook that waited for the turn would answer with its reply, 10 s later
    assert first.empty and not fake.custom
    release.set()
    retry = d.send(fields)  # WeChat's retry must not produce a second reply
    assert retry.empty
    sent = _deliver(rt, ch, fake, 1)
    assert len(sent) == 1 and sent[0]["touser"] == d.openid
    assert sent[0]["text"]["content"].strip()
    assert rows(rt, d.openid) == 2 * 2  # subscribe + the slow turn, once
    time.sleep(0.3)
    assert len(fake.custom) == 1


def test_late_reply_still_sent_when_the_queue_is_down(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.pipeline

    ch = channel(app)
    if rt.redis is None:
        pytest.skip("only with Redis: without it late replies always go from a thread")
    real = bot.pipeline.respond
    d = driver(app)
    d.event("subscribe")

    def queue_down() -> Any:
        raise ConnectionError("redis is restarting")

    monkeypatch.setattr(ch.cfg, "reply_budget_seconds", 0.2)
    monkeypatch.setattr(bot.pipeline, "respond", lambda turn: time.sleep(0.5) or real(turn))
    monkeypatch.setattr(ch, "_rq_queue", queue_down)
    assert d.text("找活动").empty
    assert fake.wait_for_custom(1)[0]["touser"] == d.openid


def test_a_users_messages_run_in_order_even_when_one_is_slow(app: Flask, rt: Runtime, fake: FakeWechatAPI,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.pipeline

    real = bot.pipeline.respond

    def slow_first(turn: Any) -> Any:
        if turn.text == "找活动":
            time.sleep(0.6)
        return real(turn)

    ch = channel(app)
    d = driver(app)
    d.event("subscribe")
    monkeypatch.setattr(ch.cfg, "reply_budget_seconds", 0.5)
    monkeypatch.setattr(bot.pipeline, "respond", slow_first)
    assert d.text("找活动").empty  # slow: its reply follows as a customer-service message
    second = d.text("1")  # typed meanwhile: waits for the first turn, then picks from its list
    late = 1 if second.fields is not None else 2
    sent = [m["text"]["content"] for m in _deliver(rt, ch, fake, late)]
    assert numbered(sent[0])  # the list came first ...
    assert "时间" in (second.text if late == 1 else sent[1])  # ... then the details of its first activity
    with rt.sessions() as s:
        incoming = list(s.scalars(select(MessageLog.text).where(
            MessageLog.address == d.openid, MessageLog.direction == "in").order_by(MessageLog.id)))
    assert incoming[-2:] == ["找活动", "1"]


def _deliver(rt: Runtime, ch: WechatChannel, fake: FakeWechatAPI, count: int) -> list[dict[str, Any]]:
    """Wait for `count` late replies at the fake API; with Redis, run a real RQ worker (burst) to send them."""
    if rt.redis is None:
        return fake.wait_for_custom(count)
    from rq import SimpleWorker

    queue = ch._rq_queue()
    deadline = time.monotonic() + 10
    ran = 0
    while len(fake.custom) < count and time.monotonic() < deadline:
        if queue.count:
            SimpleWorker([queue], connection=queue.connection).work(burst=True)
            ran += 1
        else:
            time.sleep(0.05)
    assert ran, "with Redis the late reply must go through the RQ queue"
    return list(fake.custom)


# -- failures are polite -----------------------------------------------------------------------------
def test_a_failing_dialog_answers_politely(app: Flask, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.pipeline

    def broken(turn: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(bot.pipeline, "respond", broken)
    reply = driver(app, "safe").text("找活动")
    assert reply.status == 200 and "对不起" in reply.text


def test_wechats_retry_runs_a_turn_that_failed(app: Flask, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn that failed committed nothing and answered with an apology; WeChat's retry of the same MsgId
    (or the same event) must run the turn again, not be served the cached apology as a duplicate."""
    import bot.pipeline

    real = bot.pipeline.respond
    failures = {"left": 0}

    def fails_once(turn: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database went away")
        return real(turn)

    monkeypatch.setattr(bot.pipeline, "respond", fails_once)
    d = driver(app, "safe")
    d.event("subscribe")
    d.text("1")  # consent
    before = rows(rt, d.openid)
    for fields in (d._fields("text", Content="找活动", MsgId=next_msg_id()),
                   d._fields("event", Event="CLICK", EventKey="MENU_FIND")):
        failures["left"] = 1
        first = d.send(fields)
        assert "对不起" in first.text
        retry = d.send(fields)
        assert "对不起" not in retry.text and numbered(retry.text) and "月" in retry.text, retry.text
        assert d.send(fields).text == retry.text  # a third delivery is the duplicate of the turn that ran
    assert rows(rt, d.openid) == before + 2 * 2  # the failed turns left nothing; each retry logged once


def test_a_failing_channel_answers_politely_with_a_request_id(app: Flask, rt: Runtime,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    def broken(*a: Any, **kw: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(channel(app), "run", broken)
    with caplog.at_level(logging.ERROR, logger="yinling.wechat"):
        reply = driver(app).text("找活动")
    assert reply.status == 200 and "对不起" in reply.text
    assert any("request_id=" in r.getMessage() for r in caplog.records)


def test_long_reply_is_cut_with_a_tail(app: Flask, rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.pipeline

    monkeypatch.setattr(bot.pipeline, "respond", lambda turn: [Text("\n".join(["暖冬行动·为独居老人送棉衣"] * 200))])
    reply = driver(app).text("找活动")
    assert len(reply.text.encode("utf-8")) <= 2000
    assert "更多" in reply.text.splitlines()[-1]


def test_reply_xml_is_what_wechat_expects(app: Flask, rt: Runtime) -> None:
    d = driver(app)
    reply = d.text("你好")
    assert reply.fields is not None
    assert reply.fields["ToUserName"] == d.openid and reply.fields["FromUserName"] == ACCOUNT
    assert reply.body.startswith(b"<xml>")


def test_handoff_through_the_webhook_reaches_the_push_layer(app: Flask, rt: Runtime) -> None:
    """`9` from WeChat hands the conversation to a coordinator: a hand-off notice is created after the commit."""
    from data.models_push import Notice

    d = driver(app)
    d.event("subscribe")
    d.text("1")
    words = f"楼下路灯坏了{uuid.uuid4().hex[:6]}"  # this person's own words, to find their hand-off
    d.text(words)
    reply = d.text("9")
    # 阳光社区's coordinator who can be reached (李建国 has a mobile; 王秀英 only a landline) has the words now.
    assert "转给了李建国" in reply.text, reply.text
    with rt.sessions() as s:
        notices = s.scalars(select(Notice).where(Notice.kind == "handoff")).all()
    mine = [n for n in notices if words in n.body]
    assert len(mine) == 1, "the dialogs' hand-off hook did not reach the push layer with the conversation"
    assert "请求人工帮助" in mine[0].body


def test_location_reports_and_link_clicks_leave_the_conversation_and_the_window_alone(app: Flask, rt: Runtime) -> None:
    d = driver(app)
    d.event("subscribe")
    d.text("1")
    listing = d.event("CLICK", "MENU_FIND")
    assert numbered(listing.text)
    with rt.sessions() as s:
        stamp = s.scalars(select(ChannelIdentity.last_inbound_at).where(
            ChannelIdentity.external_id == d.openid)).one()
    window = rt.store.get(f"wechat:window:{d.openid}")
    assert window
    xml = (FIXTURES / "event_location.xml").read_text(encoding="utf-8").replace("oUSER", d.openid)
    assert d.post(*d.sign(xml)).empty
    assert d.event("VIEW", "https://example.org/guide").empty
    # WeChat opens no customer-service window for these; nor do we.
    assert rt.store.get(f"wechat:window:{d.openid}") == window
    with rt.sessions() as s:
        assert s.scalars(select(ChannelIdentity.last_inbound_at).where(
            ChannelIdentity.external_id == d.openid)).one() == stamp
        v = s.scalars(select(Volunteer).join(ChannelIdentity).where(ChannelIdentity.external_id == d.openid)).one()
        assert v.last_lat is None  # reported, but no location consent
    detail = d.text("第二个")  # the list shown before the reports is still the one `第二个` means
    assert "回复1报名" in detail.text or "排队" in detail.text
