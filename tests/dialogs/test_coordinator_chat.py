"""Coordinator commands in the chat (名单 / 审核 / 通知) for a volunteer linked to a coordinator: the demo's
李建国 (阳光社区志愿服务队). Anyone else sending the same words gets the usual answer. Every row runs on both
databases and both stores; the push layer is the recording fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import services
from data.crypto import PhoneVault
from data.kv import Store
from data.models import Activity, Coordinator, Signup, SignupStatus, Team, Volunteer
from data.models_push import ReviewEscalation
from data.timeutil import to_local

from .conftest import Chat, P, new_volunteer

TEAM = "阳光社区志愿服务队"
NOTICE = "明天早上8点在阳光社区服务站集合，请带好手套"

Msg = tuple[str, dict[str, Any]] | Callable[[Chat], tuple[str, dict[str, Any]]]
Setup = Callable[[Chat], None]


def n(k: int) -> tuple[str, dict[str, Any]]:
    return str(k), P("choose", number=k)


def say(text: str, intent: str = "nlu_fallback", **ents: Any) -> tuple[str, dict[str, Any]]:
    return text, P(intent, **ents)


def day(c: Chat, k: int) -> tuple[datetime, datetime]:
    start = (to_local(c.now).replace(tzinfo=None) + timedelta(days=k)).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
    return start, start + timedelta(days=1)


def activity(session: Session, title: str) -> Activity:
    return session.scalars(select(Activity).where(Activity.title == title)).one()


def coordinator(session: Session) -> Coordinator:
    return session.scalars(select(Coordinator).where(Coordinator.name == "李建国")).one()


@pytest.fixture
def li(session: Session, store: Store, now: datetime, vault: PhoneVault) -> Chat:
    """The volunteer account of coordinator 李建国."""
    vid = coordinator(session).volunteer_id
    assert vid is not None
    v = session.get(Volunteer, vid)
    assert v is not None
    return Chat(session, store, v, now, vault=vault)


def pending(c: Chat, title: str = "暖冬行动·为独居老人送棉衣", people: int = 2) -> list[Signup]:
    """Make the activity need review and sign up new people: their sign-ups wait for review."""
    act = activity(c.session, title)
    act.needs_review = True
    out = []
    for i in range(people):
        v = new_volunteer(c.session, c.now, name=f"待审{i + 1}号")
        v.phone_masked = f"138****00{i + 1:02d}"
        out.append(services.sign_up(c.session, volunteer_id=v.id, activity_id=act.id,
                                    now=c.now - timedelta(minutes=10 - i)).signup)
    c.session.flush()
    assert all(s.status == SignupStatus.PENDING for s in out)
    return out


def roster_tomorrow(c: Chat) -> tuple[str, dict[str, Any]]:
    return say("名单 明天的", time=day(c, 1))


def pick_title(title: str) -> Callable[[Chat], tuple[str, dict[str, Any]]]:
    """Pick, from the list just shown, the line whose title matches (the demo's dates move with today)."""
    def pick(c: Chat) -> tuple[str, dict[str, Any]]:
        return n(next(i for i, opt in enumerate(c.options, 1) if title in opt))
    return pick


def two_pending(c: Chat) -> None:
    pending(c)


def nothing(c: Chat) -> None:
    return None


# (id, setup, messages, facts in the last reply, facts NOT in it, next state)
CASES: list[tuple[str, Setup, list[Msg], list[str], list[str], str | None]] = [
    ("roster by title", nothing, [say("名单 送棉衣")],
     ["【暖冬行动·为独居老人送棉衣】", "已确认4人", "待审核0人", "候补0人", "1. ", "****", "已确认", "名单就这些"],
     ["更多"], None),
    ("roster by words", nothing, [say("名单 义诊的")], ["【社区义诊·免费量血压】", "已确认8人", "候补2人"], [],
     None),
    ("roster needs a pick", nothing, [say("名单")], ["您要看哪个活动的名单", "1. ", "4. "], [], "coordinator.pick"),
    ("roster by time", nothing, [roster_tomorrow],
     ["您要看哪个活动的名单", "送棉衣", "聊天读报"], ["量血压"], "coordinator.pick"),
    ("roster picked", nothing, [roster_tomorrow, pick_title("聊天读报")], ["【陪独居老人聊天读报】",
                                                                                  "已确认2人"], [], None),
    ("roster pick out of range", nothing, [say("名单"), n(7)], ["列表里没有第7个"], [], "coordinator.pick"),
    ("roster unknown", nothing, [say("名单 火星探险")], ["没有“火星探险”的活动", "1. 找活动"], [], "help.menu"),
    ("roster not my team", nothing, [say("名单 巨海城大扫除")], ["没有“巨海城大扫除”的活动"], ["已确认"],
     "help.menu"),
    ("review none", nothing, [say("审核")], ["没有等审核的报名", "1. 找活动"], [], "help.menu"),
    ("review shows one", two_pending, [say("审核")],
     ["共2个", "待审1号", "138****0001", "送棉衣", "时间：", "1. 通过", "2. 不通过", "3. 下一个"], ["待审2号"],
     "coordinator.review"),
    ("review approve", two_pending, [say("审核"), n(1)], ["已通过：待审1号", "共1个", "待审2号"], [],
     "coordinator.review"),
    ("review decline", two_pending, [say("审核"), n(2)], ["已不通过：待审1号", "待审2号"], [],
     "coordinator.review"),
    ("review next", two_pending, [say("审核"), n(3)], ["待审2号", "共2个"], ["待审1号"], "coordinator.review"),
    ("review next wraps", two_pending, [say("审核"), n(3), n(3)], ["待审1号"], [], "coordinator.review"),
    ("review all done", two_pending, [say("审核"), n(1), say("通过")], ["已通过：待审2号", "都审核完了"], [],
     "help.menu"),
    ("review 0 is the menu", two_pending, [say("审核"), ("0", P("menu"))], ["1. 找活动"], ["已通过"],
     "help.menu"),
    ("notice preview", nothing, [say(f"通知 {TEAM}：{NOTICE}")],
     [f"要发给{TEAM}的", "位队员", NOTICE, "1. 发送", "2. 不发了"], [], "coordinator.notice"),
    ("notice by short name", nothing, [say(f"通知 阳光社区：{NOTICE}")], [f"要发给{TEAM}的"], [],
     "coordinator.notice"),
    ("notice without a name (one team)", nothing, [say(f"通知：{NOTICE}")], [f"要发给{TEAM}的"], [],
     "coordinator.notice"),
    ("notice with 退订 in it", nothing, [say("通知 阳光：不想收通知的请回复退订", "unsubscribe")],
     ["要发给", "回复退订"], ["已退订"], "coordinator.notice"),
    ("notice sent", nothing, [say(f"通知 {TEAM}：{NOTICE}"), n(1)], ["交给系统发送", TEAM], [], None),
    ("notice not sent", nothing, [say(f"通知 {TEAM}：{NOTICE}"), n(2)], ["没有发", "1. 找活动"], [], "help.menu"),
    ("notice unknown team", nothing, [say(f"通知 火星队：{NOTICE}")], ["没找到“火星队”", TEAM], ["要发给"], None),
    ("notice without text", nothing, [say("通知 明天集合")], ["请这样发", "通知 队名：内容"], [], None),
    ("notice too long", nothing, [say("通知 阳光：" + "很" * 501)], ["不超过500个字"], [], None),
]


@pytest.mark.parametrize("setup,messages,facts,absent,at", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_coordinator_command(li: Chat, setup: Setup, messages: list[Msg], facts: list[str], absent: list[str],
                             at: str | None) -> None:
    setup(li)
    out = ""
    for m in messages:
        text, parse = m(li) if callable(m) else m
        out = li.send(text, parse)
        assert out.strip(), f"empty reply to {text}"
        assert len(out) <= 300, out
    for fact in facts:
        assert fact in out, f"{fact!r} not in:\n{out}"
    for fact in absent:
        assert fact not in out, f"{fact!r} in:\n{out}"
    assert li.at == at, out
    assert not li.volunteer.notices_opt_out


def test_review_decisions_reach_the_data_and_the_hooks(li: Chat) -> None:
    first, second = pending(li)
    li.send("审核", P("nlu_fallback"))
    li.send(*n(1))
    li.send(*n(2))
    li.session.refresh(first)
    li.session.refresh(second)
    assert first.status == SignupStatus.CONFIRMED and second.status == SignupStatus.CANCELLED
    coord = coordinator(li.session)
    assert first.reviewed_by == coord.id and second.reviewed_by == coord.id
    outcomes = {e.signup_id: e.outcome for e in li.session.scalars(select(ReviewEscalation).where(
        ReviewEscalation.signup_id.in_([first.id, second.id])))}
    assert outcomes == {first.id: "approved", second.id: "declined"}
    assert li.hooks.named("signup_reviewed") == [(first.id, True), (second.id, False)]
    assert not li.hooks.named("waitlist_promoted")


def test_decline_promotes_the_waitlist(li: Chat) -> None:
    """书法课 is full with two waiting: declining a place moves the first waiting person up (hook called)."""
    act = activity(li.session, "老年大学书法课助教")
    act.needs_review = True
    held = li.session.scalars(select(Signup).where(Signup.activity_id == act.id,
                                                   Signup.status == SignupStatus.CONFIRMED)).first()
    first_waiting = li.session.scalars(select(Signup).where(
        Signup.activity_id == act.id, Signup.status == SignupStatus.WAITLISTED)
        .order_by(Signup.created_at, Signup.id)).first()
    assert held is not None and first_waiting is not None
    held.status = SignupStatus.PENDING
    li.session.flush()
    out = li.send("审核", P("nlu_fallback"))
    assert "书法课" in out
    out = li.send(*n(2))
    assert "已不通过" in out and "候补的1人补上了空位" in out
    assert li.hooks.named("waitlist_promoted") == [([first_waiting.id],)]
    li.session.refresh(first_waiting)
    assert first_waiting.status == SignupStatus.PENDING  # the activity needs review: now waits for it
    assert "审核" in li.send("审核", P("nlu_fallback"))


def test_notice_hook_gets_the_team_and_text(li: Chat) -> None:
    team = li.session.scalars(select(Team).where(Team.name == TEAM)).one()
    out = li.send(f"通知 {TEAM}：{NOTICE}", P("nlu_fallback"))
    assert "要发给" in out
    out = li.send(*n(1))
    assert li.hooks.named("send_team_notice") == [(coordinator(li.session).id, team.id, NOTICE)]


def test_roster_pages_fit_sms(li: Chat) -> None:
    li.channel = "sms"
    act = activity(li.session, "社区义诊·免费量血压")
    names = {s.volunteer.name for s in li.session.scalars(select(Signup).where(
        Signup.activity_id == act.id, Signup.status.in_([SignupStatus.CONFIRMED, SignupStatus.WAITLISTED])))}
    assert len(names) == 10
    seen = ""
    out = li.send("名单 量血压", P("nlu_fallback"))
    pages = 1
    while True:
        assert len(out) <= 140, out
        seen += out
        if li.at != "coordinator.roster":
            break
        assert "更多" in out
        out = li.send("更多", P("more"))
        pages += 1
        assert pages < 12
    assert pages >= 3 and "就这些" in out
    assert all(name in seen for name in names)
    assert "候补1" in seen and "候补2" in seen


def test_non_coordinators_get_the_usual_answers(zhang: Chat) -> None:
    out = zhang.send("名单 送棉衣", P("nlu_fallback"))
    assert "没听明白" in out
    out = zhang.send("审核", P("nlu_fallback"))
    assert "还是没明白" in out
    zhang.send("0", P("menu"))
    out = zhang.send(f"通知 {TEAM}：{NOTICE}", P("nlu_fallback"))
    assert "要发给" not in out and "没听明白" in out
    assert not zhang.hooks.calls


def test_unlinked_coordinator_loses_the_commands(li: Chat) -> None:
    li.send(f"通知 {TEAM}：{NOTICE}", P("nlu_fallback"))
    coordinator(li.session).volunteer_id = None
    li.session.flush()
    out = li.send(*n(1))
    assert "没有负责的队伍" in out
    assert not li.hooks.named("send_team_notice")
