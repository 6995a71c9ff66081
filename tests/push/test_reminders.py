"""Reminders (day before, two hours before, 1/2 answers), review escalation with auto-confirm, records due,
stars and thank-yous, hours rounding and the record export."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.push import PushService
from bot.push.scheduled import escalate_reviews, send_reminders, thank_if_star_up
from data.errors import InvalidInput
from data.models import Coordinator, ServiceRecord, Signup, SignupStatus, TeamCoordinator
from data.models_push import Delivery, Notice, ReviewEscalation
from data.records import (
    add_working_days,
    answer_reminder,
    parse_duration,
    pending_reminder,
    records_due,
    round_hours,
    star_level,
)
from data.timeutil import LOCAL, to_utc
from tests.data.helpers import make_activity
from tests.fakes.push_apis import FakeApis

from .helpers import person


@pytest.mark.parametrize(("minutes", "hours"), [
    (0, "0"), (10, "0"), (15, "0"), (16, "0.5"), (45, "0.5"), (46, "1"), (60, "1"), (100, "1.5"),
    (130, "2"), (135, "2"), (136, "2.5"), (170, "3"),
])
def test_hours_rounding_rule(minutes: int, hours: str) -> None:
    assert round_hours(minutes) == Decimal(hours)


def test_durations_and_working_days_and_stars() -> None:
    assert [parse_duration(x) for x in ("90", "1:30", "1.5h", "2小时", "1小时20分")] == [90, 90, 90, 120, 80]
    with pytest.raises(InvalidInput):
        parse_duration("很久")
    # National Day 2025: 10 working days after Sep 30 skip Oct 1–8 and count the make-up Saturday Oct 11.
    assert add_working_days(date(2025, 9, 30), 10) == date(2025, 10, 21)
    assert [star_level(h, [100, 300, 600, 1000, 1500]) for h in (99, 100, 299.5, 1500)] == [0, 1, 1, 5]


def _pg_or_sqlite_now() -> datetime:
    # 10:00 local on a fixed Wednesday keeps the day-before hour (18:00) and weekends out of the way.
    return to_utc(datetime(2031, 3, 5, 10, 0, tzinfo=LOCAL))


def test_reminders_day_before_and_two_hours_once_each(push: PushService, fake: FakeApis) -> None:
    now = _pg_or_sqlite_now()
    with push.rt.sessions() as s:
        tomorrow = make_activity(s, now, starts_in_h=24, title="明天的活动")
        soon = make_activity(s, now, starts_in_h=1.5, title="马上开始的活动")
        a = person(s, push.rt, now, "甲", openid="oA")
        b = person(s, push.rt, now, "乙", openid="oB")
        for act in (tomorrow, soon):
            for v, status in ((a, SignupStatus.CONFIRMED), (b, SignupStatus.WAITLISTED)):
                s.add(Signup(activity_id=act.id, volunteer_id=v.id, status=status, party_size=1, created_at=now,
                             updated_at=now))
        s.commit()
        tomorrow_id, vid = tomorrow.id, a.id
    assert send_reminders(push, now) == 1  # before 18:00 only the two-hour reminder
    evening = now + timedelta(hours=9)
    assert send_reminders(push, evening) == 1  # the day-before one
    assert send_reminders(push, evening) == 0  # and never again
    push.ctx.clock = lambda: evening
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("template", "oA")] == 2 and ("template", "oB") not in fake.sent
    with push.rt.sessions() as s:
        pending = pending_reminder(s, vid, evening)
        assert pending is not None and pending.activity.id == tomorrow_id
        result = answer_reminder(s, pending, "2", evening)
        assert result is not None and result.signup.status == SignupStatus.CANCELLED
        assert [p.volunteer.name for p in result.promoted] == ["乙"]  # the waitlist moves up
        s.commit()
        assert pending_reminder(s, vid, evening) is None


def test_review_escalates_to_leader_then_auto_confirms(push: PushService, fake: FakeApis) -> None:
    now = _pg_or_sqlite_now()
    with push.rt.sessions() as s:
        act = make_activity(s, now, starts_in_h=24 * 5, needs_review=True)
        strict = make_activity(s, now, starts_in_h=24 * 5, needs_review=True, title="严格审核")
        strict.auto_confirm = False
        v = person(s, push.rt, now, "报名者", openid="oV")
        cv = person(s, push.rt, now, "队长本人", openid="oLeader")
        leader = Coordinator(name="队长", contact_phone="0471-1", volunteer_id=cv.id)
        helper = Coordinator(name="协调员", contact_phone="13900003333")
        s.add_all([leader, helper])
        s.flush()
        s.add_all([TeamCoordinator(team_id=act.team_id, coordinator_id=leader.id, is_leader=True),
                   TeamCoordinator(team_id=act.team_id, coordinator_id=helper.id)])
        ids = []
        for a in (act, strict):
            su = Signup(activity_id=a.id, volunteer_id=v.id, status=SignupStatus.PENDING, party_size=1,
                        created_at=now, updated_at=now)
            s.add(su)
            s.flush()
            ids.append(su.id)
        s.commit()
    clock_now = now
    push.ctx.clock = lambda: clock_now
    escalate_reviews(push, now)  # nobody told yet: coordinators now
    with push.rt.sessions() as s:
        for sid in ids:
            esc = s.get(ReviewEscalation, sid)
            esc.coordinators_at = now  # pin the anchor to the test clock
        s.commit()
    escalate_reviews(push, now + timedelta(hours=23))
    with push.rt.sessions() as s:
        assert s.scalar(select(Notice.id).where(Notice.kind == "review_leader")) is None
    escalate_reviews(push, now + timedelta(hours=25))
    escalate_reviews(push, now + timedelta(hours=26))  # told once
    with push.rt.sessions() as s:
        leader_notices = s.scalars(select(Notice).where(Notice.kind == "review_leader")).all()
        assert len(leader_notices) == 1 and "2个报名" in leader_notices[0].body
    escalate_reviews(push, now + timedelta(hours=49))
    with push.rt.sessions() as s:
        assert s.get(Signup, ids[0]).status == SignupStatus.CONFIRMED
        assert s.get(ReviewEscalation, ids[0]).outcome == "auto_confirmed"
        assert s.get(Signup, ids[1]).status == SignupStatus.PENDING  # this activity wants a person to decide
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("template", "oLeader")] >= 2  # review requests, then the escalation
    assert fake.sent[("template", "oV")] == 1  # 报名已确认


def test_review_escalation_leaves_activities_that_are_over_alone(push: PushService, fake: FakeApis) -> None:
    """A sign-up still pending when its activity is over is not reviewed any more: nobody is asked, the
    leader is not told, nothing is auto-confirmed (a confirmation for yesterday's activity would only confuse)."""
    now = _pg_or_sqlite_now()
    with push.rt.sessions() as s:
        over = make_activity(s, now, starts_in_h=-5, hours=2, needs_review=True, title="已经结束的活动")
        running = make_activity(s, now, starts_in_h=-1, hours=3, needs_review=True, title="正在进行的活动")
        ahead = make_activity(s, now, starts_in_h=24 * 3, needs_review=True, title="还没开始的活动")
        cv = person(s, push.rt, now, "队长", openid="oLead2")
        leader = Coordinator(name="队长", contact_phone="0471-2", volunteer_id=cv.id)
        s.add(leader)
        s.flush()
        if s.get(TeamCoordinator, (over.team_id, leader.id)) is None:
            s.add(TeamCoordinator(team_id=over.team_id, coordinator_id=leader.id, is_leader=True))
        untold: dict[str, int] = {}
        told: dict[str, int] = {}
        for act in (over, running, ahead):
            for bucket in (untold, told):
                v = person(s, push.rt, now, "报名者", openid=f"oP{act.id}{len(bucket)}{id(bucket) % 97}")
                su = Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.PENDING, party_size=1,
                            created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3))
                s.add(su)
                s.flush()
                bucket[act.title] = su.id
        for sid in told.values():  # coordinators were asked three days ago: due for the leader and auto-confirm
            s.add(ReviewEscalation(signup_id=sid, coordinators_at=now - timedelta(days=3)))
        s.commit()
    push.ctx.clock = lambda: now
    escalate_reviews(push, now)
    with push.rt.sessions() as s:
        asked = set(s.scalars(select(ReviewEscalation.signup_id).where(
            ReviewEscalation.signup_id.in_(list(untold.values())), ReviewEscalation.coordinators_at.isnot(None))))
        assert asked == {untold["还没开始的活动"]}  # only the activity still ahead is put to the coordinators
        statuses = {title: s.get(Signup, sid).status for title, sid in told.items()}
        assert statuses == {"已经结束的活动": SignupStatus.PENDING, "正在进行的活动": SignupStatus.PENDING,
                            "还没开始的活动": SignupStatus.CONFIRMED}  # auto-confirmed after 48 h: only ahead
        bodies = " ".join(s.scalars(select(Notice.body).where(Notice.kind.in_(["review", "review_leader"]))))
        assert "已经结束的活动" not in bodies and "正在进行的活动" not in bodies
        outcomes = {sid: s.get(ReviewEscalation, sid).outcome for sid in told.values()}
        assert outcomes[told["已经结束的活动"]] is None and outcomes[told["正在进行的活动"]] is None


