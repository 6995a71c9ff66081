"""Service records: check-in, hours with the rounding rule, the national record fields (exported by data.exports),
records due within 10 working days, star levels, and answers to activity reminders (1 我会到 / 2 去不了)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Exists, Select, exists, func, select
from sqlalchemy.orm import Session, joinedload

from .errors import InvalidInput, NotFound
from .models import (
    Activity,
    ActivityStatus,
    ServiceRecord,
    Signup,
    SignupStatus,
    Team,
    TeamCoordinator,
    Volunteer,
)
from .models_push import Attendance, Delivery, DeliveryStatus, Notice, StarLevel
from .services import CancelResult, cancel_signup
from .timeutil import to_local

DEFAULT_STEPS: tuple[tuple[float, float], ...] = ((15, 0.0), (45, 0.5), (60, 1.0))
RECORD_FIELDS = (
    "志愿者姓名", "性别", "联系电话", "活动名称", "服务类别", "服务日期", "开始时间", "结束时间",
    "服务地点", "服务内容", "服务时长（小时）", "组织单位", "活动负责人", "记录人", "记录日期",
)


# -- hours ---------------------------------------------------------------------------------------------


def round_hours(minutes: int, steps: Sequence[Sequence[float]] = DEFAULT_STEPS) -> Decimal:
    """Whole hours count fully; the minutes of the last started hour map through `steps`.

    With the default steps: 10 min → 0, 30 min → 0.5, 50 min → 1, 2 h 20 min → 2.5.
    """
    if minutes < 0:
        raise InvalidInput("时长不能是负数")
    whole, rest = divmod(int(minutes), 60)
    extra = 0.0
    if rest:
        for up_to, hours in sorted((float(a), float(b)) for a, b in steps):
            if rest <= up_to:
                extra = hours
                break
        else:
            extra = 1.0
    return (Decimal(whole) + Decimal(str(extra))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_duration(text: str) -> int:
    """Minutes from what a coordinator types: `90`, `1:30`, `1.5h`, `2小时`, `1小时20分`."""
    s = text.strip().lower().replace("：", ":").replace(" ", "")
    if not s:
        raise InvalidInput("请填写时长")
    try:
        if ":" in s:
            h, m = s.split(":", 1)
            return int(h or 0) * 60 + int(m or 0)
        if "小时" in s:
            h, _, rest = s.partition("小时")
            m = rest.replace("分钟", "").replace("分", "") or "0"
            return int(round(float(h) * 60)) + int(m)
        if s.endswith("h"):
            return int(round(float(s[:-1]) * 60))
        return int(s.replace("分钟", "").replace("分", ""))
    except ValueError as exc:
        raise InvalidInput("时长看不懂，请写分钟数，例如 90，或 1:30") from exc


def scheduled_minutes(act: Activity) -> int:
    return int((act.ends_at - act.starts_at) / timedelta(minutes=1))


# -- check-in and hours ----------------------------------------------------------------------------------


def roster(session: Session, activity_id: int) -> list[tuple[Signup, Attendance | None]]:
    """Everyone who holds or held a place, with their attendance, by name."""
    rows = session.execute(
        select(Signup, Attendance).outerjoin(Attendance, Attendance.signup_id == Signup.id)
        .options(joinedload(Signup.volunteer))
        .where(Signup.activity_id == activity_id, Signup.status.in_(
            [SignupStatus.CONFIRMED, SignupStatus.PENDING, SignupStatus.ATTENDED, SignupStatus.NO_SHOW,
             SignupStatus.WAITLISTED]))
        .order_by(Signup.status, Signup.created_at)).all()
    return [(s, a) for s, a in rows]


def find_by_last4(session: Session, activity_id: int, last4: str) -> list[Signup]:
    """Sign-ups of the activity whose phone ends with these four digits (the masked phone keeps them)."""
    digits = "".join(ch for ch in last4 if ch.isdigit())
    if len(digits) != 4:
        raise InvalidInput("请输入手机号的后四位数字")
    return list(session.scalars(
        select(Signup).join(Volunteer, Volunteer.id == Signup.volunteer_id)
        .where(Signup.activity_id == activity_id, Volunteer.phone_masked.like(f"%{digits}"),
               Signup.status.in_([SignupStatus.CONFIRMED, SignupStatus.PENDING, SignupStatus.ATTENDED,
                                  SignupStatus.NO_SHOW]))))


def check_in(session: Session, signup: Signup, coordinator_id: int | None, now: datetime) -> Attendance:
    att = session.get(Attendance, signup.id) or Attendance(signup_id=signup.id)
    if att.checked_in_at is None:
        att.checked_in_at = now
        att.checked_in_by = coordinator_id
    signup.status = SignupStatus.ATTENDED
    signup.updated_at = now
    session.add(att)
    session.flush()
    return att


def record_hours(session: Session, signup: Signup, minutes: int, *, recorded_by: str, now: datetime,
                 steps: Sequence[Sequence[float]] = DEFAULT_STEPS, coordinator_id: int | None = None) -> ServiceRecord:
    """Enter (or correct) the hours of one participant: attendance + the service record line."""
    act = session.get(Activity, signup.activity_id)
    if act is None:
        raise NotFound(f"activity {signup.activity_id}")
    if minutes > 24 * 60:
        raise InvalidInput("一次服务不能超过24小时")
    hours = round_hours(minutes, steps)
    att = check_in(session, signup, coordinator_id, now)
    att.minutes, att.hours = minutes, hours
    team = session.get(Team, act.team_id)
    rec = session.get(ServiceRecord, att.record_id) if att.record_id else None
    if rec is None:
        place = act.place.name if act.place else ""
        rec = ServiceRecord(
            volunteer_id=signup.volunteer_id, activity_id=act.id, activity_name=act.title,
            service_date=act.starts_at, place_text=f"{place}{('，' + act.address) if act.address else ''}" or "—",
            content=(act.description or act.title)[:2000], hours=hours, organiser=team.name if team else "",
            person_in_charge=act.contact_name or "", recorded_by=recorded_by, recorded_at=now)
        session.add(rec)
        session.flush()
        att.record_id = rec.id
    else:
        rec.hours, rec.recorded_by, rec.recorded_at = hours, recorded_by, now
    session.flush()
    return rec


def mark_no_show(session: Session, signup: Signup, now: datetime) -> None:
    signup.status = SignupStatus.NO_SHOW
    signup.updated_at = now
    session.flush()


# -- due within 10 working days -------------------------------------------------------------------------


def add_working_days(day: date, n: int) -> date:
    """`n` working days after `day`, with China's adjusted holidays (chinese-calendar); weekends otherwise."""
    try:
        import chinese_calendar

        current = day
        count = 0
        while count < n:
            current += timedelta(days=1)
            try:
                workday = chinese_calendar.is_workday(current)
            except NotImplementedError:  # years the package does not know yet
                workday = current.weekday() < 5
            if workday:
                count += 1
        return current
    except ImportError:  # pragma: no cover - the package is a dependency
        current, count = day, 0
        while count < n:
            current += timedelta(days=1)
            if current.weekday() < 5:
                count += 1
        return current


