"""Property: random message sequences never raise, always answer, fit the channel and offer ≤4 choices."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from data.crypto import PhoneVault
from data.kv import MemoryStore
from dialogs import Choices, Text

from .conftest import Chat, demo_volunteer, new_volunteer, real_parser

# Every database gets EXAMPLES sequences; SQLite gets MORE on top (override both for a long soak).
EXAMPLES = int(os.environ.get("YINLING_DIALOG_EXAMPLES", "120"))
MORE = int(os.environ.get("YINLING_DIALOG_EXAMPLES_SQLITE", "400"))

PHRASES = [
    "你好", "明天有啥活", "明儿个有啥活", "礼拜六有活动吗", "下周三后晌有啥", "周末", "附近有啥活动",
    "我们社区有啥活", "阳光社区有啥活", "赛罕区有活吗", "幸福村有活吗", "我想陪老人聊天", "捡垃圾", "量血压",
    "第二个", "第二个是干啥的", "第五个", "报名", "报名第二个", "我和老伴两个人", "我要报名", "确认", "不报了",
    "取消报名", "我的活动", "我报了啥", "我干了多少小时", "时长", "证明", "更多", "还有吗", "再说一遍", "撤销",
    "找人工", "长辈版", "不要推荐", "恢复推荐", "给我推荐", "退订", "T", "订阅", "谢谢", "再见", "好的", "对",
    "不对", "算了", "跳过", "我搬到赛罕区了", "我只有上午有空", "腿脚不好不能久站", "改资料", "绑定手机",
    "13900000002", "123456", "删除我的信息", "今天天气怎么样", "嗯", "？", "", "😀😀", "1", "2", "3", "4", "0", "9",
    "１", "三", "DROP TABLE volunteers;", "<xml>", "a" * 400,
]

EMPTY = {"intent": {"name": "nlu_fallback", "confidence": 0.0}, "entities": []}

message = st.one_of(
    st.sampled_from(PHRASES).map(lambda t: ("text", t)),
    st.text(max_size=30).map(lambda t: ("text", t)),
    st.sampled_from([
        ("event", "subscribe"), ("event", "unsubscribe"), ("event", "CLICK:MENU_FIND"),
        ("event", "CLICK:MENU_MINE"), ("event", "CLICK:MENU_HUMAN"), ("event", "subscribe:qrscene_team_1"),
        ("voice", ""), ("image", ""), ("location", "40.85,111.68"), ("voice", "明天有啥活"),
    ]),
)


def _kw(kind: str, value: str) -> tuple[str, dict[str, Any]]:
    if kind == "text":
        return value, {}
    if kind == "event":
        event, _, key = value.partition(":")
        return "", {"kind": "event", "event": event, "event_key": key or None}
    if kind == "location":
        lat, lon = value.split(",")
        return "", {"kind": "location", "location": (float(lat), float(lon))}
    return value, {"kind": kind}


GIVEN = dict(messages=st.lists(message, min_size=1, max_size=7), channel=st.sampled_from(["wechat", "sms"]),
             fresh=st.booleans(), elder=st.booleans())
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=HEALTH)
@given(**GIVEN)
def test_random_conversations(session: Session, seed_now: datetime, vault: PhoneVault,
                              messages: list[tuple[str, str]], channel: str, fresh: bool, elder: bool) -> None:
    converse(session, seed_now, vault, messages, channel, fresh, elder)


@settings(max_examples=MORE, deadline=None, suppress_health_check=HEALTH)
@given(**GIVEN)
def test_many_random_conversations_on_sqlite(session: Session, seed_now: datetime, vault: PhoneVault,
                                             messages: list[tuple[str, str]], channel: str, fresh: bool,
                                             elder: bool) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the long run uses the fast embedded database")
    converse(session, seed_now, vault, messages, channel, fresh, elder)


def converse(session: Session, seed_now: datetime, vault: PhoneVault, messages: list[tuple[str, str]],
             channel: str, fresh: bool, elder: bool) -> None:
    parser = real_parser()
    nested = session.begin_nested()
    try:
        now = seed_now + timedelta(minutes=5)
        volunteer = new_volunteer(session, now) if fresh else demo_volunteer(session)
        volunteer.elder_mode = elder
        chat = Chat(session, MemoryStore(), volunteer, now, vault=vault, channel=channel, new_user=fresh)
        budget = 140 if channel == "sms" else 300
        for kind, value in messages:
            text, kw = _kw(kind, value)
            parse = parser.parse(text, now) if parser is not None else EMPTY
            out = chat.send(text, parse, **kw)
            assert out.strip(), (kind, value)
            assert len(out) <= budget, (kind, value, out)
            for r in chat.replies:
                assert isinstance(r, Text | Choices)
                if isinstance(r, Choices):
                    assert len(r.options) <= 4
            assert not any("a" <= ch <= "z" for ch in out.replace("MENU", "")), out  # no English
    finally:
        nested.rollback()
        session.expire_all()
