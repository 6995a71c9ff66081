"""Answers to activity reminders in the conversation: `1`/我会到 is recorded, `2`/去不了 confirms and frees
the place (waitlist promoted, 撤销 restores), and a bare digit keeps its usual meaning when no reminder is
waiting or the conversation moved on after it. Every row runs on both databases and both stores.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import services
from data.models import Activity, Signup, SignupStatus
from data.models_push import Delivery, DeliveryStatus, Notice, NoticeStatus
from data.timeutil import to_local

from .conftest import Chat, P

Msg = tuple[str, dict[str, Any]] | Callable[[Chat], tuple[str, dict[str, Any]]]


def n(k: int) -> tuple[str, dict[str, Any]]:
    return str(k), P("choose", number=k)


def tomorrow(c: Chat) -> tuple[str, dict[str, Any]]:
    start = (to_local(c.now).replace(tzinfo=None) + timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
    return "明天有啥活", P("search_activities", time=(start, start + timedelta(days=1)))


def words(text: str, intent: str = "nlu_fallback") -> tuple[str, dict[str, Any]]:
    return text, P(intent)


def activity(session: Session, title: str) -> Activity:
    return session.scalars(select(Activity).where(Activity.title == title)).one()


def remind(session: Session, signup: Signup, at: datetime, kind: str = "reminder_day") -> Delivery:
    """What the push layer leaves behind after sending a reminder: a notice and a sent delivery."""
    notice = Notice(kind=kind, title="活动提醒", body="提醒您：明天有您报名的活动。回复1 我会到 回复2 去不了",
                    audience={"kind": "activity", "activity_id": signup.activity_id, "statuses": ["confirmed"]},
                    activity_id=signup.activity_id, status=NoticeStatus.DONE, queue="notices", total=1,
                    created_at=at)
    session.add(notice)
    session.flush()
    d = Delivery(notice_id=notice.id, volunteer_id=signup.volunteer_id, status=DeliveryStatus.SENT,
                 channel="wechat_template", updated_at=at, sent_at=at, attempts=1)
    session.add(d)
    session.flush()
    return d


def signed_up(c: Chat, title: str = "暖冬行动·为独居老人送棉衣") -> Signup:
    res = services.sign_up(c.session, volunteer_id=c.volunteer.id, activity_id=activity(c.session, title).id,
                           now=c.now)
    assert res.signup.status == SignupStatus.CONFIRMED
    return res.signup


def run(c: Chat, messages: list[Msg]) -> str:
    out = ""
    for m in messages:
        text, parse = m(c) if callable(m) else m
        out = c.send(text, parse)
        assert out.strip(), f"empty reply to {text}"
        assert len(out) <= c.settings.budget(c.channel), out
    return out


# (id, messages before the reminder, messages after it, facts in the last reply, next state,
#  the answer stored on the delivery, the sign-up's status afterwards)
CASES: list[tuple[str, list[Msg], list[Msg], list[str], str | None, str | None, SignupStatus]] = [
    ("1 is 我会到", [], [n(1)], ["谢谢您", "会到", "送棉衣", "时间：", "地点：阳光社区", "剩", "0回主菜单"], None,
     "1", SignupStatus.CONFIRMED),
    ("我会到", [], [words("我会到", "sign_up")], ["谢谢您", "送棉衣", "时间："], None, "1", SignupStatus.CONFIRMED),
    ("能去", [], [words("能去", "affirm")], ["谢谢您", "送棉衣"], None, "1", SignupStatus.CONFIRMED),
    ("full-width 1", [], [words("１")], ["谢谢您"], None, "1", SignupStatus.CONFIRMED),
    ("2 asks first", [], [n(2)], ["去不了", "送棉衣", "时间：", "1. 确认退出", "2. 不退了"], "reminder.confirm",
     None, SignupStatus.CONFIRMED),
    ("去不了 asks first", [], [words("去不了", "deny")], ["确认退出"], "reminder.confirm", None,
     SignupStatus.CONFIRMED),
    ("有事 asks first", [], [words("明天有事")], ["确认退出"], "reminder.confirm", None, SignupStatus.CONFIRMED),
    ("不会去 is not 会去", [], [words("我不会去")], ["确认退出"], "reminder.confirm", None,
     SignupStatus.CONFIRMED),
    ("2 then 1 cancels", [], [n(2), n(1)], ["已退出", "送棉衣", "留给别人报名", "撤销"], None, "2",
     SignupStatus.CANCELLED),
    ("2 then 2 keeps", [], [n(2), n(2)], ["没有退出", "报名还在", "送棉衣", "1. 找活动"], "help.menu", None,
     SignupStatus.CONFIRMED),
    ("list before the reminder, then 1 answers", [tomorrow], [n(1)], ["谢谢您", "送棉衣"], None, "1",
     SignupStatus.CONFIRMED),
    ("menu before the reminder, then 1 answers", [("0", P("menu"))], [n(1)], ["谢谢您"], None, "1",
     SignupStatus.CONFIRMED),
    ("list after the reminder: 1 picks the item", [], [tomorrow, n(1)], ["时间：", "地点："], "search.detail",
     None, SignupStatus.CONFIRMED),
    ("list after the reminder: words still answer", [], [tomorrow, words("我会到")], ["谢谢您", "送棉衣"], None,
     "1", SignupStatus.CONFIRMED),
    ("answered once: the next 1 is the menu", [], [n(1), n(1)], ["活动有"], "search.list", "1",
     SignupStatus.CONFIRMED),
    ("0 is still the menu", [], [("0", P("menu"))], ["1. 找活动"], "help.menu", None, SignupStatus.CONFIRMED),
    ("9 is still a person", [], [("9", P("human_handoff"))], ["李建国"], None, None, SignupStatus.CONFIRMED),
    ("a long message is not an answer", [], [words("我有事想问一下明天集合的地方到底在哪里")], ["地点："], None,
     None, SignupStatus.CONFIRMED),  # a question about one's own sign-up: answered, the sign-up untouched
    ("0 at the confirm step", [], [n(2), ("0", P("menu"))], ["1. 找活动"], "help.menu", None,
     SignupStatus.CONFIRMED),
]


@pytest.mark.parametrize("before,after,facts,at,answer,status", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_reminder_answer(zhang: Chat, before: list[Msg], after: list[Msg], facts: list[str], at: str | None,
                         answer: str | None, status: SignupStatus) -> None:
    signup = signed_up(zhang)
    run(zhang, before)
    zhang.now += timedelta(minutes=1)
    delivery = remind(zhang.session, signup, zhang.now)
    zhang.now += timedelta(minutes=1)
    out = run(zhang, after)
    for fact in facts:
        assert fact in out, f"{fact!r} not in:\n{out}"
    assert zhang.at == at, out
    zhang.session.refresh(delivery)
    zhang.session.refresh(signup)
    assert delivery.answer == answer
    assert signup.status == status
    assert not zhang.hooks.named("waitlist_promoted")  # 送棉衣 has no waitlist


# Without a reminder waiting, the same messages mean what they always meant.
NO_REMINDER: list[tuple[str, list[Msg], list[str], str | None]] = [
    ("1 on a list", [tomorrow, n(1)], ["时间：", "地点："], "search.detail"),
    ("1 when idle", [n(1)], ["活动有"], "search.list"),
    ("2 when idle", [n(2)], ["按您的情况挑了"], "search.list"),
    ("我会到 when idle", [words("我会到")], ["没听明白"], "help.menu"),
]


@pytest.mark.parametrize("messages,facts,at", [c[1:] for c in NO_REMINDER], ids=[c[0] for c in NO_REMINDER])
def test_no_reminder_keeps_meaning(zhang: Chat, messages: list[Msg], facts: list[str], at: str | None) -> None:
    signed_up(zhang)
    out = run(zhang, messages)
    for fact in facts:
        assert fact in out, f"{fact!r} not in:\n{out}"
    assert zhang.at == at, out


def test_answered_or_cancelled_or_past_reminders_are_not_pending(zhang: Chat) -> None:
    signup = signed_up(zhang)
    d = remind(zhang.session, signup, zhang.now)
    d.answer = "1"
    zhang.session.flush()
    zhang.now += timedelta(minutes=1)
    assert "活动有" in zhang.send(*n(1))  # the menu's 找活动, not the reminder
    other = signed_up(zhang, "陪独居老人聊天读报")
    remind(zhang.session, other, zhang.now)
    services.cancel_signup(zhang.session, signup_id=other.id, volunteer_id=zhang.volunteer.id, now=zhang.now)
    zhang.now += timedelta(minutes=1)
    zhang.send("0", P("menu"))
    zhang.now += timedelta(minutes=1)
    out = zhang.send("我会到", P("sign_up"))
    assert "谢谢您" not in out


def test_cancel_promotes_waitlist_and_undo_restores(zhang: Chat) -> None:
    """A confirmed volunteer on a full activity answers 2: the first waiting person gets the place."""
    act = activity(zhang.session, "社区义诊·免费量血压")
    confirmed = zhang.session.scalars(select(Signup).where(
        Signup.activity_id == act.id, Signup.status == SignupStatus.CONFIRMED)).first()
    first_waiting = zhang.session.scalars(select(Signup).where(
        Signup.activity_id == act.id, Signup.status == SignupStatus.WAITLISTED)
        .order_by(Signup.created_at, Signup.id)).first()
    assert confirmed is not None and first_waiting is not None
    other = Chat(zhang.session, zhang.store, confirmed.volunteer, zhang.now)
    remind(zhang.session, confirmed, other.now)
    other.now += timedelta(minutes=1)
    out = other.send("去不了", P("deny"))
    assert "量血压" in out and other.at == "reminder.confirm"
    out = other.send(*n(1))
    assert "已退出" in out and "让给了候补" in out and "撤销" in out
    assert other.hooks.named("waitlist_promoted") == [([first_waiting.id],)]
    zhang.session.refresh(first_waiting)
    assert first_waiting.status == SignupStatus.CONFIRMED
    out = other.send("撤销", P("undo"))
    assert "已恢复报名" in out and "候补" in out  # the place went to someone else: back on the waitlist


def test_undo_after_ten_minutes_is_refused(zhang: Chat) -> None:
    signup = signed_up(zhang)
    remind(zhang.session, signup, zhang.now)
    zhang.now += timedelta(minutes=1)
    zhang.send(*n(2))
    zhang.send(*n(1))
    zhang.now += timedelta(minutes=11)
    assert "超过10分钟" in zhang.send("撤销", P("undo"))
    zhang.session.refresh(signup)
    assert signup.status == SignupStatus.CANCELLED


def test_sms_answers_are_short(zhang: Chat) -> None:
    zhang.channel = "sms"
    signup = signed_up(zhang)
    remind(zhang.session, signup, zhang.now, kind="reminder_2h")
    zhang.now += timedelta(minutes=1)
    out = zhang.send(*n(2))
    assert len(out) <= 140 and "确认退出" in out
    out = zhang.send(*n(1))
    assert len(out) <= 140 and "已退出" in out


def test_real_nlu_answers(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    signup = signed_up(zhang)
    remind(zhang.session, signup, zhang.now)
    zhang.now += timedelta(minutes=1)
    out = zhang.send("明天去不了了")
    assert "确认退出" in out
    out = zhang.send("1")
    assert "已退出" in out