def working_days_between(start: date, end: date) -> int:
    """Working days in (start, end]; negative when end is before start."""
    if end < start:
        return -working_days_between(end, start)
    n, d = 0, start
    while d < end:
        d += timedelta(days=1)
        try:
            import chinese_calendar

            if chinese_calendar.is_workday(d):
                n += 1
        except (ImportError, NotImplementedError):
            if d.weekday() < 5:
                n += 1
    return n


@dataclass
class DueRecord:
    activity: Activity
    due: date
    days_left: int  # working days; 0 or less = overdue
    participants: int


def records_due(session: Session, now: datetime, team_ids: Iterable[int] | None = None,
                working_days: int = 10, lookback_days: int = 60) -> list[DueRecord]:
    """Ended activities whose participants have no service record yet, with their due dates."""
    today = to_local(now).date()
    has_record = exists().where(ServiceRecord.activity_id == Activity.id)
    stmt = (select(Activity).options(joinedload(Activity.place))
            .where(Activity.ends_at < now, Activity.ends_at > now - timedelta(days=lookback_days),
                   Activity.status.in_([ActivityStatus.PUBLISHED, ActivityStatus.FINISHED]), ~has_record)
            .order_by(Activity.ends_at))
    if team_ids is not None:
        stmt = stmt.where(Activity.team_id.in_(list(team_ids)))
    out: list[DueRecord] = []
    for act in session.scalars(stmt).unique():
        n = int(session.scalar(select(func.count()).select_from(Signup).where(
            Signup.activity_id == act.id,
            Signup.status.in_([SignupStatus.CONFIRMED, SignupStatus.ATTENDED]))) or 0)
        if not n:
            continue
        due = add_working_days(to_local(act.ends_at).date(), working_days)
        out.append(DueRecord(act, due, working_days_between(today, due), n))
    return out


