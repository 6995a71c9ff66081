"""Scheduled work: activity reminders, review escalation, records-due reminders, thank-yous, monthly summary.

`tick(push, now)` is idempotent (every notice has a key or a bookkeeping row), so it can run every minute
on any number of hosts: the worker command runs it under a lock, `python -m bot reminders run` runs it once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import joinedload

from data.models import (
    Activity,
    ActivityStatus,
    ServiceRecord,
    Signup,
    SignupStatus,
    Team,
    TeamCoordinator,
    Volunteer,
)
from data.models_push import Delivery, Notice, NoticeStatus, ReviewEscalation
from data.records import records_due, update_star
from data.timeutil import LOCAL, to_local, to_utc

from . import texts
from .service import PushService

log = logging.getLogger("yinling.reminders")


def tick(push: PushService, now: datetime) -> dict[str, int]:
    """Run every scheduled duty once; returns how many notices each created."""
    out: dict[str, int] = {}
    for name, fn in (("reminders", send_reminders), ("reviews", escalate_reviews),
                     ("records_due", remind_records_due), ("monthly", monthly_summary),
                     ("retention", retention)):
        try:
            out[name] = fn(push, now)
        except Exception:  # noqa: BLE001 - one failing duty must not stop the others
            log.exception("scheduled duty %s failed", name)
            out[name] = -1
    return out


def retention(push: PushService, now: datetime) -> int:
    """保存两年 (the privacy notice): forget volunteers inactive for two years, delete old conversation
    lines. At most once an hour per deployment; returns how many volunteers were forgotten."""
    from data.profiles import enforce_retention

    if not push.rt.store.set_nx("privacy:retention", str(now), 3600):
        return 0
    with push.rt.sessions() as s:
        done = enforce_retention(s, now)
        s.commit()
    if any(done.values()):
        log.info("retention: forgot %(volunteers)d volunteers, deleted %(messages)d messages and %(codes)d codes",
                 done)
    return done["volunteers"]


def _confirmed(session: Any, activity_id: int) -> int:
    return int(session.scalar(select(func.count()).select_from(Signup).where(
        Signup.activity_id == activity_id, Signup.status == SignupStatus.CONFIRMED)) or 0)


def send_reminders(push: PushService, now: datetime) -> int:
    """The day before (at the configured local hour) and two hours before, to confirmed sign-ups."""
    cfg = push.rt.config.push
    before = timedelta(hours=cfg.reminder_hours_before)
    local = to_local(now)
    kicks: list[int] = []
    with push.rt.sessions() as s:
        due: list[tuple[Activity, bool]] = []
        soon = s.scalars(select(Activity).options(joinedload(Activity.place)).where(
            Activity.status == ActivityStatus.PUBLISHED, Activity.starts_at > now,
            Activity.starts_at <= now + before)).unique()
        due += [(a, False) for a in soon]
        if local.hour >= cfg.reminder_day_before_hour:
            tomorrow = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            start, end = to_utc(tomorrow), to_utc(tomorrow + timedelta(days=1))
            day = s.scalars(select(Activity).options(joinedload(Activity.place)).where(
                Activity.status == ActivityStatus.PUBLISHED, Activity.starts_at >= start,
                Activity.starts_at < end, Activity.starts_at > now + before)).unique()
            due += [(a, True) for a in day]
        for act, day_before in due:
            if not _confirmed(s, act.id):
                continue
            title, body = texts.reminder(act, day_before)
            kind = "reminder_day" if day_before else "reminder_2h"
            n = push.create(s, title=title, body=body, now=now, kind=kind,
                            key=f"{kind}:{act.id}:{act.starts_at:%Y%m%d%H%M}",
                            audience={"kind": "activity", "activity_id": act.id, "statuses": ["confirmed"]},
                            team_id=act.team_id, activity_id=act.id)
            if n is not None:
                push.queue(s, n, now)
                kicks.append(n.id)
        s.commit()
    push.kick(kicks)
    return len(kicks)


def escalate_reviews(push: PushService, now: datetime) -> int:
    """Pending sign-ups: coordinators at once, the leader after 24 h, confirmed after 48 h (unless the
    activity says otherwise)."""
    cfg = push.rt.config.push
    leader_after = timedelta(hours=cfg.review_leader_after_hours)
    auto_after = timedelta(hours=cfg.review_auto_confirm_after_hours)
    untold: list[int] = []
    kicks: list[int] = []
    with push.rt.sessions() as s:
        rows = s.execute(select(Signup, Activity, ReviewEscalation)
                         .join(Activity, Activity.id == Signup.activity_id)
                         .outerjoin(ReviewEscalation, ReviewEscalation.signup_id == Signup.id)
                         .where(Signup.status == SignupStatus.PENDING, Activity.status == ActivityStatus.PUBLISHED,
                                Activity.starts_at > now)).all()
        by_team: dict[int, list[tuple[Signup, Activity, ReviewEscalation]]] = defaultdict(list)
        for signup, act, esc in rows:
            if esc is None or esc.coordinators_at is None:
                untold.append(signup.id)
                continue
            since = esc.coordinators_at
            if act.auto_confirm and now - since >= auto_after:
                kicks += push.review(s, signup.id, True, None, now, outcome="auto_confirmed")
                continue
            if esc.leader_at is None and now - since >= leader_after:
                by_team[act.team_id].append((signup, act, esc))
        for team_id, items in by_team.items():
            team = s.get(Team, team_id)
            leaders = list(s.scalars(select(TeamCoordinator.coordinator_id).where(
                TeamCoordinator.team_id == team_id, TeamCoordinator.is_leader.is_(True))))
            if team is None or not leaders:
                continue
            lines = [f"{sg.volunteer.name or '志愿者'}报名「{a.title}」" for sg, a, _ in items]
            title, body = texts.review_leader(team, lines)
            n = push.create(s, title=title, body=body, now=now, kind="review_leader",
                            key=f"review-leader:{team_id}:{min(sg.id for sg, _, _ in items)}:{now:%Y%m%d%H%M}",
                            audience={"kind": "coordinators", "ids": leaders}, team_id=team_id, queue="replies")
            for _, _, esc in items:
                esc.leader_at = now
            if n is not None:
                push.queue(s, n, now)
                kicks.append(n.id)
        s.commit()
    push.kick(kicks)
    for sid in untold:
        push.signup_needs_review(sid)
    return len(kicks) + len(untold)


def remind_records_due(push: PushService, now: datetime) -> int:
    """Tell coordinators about records due within 3 working days, and again when overdue."""
    cfg = push.rt.config.push
    kicks: list[int] = []
    with push.rt.sessions() as s:
        for due in records_due(s, now, working_days=cfg.records_due_working_days):
            stage = "overdue" if due.days_left <= 0 else ("soon" if due.days_left <= 3 else None)
            if stage is None:
                continue
            coords = list(s.scalars(select(TeamCoordinator.coordinator_id).where(
                TeamCoordinator.team_id == due.activity.team_id)))
            if not coords:
                continue
            title, body = texts.records_due(due.activity, due.days_left)
            n = push.create(s, title=title, body=body, now=now, kind="records_due",
                            key=f"records-due:{due.activity.id}:{stage}",
                            audience={"kind": "coordinators", "ids": coords}, team_id=due.activity.team_id,
                            activity_id=due.activity.id)
            if n is not None:
                push.queue(s, n, now)
                kicks.append(n.id)
        s.commit()
    push.kick(kicks)
    return len(kicks)


def thank_if_star_up(push: PushService, session: Any, volunteer_id: int, now: datetime) -> int | None:
    """After hours are recorded: a short thank-you (嘉许) when the volunteer reaches a new star level.

    Runs in the caller's transaction; returns the notice id to kick after the commit.
    """
    level = update_star(session, volunteer_id, now, push.rt.config.recognition.star_thresholds)
    if level is None:
        return None
    total = session.scalar(select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.volunteer_id == volunteer_id))
    title, body = texts.thanks(level, f"{Decimal(str(total or 0)):.1f}".rstrip("0").rstrip("."))
    n = push.create(session, title=title, body=body, now=now, kind="thanks", key=f"star:{volunteer_id}:{level}",
                    audience={"kind": "volunteers", "ids": [volunteer_id]})
    if n is None:
        return None
    push.queue(session, n, now)
    return n.id


def monthly_summary(push: PushService, now: datetime) -> int:
    """On the configured day, each volunteer with any record gets last month's hours (opt-out respected)."""
    rc = push.rt.config.recognition
    local = to_local(now)
    if not rc.monthly_summary or local.day != rc.monthly_summary_day or local.hour < 9:
        return 0
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    prev = (first - timedelta(days=1)).replace(day=1)
    start, end = to_utc(prev.replace(tzinfo=LOCAL)), to_utc(first)
    with push.rt.sessions() as s:
        n = push.create(s, title="每月小结", body=f"{prev.month}月志愿服务小结", now=now, kind="monthly",
                        key=f"monthly:{prev:%Y-%m}", audience={"kind": "volunteers", "ids": []})
        if n is None:
            return 0
        month_hours = dict(s.execute(select(ServiceRecord.volunteer_id, func.sum(ServiceRecord.hours)).where(
            ServiceRecord.service_date >= start, ServiceRecord.service_date < end)
            .group_by(ServiceRecord.volunteer_id)).all())
        month_count = dict(s.execute(select(ServiceRecord.volunteer_id, func.count()).where(
            ServiceRecord.service_date >= start, ServiceRecord.service_date < end)
            .group_by(ServiceRecord.volunteer_id)).all())
        totals = s.execute(select(Volunteer.id, Volunteer.name, Volunteer.notices_opt_out,
                                  func.sum(ServiceRecord.hours))
                           .join(ServiceRecord, ServiceRecord.volunteer_id == Volunteer.id)
                           .where(Volunteer.deleted_at.is_(None))
                           .group_by(Volunteer.id, Volunteer.name, Volunteer.notices_opt_out)).all()
        size = push.rt.config.push.batch_size
        rows = []
        for i, (vid, name, opted, total) in enumerate(totals):
            body = texts.monthly(name or "", prev.month, _h(month_hours.get(vid, 0)), int(month_count.get(vid, 0)),
                                 _h(total))
            rows.append({"notice_id": n.id, "volunteer_id": vid, "coordinator_id": None, "batch": i // size,
                         "status": "skipped" if opted else "queued", "reason": "本人已关闭通知" if opted else None,
                         "body": body, "attempts": 0, "updated_at": now})
        for i in range(0, len(rows), 5000):
            s.execute(insert(Delivery.__table__), rows[i : i + 5000])
        n.status, n.queued_at = NoticeStatus.QUEUED, now
        nid = n.id
        s.commit()
    push.kick([nid])
    return 1


def _h(value: Any) -> str:
    d = Decimal(str(value or 0)).quantize(Decimal("0.1"))
    return f"{d}".rstrip("0").rstrip(".") if "." in f"{d}" else f"{d}"


__all__ = ["Notice", "escalate_reviews", "monthly_summary", "remind_records_due", "send_reminders",
           "thank_if_star_up", "tick"]


def overdue_reviews(push: PushService, now: datetime) -> int:
    """Sign-ups still waiting for a coordinator's review `review_leader_after_hours` after the coordinators
    were told (or after the sign-up, before they were): the reviews past their deadline, for /metrics."""
    since = now - timedelta(hours=push.rt.config.push.review_leader_after_hours)
    told = func.coalesce(ReviewEscalation.coordinators_at, Signup.created_at)
    with push.rt.sessions() as s:
        return int(s.scalar(
            select(func.count()).select_from(Signup)
            .join(Activity, Activity.id == Signup.activity_id)
            .outerjoin(ReviewEscalation, ReviewEscalation.signup_id == Signup.id)
            .where(Signup.status == SignupStatus.PENDING, Activity.status == ActivityStatus.PUBLISHED,
                   Activity.starts_at > now, told <= since)) or 0)