def test_records_due_and_thank_you_on_new_star(push: PushService, fake: FakeApis) -> None:
    now = _pg_or_sqlite_now()
    with push.rt.sessions() as s:
        act = make_activity(s, now, starts_in_h=-30, hours=2, title="上周的活动")
        v = person(s, push.rt, now, "老队员", openid="oStar")
        s.add(Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.CONFIRMED, party_size=1,
                     created_at=now, updated_at=now))
        s.flush()
        due = [d for d in records_due(s, now) if d.activity.id == act.id]
        assert len(due) == 1 and due[0].days_left == 9
        s.add(ServiceRecord(volunteer_id=v.id, activity_id=act.id, activity_name=act.title, service_date=act.starts_at,
                            place_text="社区", content="x", hours=Decimal("100"), organiser="队", person_in_charge="王",
                            recorded_by="王", recorded_at=now))
        s.flush()
        assert not [d for d in records_due(s, now) if d.activity.id == act.id]
        nid = thank_if_star_up(push, s, v.id, now)
        assert nid is not None and thank_if_star_up(push, s, v.id, now) is None
        s.commit()
    push.kick([nid])
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    texts = [b for k, b in fake.requests if k == "template" and b["to"] == "oStar"]
    assert len(texts) == 1
    with push.rt.sessions() as s:
        assert s.scalar(select(Delivery.status).where(Delivery.notice_id == nid)).value == "sent"
        assert "1星级" in s.get(Notice, nid).body
