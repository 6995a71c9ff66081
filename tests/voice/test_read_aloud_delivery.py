"""Delivering a reading (bot/push/read_aloud.py) against the fake WeChat API, on the memory store and Redis:
every voice message counted against the window's quota, WeChat's refusals answered without losing anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.channels.tts import Speaker
from bot.channels.wechat_api import WechatAPI, unreachable_key
from bot.config import TtsConfig, WechatConfig
from bot.push.read_aloud import read_aloud
from bot.push.texts import READ_ALOUD_FAILED
from data.kv import Store
from tests.fakes.tts import FakeWechatMedia, amr_seconds
from tests.fakes.wechat_api import APP_ID, APP_SECRET

USER = "oUSER-read-aloud"
ESPEAK = Speaker(TtsConfig(backend="espeak", fallback="off"))


@pytest.fixture(scope="module")
def server() -> Iterator[FakeWechatMedia]:
    s = FakeWechatMedia().start()
    yield s
    s.stop()


@pytest.fixture
def fake(server: FakeWechatMedia) -> FakeWechatMedia:
    server.reset()
    return server


@pytest.fixture
def api(fake: FakeWechatMedia, store: Store) -> WechatAPI:
    cfg = WechatConfig(app_id=APP_ID, app_secret=APP_SECRET, api_base=fake.url, http_timeout_seconds=5.0)
    a = WechatAPI(cfg, store, sleep=lambda s: None)
    a.note_inbound(USER)
    return a


def sent_in_window(api: WechatAPI, store: Store) -> int:
    window = store.get(f"wechat:window:{USER}")
    return int(store.get(f"wechat:cs_sent:{USER}:{window}") or 0)


def test_a_long_reply_goes_as_two_voices_each_counted(api: WechatAPI, fake: FakeWechatMedia, store: Store) -> None:
    text = "\n".join(f"{i}. 第{i}个活动在阳光社区，上午九点开始，请您提前十分钟到。" for i in range(1, 6))
    assert read_aloud(api, ESPEAK, USER, text, "rid") == "sent"
    voices = fake.voices()
    assert len(voices) == 2  # tts.max_messages
    assert all(0 < amr_seconds(fake.uploads[v["voice"]["media_id"]]) <= 60 for v in voices)
    assert sent_in_window(api, store) == 2


def test_no_speech_at_all_gets_the_apology(api: WechatAPI, fake: FakeWechatMedia) -> None:
    mute = Speaker(TtsConfig(backend="espeak", fallback="off", espeak_path="/nonexistent/espeak-ng"))
    assert read_aloud(api, mute, USER, "您好", "rid") == "failed"
    assert fake.texts() == [READ_ALOUD_FAILED] and fake.uploads == {}


@pytest.mark.parametrize("errcode, reason", [(45015, "outside_48h_window"), (45047, "cs_quota_used")])
def test_a_closed_window_stops_the_reading_quietly(api: WechatAPI, fake: FakeWechatMedia, store: Store,
                                                   errcode: int, reason: str) -> None:
    fake.fail("message/custom/send", errcode)
    assert read_aloud(api, ESPEAK, USER, "您好", "rid") == "unreachable"
    assert fake.custom == []  # no apology either: it could not arrive
    assert store.get(unreachable_key(USER)) == reason


def test_an_unknown_media_id_is_answered_with_the_apology(api: WechatAPI, fake: FakeWechatMedia) -> None:
    fake.fail("message/custom/send", 40007)
    assert read_aloud(api, ESPEAK, USER, "您好", "rid") == "failed"
    assert fake.texts() == [READ_ALOUD_FAILED]


def test_the_same_text_is_uploaded_once_and_again_when_wechat_forgot_it(api: WechatAPI, fake: FakeWechatMedia,
                                                                         store: Store) -> None:
    menu = "请问您想做什么？请回复数字：\n1. 找活动\n2. 我的服务时长"
    assert read_aloud(api, ESPEAK, USER, menu, "rid-1") == "sent"
    assert read_aloud(api, ESPEAK, USER, menu, "rid-2") == "sent"
    assert len(fake.uploads) == 1 and len(fake.voices()) == 2
    assert read_aloud(api, ESPEAK, USER, menu + "\n回复0回主菜单。", "rid-3") == "sent"  # another text
    assert len(fake.uploads) == 2
    fake.uploads.clear()  # three days later WeChat no longer has them: 40007
    assert read_aloud(api, ESPEAK, USER, menu, "rid-4") == "sent"
    assert len(fake.uploads) == 1 and len(fake.voices()) == 4 and fake.texts() == []
