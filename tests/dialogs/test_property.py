"""Property: random message sequences never raise, always answer, fit the channel and offer ≤4 choices, and
leave the database consistent: no activity overbooked, at most one live sign-up per person and activity,
waitlist positions 1..n in arrival order, and nobody left waiting while a place their party fits is free.

The 120 cases per database are repeatable by default (derandomized; the long SQLite run is random, as it
was). CI sets YINLING_PROPERTY_RANDOM=1: each run draws one fresh seed for both tests, printed at the end
of the run (and in the header without -q) and in the failing example's notes. Replay a failure with
    YINLING_PROPERTY_SEED=<seed> .venv/bin/python -m pytest tests/dialogs/test_property.py
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data import services as svc
from data.crypto import PhoneVault
from data.kv import MemoryStore
from data.models import HOLDS_PLACE, LIVE_SIGNUP, Activity, ActivityStatus, Signup, SignupStatus
from dialogs import Choices, Text
from tests.conftest import PROPERTY_SEED

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

# Whole journeys people make, so that random conversations reach sign-ups, waitlists, parties and
# cancellations often (the demo region has full activities: 社区义诊, 爱心义剪, 书法课).
JOURNEYS = [
    ("量血压", "1", "1", "1"), ("报名书法课", "1", "1", "1"), ("理发", "1", "1", "1"), ("找活动", "4", "1", "1"),
    ("明天有啥活", "1", "1", "1"), ("找活动", "2", "我们三个人", "1"), ("我和老伴两个人想报名", "1", "1", "1"),
    ("找活动", "1", "1", "我们五个人", "1"), ("我的活动", "1", "1", "1"), ("取消报名", "1", "1"),
    ("量血压", "1", "1", "1", "我的活动", "1", "1", "1"), ("撤销",), ("删除我的信息", "1"),
]

message = st.one_of(
    st.sampled_from(PHRASES).map(lambda t: ("text", t)),
    # Any text (no lone surrogates, as before) but U+0000, which the pipeline strips before the dialogs
    # (tests/channels/test_sms_android.py).
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30)
    .map(lambda t: ("text", t)),
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


journey = st.sampled_from(JOURNEYS).map(lambda j: [("text", t) for t in j])
step = st.one_of(message.map(lambda m: [m]), message.map(lambda m: [m]), journey)
conversation = st.lists(step, min_size=1, max_size=4).map(lambda steps: [m for s in steps for m in s][:10])

# Who talks: someone new, 张桂兰, or 胡建国 (demo-openid-002), who holds a place at the full 社区义诊 with
# two people waiting (so that his cancelling must move the waitlist) and waits himself at 爱心义剪.
WHO = ["new", "demo-zhangguilan", "demo-openid-002"]
GIVEN = dict(messages=conversation, channel=st.sampled_from(["wechat", "sms"]), who=st.sampled_from(WHO),
             elder=st.booleans())
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
RANDOM = PROPERTY_SEED is not None


def replayable(test: Any) -> Any:
    """The run's seed when CI asked for a fresh one (or a replay); otherwise hypothesis' fixed cases."""
    return seed(PROPERTY_SEED)(test) if RANDOM else test


@replayable
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not RANDOM, suppress_health_check=HEALTH)
@given(**GIVEN)
def test_random_conversations(session: Session, seed_now: datetime, vault: PhoneVault,
                              messages: list[tuple[str, str]], channel: str, who: str, elder: bool) -> None:
    converse(session, seed_now, vault, messages, channel, who, elder)


@replayable
@settings(max_examples=MORE, deadline=None, suppress_health_check=HEALTH)
@given(**GIVEN)
def test_many_random_conversations_on_sqlite(session: Session, seed_now: datetime, vault: PhoneVault,
                                             messages: list[tuple[str, str]], channel: str, who: str,
                                             elder: bool) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the long run uses the fast embedded database")
    converse(session, seed_now, vault, messages, channel, who, elder)


def converse(session: Session, seed_now: datetime, vault: PhoneVault, messages: list[tuple[str, str]],
             channel: str, who: str, elder: bool) -> None:
    if RANDOM:
        note(f"seed {PROPERTY_SEED}: replay with YINLING_PROPERTY_SEED={PROPERTY_SEED}")
    parser = real_parser()
    nested = session.begin_nested()
    try:
        now = seed_now + timedelta(minutes=5)
        fresh = who == "new"
        volunteer = new_volunteer(session, now) if fresh else demo_volunteer(session, who)
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
        problems = broken_invariants(session, now)  # what a wrong step did stays in the database
        assert not problems, problems
    finally:
        nested.rollback()
        session.expire_all()


def broken_invariants(session: Session, now: datetime) -> list[str]:
    """What the sign-up rules promise about the whole database, whatever was said; [] when all hold."""
    problems: list[str] = []
    held = (select(Signup.activity_id, func.sum(Signup.party_size).label("held"))
            .where(Signup.status.in_(HOLDS_PLACE)).group_by(Signup.activity_id).subquery())
    for aid, capacity, taken in session.execute(
            select(Activity.id, Activity.capacity, held.c.held).join(held, held.c.activity_id == Activity.id)
            .where(held.c.held > Activity.capacity)):
        problems.append(f"activity {aid} overbooked: {taken} places held of {capacity}")
    for aid, vid, n in session.execute(
            select(Signup.activity_id, Signup.volunteer_id, func.count()).where(Signup.status.in_(LIVE_SIGNUP))
            .group_by(Signup.activity_id, Signup.volunteer_id).having(func.count() > 1)):
        problems.append(f"volunteer {vid} has {n} live sign-ups for activity {aid}")
    waiting: dict[int, list[Signup]] = {}
    for s in session.scalars(select(Signup).where(Signup.status == SignupStatus.WAITLISTED)):
        waiting.setdefault(s.activity_id, []).append(s)
    for aid, signups in waiting.items():
        arrival = sorted(signups, key=lambda s: (s.created_at, s.id))
        positions = [svc.waitlist_position(session, s) for s in arrival]
        if positions != list(range(1, len(arrival) + 1)):
            problems.append(f"activity {aid} waitlist positions {positions}")
        act = session.get(Activity, aid)
        if act is not None and act.status == ActivityStatus.PUBLISHED and act.starts_at > now:
            free = act.capacity - svc.places_taken(session, aid)
            fits = [s.id for s in arrival if s.party_size <= free]
            if fits:
                problems.append(f"activity {aid}: sign-ups {fits} wait although {free} places are free")
    return problems