# -- star levels ------------------------------------------------------------------------------------------


def star_level(hours: Decimal | float, thresholds: Sequence[int]) -> int:
    """0 below the first threshold, 1..len(thresholds) above each one."""
    return sum(1 for t in sorted(thresholds) if Decimal(str(hours)) >= Decimal(t))


def total_hours(session: Session, volunteer_id: int) -> Decimal:
    value = session.scalar(select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.volunteer_id == volunteer_id))
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def update_star(session: Session, volunteer_id: int, now: datetime, thresholds: Sequence[int]) -> int | None:
    """Record a newly reached star level; returns it when it went up (send a thank-you), else None."""
    hours = total_hours(session, volunteer_id)
    level = star_level(hours, thresholds)
    row = session.get(StarLevel, volunteer_id)
    if row is None:
        row = StarLevel(volunteer_id=volunteer_id, level=0, hours=Decimal(0), reached_at=now)
        session.add(row)
    row.hours = hours
    if level > row.level:
        row.level, row.reached_at = level, now
        session.flush()
        return level
    session.flush()
    return None


# -- reminder answers (the dialogs call these when a reminded volunteer replies 1 or 2) -------------------


REMINDER_ANSWER_WINDOW = timedelta(hours=30)  # a reminder can be answered this long after it went out


@dataclass
class PendingReminder:
    delivery: Delivery
    signup: Signup
    activity: Activity


def _pending(volunteer_id: Any, now: Any, since: Any) -> Select[Delivery, Activity, Signup]:
    """Unanswered activity reminders sent to the volunteer (an id, or a column of an outer query) since
    `since`, for an activity still ahead that they are confirmed for: with the activity and the sign-up.
    `now` and `since` are datetimes or bound parameters (a statement built once)."""
    return (
        select(Delivery, Activity, Signup)
        .join(Notice, Notice.id == Delivery.notice_id)
        .join(Activity, Activity.id == Notice.activity_id)
        .join(Signup, (Signup.activity_id == Activity.id) & (Signup.volunteer_id == volunteer_id)
              & (Signup.status == SignupStatus.CONFIRMED))
        .where(Delivery.volunteer_id == volunteer_id, Notice.kind.in_(["reminder_day", "reminder_2h"]),
               Delivery.status.in_([DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN]), Delivery.answer.is_(None),
               Delivery.updated_at > since, Activity.starts_at > now))


def pending_reminder(session: Session, volunteer_id: int, now: datetime,
                     within: timedelta = REMINDER_ANSWER_WINDOW) -> PendingReminder | None:
    """The latest unanswered activity reminder sent to this volunteer for a sign-up still confirmed, with the
    activity and the sign-up, read in one query."""
    row = session.execute(_pending(volunteer_id, now, now - within)
                          .order_by(Delivery.updated_at.desc(), Delivery.id.desc()).limit(1)).first()
    if row is None:
        return None
    delivery, act, signup = row
    return PendingReminder(delivery, signup, act)


def reminder_waiting(volunteer_id: Any, now: Any, since: Any = None) -> Exists:
    """Whether `pending_reminder` would find one, as an EXISTS to put into another query (the pipeline's
    who-is-it query, for a message that may answer a reminder): a `1` with nothing waiting costs no query.
    `since` defaults to `now - REMINDER_ANSWER_WINDOW` (give both as bound parameters in a prepared statement)."""
    return _pending(volunteer_id, now, now - REMINDER_ANSWER_WINDOW if since is None else since).exists()


def answer_reminder(session: Session, pending: PendingReminder, answer: str, now: datetime) -> CancelResult | None:
    """`1` records 我会到; `2` (after the dialog confirmed it) cancels and promotes the waitlist.

    Returns the cancel result for `2` so the caller can hand `promoted` to hooks.waitlist_promoted.
    """
    if answer not in ("1", "2"):
        raise InvalidInput("reminder answer must be 1 or 2")
    pending.delivery.answer, pending.delivery.answered_at = answer, now
    session.flush()
    if answer == "1":
        return None
    return cancel_signup(session, signup_id=pending.signup.id, volunteer_id=pending.signup.volunteer_id, now=now)


def coordinator_team_ids(session: Session, coordinator_id: int) -> list[int]:
    return list(session.scalars(select(TeamCoordinator.team_id).where(
        TeamCoordinator.coordinator_id == coordinator_id)))
