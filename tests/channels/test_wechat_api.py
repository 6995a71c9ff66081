"""Outbound WeChat client against the loopback fake: tokens, errcodes, the 48-hour window and its quota."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.channels.wechat_api import WechatAPI, WechatOutbound
from bot.config import WechatConfig
from data.kv import MemoryStore, Store
from dialogs import Choices, Text
from tests.fakes.wechat_api import APP_ID, APP_SECRET, FakeWechatAPI

USER = "oUserA0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeWechatAPI]:
    fake = FakeWechatAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeWechatAPI) -> FakeWechatAPI:
    """The module's server with its records and forced failures cleared."""
    server.reset()
    return server


def make_cfg(fake: FakeWechatAPI, **kw: object) -> WechatConfig:
    cfg = WechatConfig(app_id=APP_ID, app_secret=APP_SECRET, api_base=fake.url, http_timeout_seconds=2.0,
                       templates={"notice": "TPL-NOTICE"})
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture
def api(fake: FakeWechatAPI, store: Store) -> WechatAPI:
    a = WechatAPI(make_cfg(fake), store, sleep=lambda s: None)
    a.note_inbound(USER)
    return a


def test_token_from_stable_token_cached_and_shared(fake: FakeWechatAPI, store: Store) -> None:
    one = WechatAPI(make_cfg(fake), store)
    other = WechatAPI(make_cfg(fake), store)  # another worker sharing the store
    assert one.token() == other.token() == "TOKEN-1"
    assert fake.token_calls == [False]
    assert "token" not in fake.requests  # never the old /cgi-bin/token endpoint


def test_concurrent_workers_fetch_the_token_once(fake: FakeWechatAPI, store: Store) -> None:
    tokens: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        a = WechatAPI(make_cfg(fake), store)
        barrier.wait()
        tokens.append(a.token())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert tokens == ["TOKEN-1"] * 8
    assert fake.token_calls == [False]


def test_send_text_checks_errcode_and_counts(api: WechatAPI, fake: FakeWechatAPI) -> None:
    result = api.send_text(USER, "您好，报名成功了。")
    assert result.ok
    assert fake.custom == [{"touser": USER, "msgtype": "text", "text": {"content": "您好，报名成功了。"}}]


def test_rejected_token_refreshed_once_then_retried(api: WechatAPI, fake: FakeWechatAPI) -> None:
    api.token()
    fake.fail("message/custom/send", errcode=40001)
    assert api.send_text(USER, "一").ok
    # stable_token still handed out the rejected token, so the refresh had to force a new one.
    assert fake.token_calls == [False, False, True]
    assert api.token() == "TOKEN-2"
    assert len(fake.custom) == 1


def test_expired_token_refreshed_without_forcing(api: WechatAPI, fake: FakeWechatAPI) -> None:
    api.token()
    fake.expire_token()  # the cached TOKEN-1 now answers 42001
    assert api.send_text(USER, "二").ok
    assert fake.token_calls == [False, False]
    assert fake.requests.count("message/custom/send") == 2


def test_token_refresh_is_bounded(api: WechatAPI, fake: FakeWechatAPI) -> None:
    fake.fail("message/custom/send", errcode=40001, times=5)
    result = api.send_text(USER, "三")
    assert result.status == "retry"
    assert fake.requests.count("message/custom/send") == 2  # one refresh, one retry, never a loop


@pytest.mark.parametrize(("errcode", "reason", "template_ok"), [
    (45015, "outside_48h_window", True),
    (45047, "cs_quota_used", True),
    (43004, "not_subscribed", False),
])
def test_unreachable_recorded_per_user(api: WechatAPI, fake: FakeWechatAPI, errcode: int, reason: str,
                                       template_ok: bool) -> None:
    fake.fail("message/custom/send", errcode=errcode)
    result = api.send_text(USER, "四")
    assert (result.status, result.reason) == ("unreachable", reason)
    assert api.unreachable_reason(USER) == reason
    before = len(fake.requests)
    again = api.send_text(USER, "五")
    assert (again.status, again.reason) == ("unreachable", reason)
    assert len(fake.requests) == before  # known unreachable: no call at all
    assert api.send_template(USER, "notice", {"thing1": "活动变更"}).ok is template_ok
    api.note_inbound(USER)  # the user writes again: reachable again
    assert api.unreachable_reason(USER) is None
    assert api.send_text(USER, "六").ok


@pytest.mark.parametrize(("errcode", "status", "retry_after"), [
    (45009, 200, 600.0),
    (-1, 200, 3.0),
    (None, 502, 5.0),
    (None, 500, 5.0),
])
def test_transient_failures_say_retry(api: WechatAPI, fake: FakeWechatAPI, errcode: int | None, status: int,
                                      retry_after: float) -> None:
    fake.fail("message/custom/send", errcode=errcode, status=status)
    result = api.send_text(USER, "七")
    assert result.status == "retry" and result.retry_after == retry_after
    assert api.unreachable_reason(USER) is None
    assert api.send_text(USER, "七").ok  # the retry goes through
    assert len(fake.custom) == 1


def test_token_endpoint_failure_is_retry_not_crash(api: WechatAPI, fake: FakeWechatAPI) -> None:
    fake.fail("stable_token", status=503)
    assert api.send_text(USER, "八").status == "retry"
    assert api.send_text(USER, "八").ok


def test_unknown_errcode_is_a_permanent_failure(api: WechatAPI, fake: FakeWechatAPI) -> None:
    fake.fail("message/custom/send", errcode=47001)
    result = api.send_text(USER, "九")
    assert result.status == "failed" and "47001" in result.reason


def test_window_and_quota(fake: FakeWechatAPI, store: Store) -> None:
    a = WechatAPI(make_cfg(fake), store)
    assert a.send_text("oNeverWrote", "您好").reason == "outside_48h_window"
    assert fake.requests == []  # known outside the window: WeChat is not even asked
    a.note_inbound(USER)
    assert [a.send_text(USER, f"第{i}条").status for i in range(1, 7)] == ["sent"] * 5 + ["unreachable"]
    assert a.unreachable_reason(USER) == "cs_quota_used"
    a.note_inbound(USER)  # a new message from the user opens a new window with a new quota
    assert a.send_text(USER, "第7条").ok


def test_window_closes_after_48_hours(fake: FakeWechatAPI) -> None:
    now = [1_000_000.0]
    store = MemoryStore(clock=lambda: now[0])
    a = WechatAPI(make_cfg(fake), store, clock=lambda: now[0])
    a.note_inbound(USER)
    now[0] += 47 * 3600
    assert a.send_text(USER, "还在窗口内").ok
    now[0] += 2 * 3600
    assert a.send_text(USER, "窗口外").reason == "outside_48h_window"


def test_template_message(api: WechatAPI, fake: FakeWechatAPI) -> None:
    result = api.send_template(USER, "notice", {"thing1": "活动时间改到12月6日（星期日）上午9点，请注意", "time2": "12月6日"})
    assert result.ok and result.provider_id
    sent = fake.templates[0]
    assert sent["touser"] == USER and sent["template_id"] == "TPL-NOTICE"
    assert len(sent["data"]["thing1"]["value"]) == 20  # thing fields are cut to WeChat's 20 characters
    assert sent["data"]["time2"] == {"value": "12月6日"}
    assert api.send_template(USER, "missing", {}).status == "unreachable"


def test_outbound_replies_and_notices(fake: FakeWechatAPI, store: Store) -> None:
    out = WechatOutbound(WechatAPI(make_cfg(fake), store))
    assert out.send_replies("oOutsideWindow", [Text("您好")]).reason == "outside_48h_window"
    assert out.send_notice("oOutsideWindow", "活动取消", "周六的大扫除因为下雪取消了，请不要去集合地点").ok
    assert fake.templates[0]["data"] == {"thing1": {"value": "活动取消"},
                                         "thing2": {"value": "周六的大扫除因为下雪取消了，请不要去集…"}}
    out.api.note_inbound(USER)
    assert out.send_replies(USER, [Choices("请选择：", ("找活动", "找人工"), "回复0回主菜单。")]).ok
    assert fake.custom[0]["text"]["content"] == "请选择：\n1. 找活动\n2. 找人工\n回复0回主菜单。"
    out.api.mark_unreachable(USER, "unsubscribed")
    assert out.send_notice(USER, "提醒", "明天上午9点").reason == "unsubscribed"
    assert len(fake.templates) == 1


def test_long_customer_message_is_cut(api: WechatAPI, fake: FakeWechatAPI) -> None:
    assert WechatOutbound(api).send_replies(USER, [Text("志愿服务" * 1000)]).ok
    content = fake.custom[0]["text"]["content"]
    assert len(content.encode("utf-8")) <= 2000 and "更多" in content


def test_menu_create(api: WechatAPI, fake: FakeWechatAPI) -> None:
    menu = [{"type": "click", "name": "找活动", "key": "MENU_FIND"},
            {"name": "更多", "sub_button": [{"type": "view", "name": "使用说明", "url": "https://example.org"}]}]
    api.create_menu(menu)
    assert fake.menus == [{"button": menu}]
    for bad in ([], [{"type": "click", "name": "找活动"}], [{"type": "click", "name": "一个非常长的菜单名字", "key": "K"}]):
        with pytest.raises(ValueError):
            api.create_menu(bad)
    assert len(fake.menus) == 1


def test_cli_wechat_menu(fake: FakeWechatAPI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    from bot import cli

    monkeypatch.setenv("YINLING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("YINLING_SECRET_KEY", "cli-test-secret-0123456789")
    monkeypatch.setenv("WECHAT_API_BASE", fake.url)
    monkeypatch.delenv("YINLING_REDIS_URL", raising=False)
    monkeypatch.delenv("WECHAT_APP_ID", raising=False)
    monkeypatch.delenv("WECHAT_APP_SECRET", raising=False)
    assert cli.main(["wechat", "menu", "--dry-run"]) == 0
    assert cli.main(["wechat", "menu"]) == 2  # no app id / secret: says which variables to set
    assert "WECHAT_APP_ID" in capsys.readouterr().out
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.setenv("WECHAT_APP_SECRET", APP_SECRET)
    fake.fail("menu/create", errcode=-1)
    assert cli.main(["wechat", "menu"]) == 1
    assert "errcode -1" in capsys.readouterr().out
    assert cli.main(["wechat", "menu"]) == 0
    assert "找活动" in capsys.readouterr().out
    assert [b["name"] for b in fake.menus[0]["button"]] == ["找活动", "我的活动", "找人工"]


def test_a_window_block_does_not_hide_an_unsubscribe(api: WechatAPI) -> None:
    api.mark_unreachable(USER, "unsubscribed")
    api.mark_unreachable(USER, "outside_48h_window")
    assert api.unreachable_reason(USER) == "unsubscribed"
    assert api.unreachable_reason(USER, customer_service=False) == "unsubscribed"
