"""The region's picture for the operator and team leaders: volunteers, active volunteers, teams by kind,
activities and hours by category, county and month, sign-up-to-attendance rate, review time.

Every query is a plain SQLAlchemy 2.0 `select()` that runs the same on SQLite and PostgreSQL. Months and
counties are grouped in Python (a month is a local Asia/Shanghai month; date functions differ between the
databases), from one row per activity, which stays small (thousands of rows for a whole region).

Scope: `team_ids=None` is the whole region (the operator); otherwise only those teams' activities, and as
volunteers the teams' members plus anyone who signed up for the teams' activities.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, func, literal, or_, select, union
from sqlalchemy.orm import Session

from .models import (
    TEAM_KIND_NAMES,
    Activity,
    ActivityStatus,
    Place,
    PlaceLevel,
    ServiceRecord,
    Signup,
    SignupStatus,
    Team,
    TeamKind,
    TeamMember,
    Volunteer,
)
from .models_push import ReviewEscalation
from .timeutil import to_local

_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])  # any select over activities keeps its row type when scoped

ACTIVE_DAYS = 90
COUNTED_ACTIVITIES = (ActivityStatus.PUBLISHED, ActivityStatus.FINISHED)  # not drafts, not cancelled
HELD_PLACE = (SignupStatus.CONFIRMED, SignupStatus.ATTENDED, SignupStatus.NO_SHOW)
NO_PLACE = "未填地点"

Cell = str | int


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    headers: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    note: str = ""


@dataclass
class RegionStats:
    volunteers: int
    active: int
    tables: list[Table] = field(default_factory=list)

    def table(self, key: str) -> Table | None:
        return next((t for t in self.tables if t.key == key), None)


@dataclass
class _Agg:
    activities: int = 0
    attended: int = 0
    hours: Decimal = Decimal(0)

    def add(self, attended: int, hours: Decimal) -> None:
        self.activities += 1
        self.attended += attended
        self.hours += hours

    def row(self, label: str) -> tuple[Cell, ...]:
        return (label, self.activities, self.attended, fmt_hours(self.hours))


def fmt_hours(h: Decimal | float) -> str:
    return f"{Decimal(h):.1f}"


def fmt_rate(num: int, den: int) -> str:
    return f"{100 * num / den:.1f}%" if den else "—"


def _scoped(stmt: _S, team_ids: Sequence[int] | None) -> _S:
    return stmt if team_ids is None else stmt.where(Activity.team_id.in_(list(team_ids)))


def _team_names(session: Session, team_ids: Sequence[int] | None) -> list[str]:
    stmt = select(Team.name).order_by(Team.name)
    return list(session.scalars(stmt if team_ids is None else stmt.where(Team.id.in_(list(team_ids)))))


# -- volunteers -------------------------------------------------------------------------------------------


def count_volunteers(session: Session, team_ids: Sequence[int] | None) -> int:
    if team_ids is None:
        return int(session.scalar(select(func.count()).select_from(Volunteer)
                                  .where(Volunteer.deleted_at.is_(None))) or 0)
    ids = union(
        select(TeamMember.volunteer_id.label("vid")).where(TeamMember.team_id.in_(list(team_ids))),
        _scoped(select(Signup.volunteer_id.label("vid")).join(Activity, Activity.id == Signup.activity_id), team_ids),
    ).subquery()
    return int(session.scalar(select(func.count(func.distinct(Volunteer.id))).join(ids, ids.c.vid == Volunteer.id)
                              .where(Volunteer.deleted_at.is_(None))) or 0)


def count_active(session: Session, team_ids: Sequence[int] | None, now: datetime, days: int = ACTIVE_DAYS) -> int:
    """Volunteers with a sign-up (created) or a service record (served) in the last `days` days."""
    since = now - timedelta(days=days)
    signed = _scoped(select(Signup.volunteer_id.label("vid")).join(Activity, Activity.id == Signup.activity_id)
                     .where(Signup.created_at >= since), team_ids)
    served = select(ServiceRecord.volunteer_id.label("vid")).where(ServiceRecord.service_date >= since,
                                                                   ServiceRecord.volunteer_id.is_not(None))
    if team_ids is not None:
        served = served.join(Activity, Activity.id == ServiceRecord.activity_id).where(
            Activity.team_id.in_(list(team_ids)))
    ids = union(signed, served).subquery()
    return int(session.scalar(select(func.count(func.distinct(Volunteer.id))).join(ids, ids.c.vid == Volunteer.id)
                              .where(Volunteer.deleted_at.is_(None))) or 0)


# -- teams, activities, hours -----------------------------------------------------------------------------


def teams_by_kind(session: Session, team_ids: Sequence[int] | None) -> Table:
    stmt = select(Team.kind, func.count()).group_by(Team.kind)
    if team_ids is not None:
        stmt = stmt.where(Team.id.in_(list(team_ids)))
    counts = {TeamKind(k): int(n) for k, n in session.execute(stmt)}
    rows: list[tuple[Cell, ...]] = [(TEAM_KIND_NAMES[k], counts[k]) for k in TeamKind if counts.get(k)]
    rows.append(("合计", sum(counts.values())))
    return Table("teams", "队伍（按类型）", ("队伍类型", "队伍数"), rows)


def activity_rows(session: Session, team_ids: Sequence[int] | None) -> list[tuple[str, int | None, datetime, int,
                                                                                   Decimal]]:
    """One row per counted activity: category, place, start (UTC), attended sign-ups, recorded hours."""
    hours = (select(ServiceRecord.activity_id.label("aid"), func.sum(ServiceRecord.hours).label("h"))
             .where(ServiceRecord.activity_id.is_not(None)).group_by(ServiceRecord.activity_id).subquery())
    came = (select(Signup.activity_id.label("aid"), func.count().label("n"))
            .where(Signup.status == SignupStatus.ATTENDED).group_by(Signup.activity_id).subquery())
    stmt = _scoped(
        select(Activity.category, Activity.place_id, Activity.starts_at, func.coalesce(came.c.n, 0),
               func.coalesce(hours.c.h, literal(0)))
        .outerjoin(hours, hours.c.aid == Activity.id).outerjoin(came, came.c.aid == Activity.id)
        .where(Activity.status.in_(COUNTED_ACTIVITIES)).order_by(Activity.starts_at), team_ids)
    return [(cat, place, start, int(n), Decimal(str(h or 0))) for cat, place, start, n, h in session.execute(stmt)]


def county_names(session: Session) -> dict[int, str]:
    """Place id → the name of its county-level (旗/县/区) ancestor, or the place itself above that level."""
    places = {p.id: (p.name, p.level, p.path) for p in session.scalars(select(Place))}
    out: dict[int, str] = {}
    for pid, (name, level, path) in places.items():
        label = name + ("（市级）" if level == PlaceLevel.PREFECTURE else "")
        for part in path.strip("/").split("/"):
            if part.isdigit() and int(part) in places and places[int(part)][1] == PlaceLevel.COUNTY:
                label = places[int(part)][0]
                break
        out[pid] = label
    return out


_AGG_HEADERS = ("活动数", "参与人次", "服务时长（小时）")


def by_category_place_month(session: Session, team_ids: Sequence[int] | None) -> list[Table]:
    rows = activity_rows(session, team_ids)
    counties = county_names(session)
    cats: dict[str, _Agg] = defaultdict(_Agg)
    places: dict[str, _Agg] = defaultdict(_Agg)
    months: dict[str, _Agg] = defaultdict(_Agg)
    total = _Agg()
    for cat, place_id, start, attended, hours in rows:
        cats[cat].add(attended, hours)
        places[counties.get(place_id, NO_PLACE) if place_id else NO_PLACE].add(attended, hours)
        months[to_local(start).strftime("%Y-%m")].add(attended, hours)
        total.add(attended, hours)
    note = "只计已发布和已结束的活动；时长是已录入的服务记录。"

    def ordered(groups: dict[str, _Agg], by_size: bool) -> list[tuple[Cell, ...]]:
        keys = sorted(groups, key=lambda k: (-groups[k].hours, -groups[k].activities, k)) if by_size \
            else sorted(groups)
        return [groups[k].row(k) for k in keys] + [total.row("合计")]

    return [
        Table("category", "活动和时长（按服务类别）", ("服务类别", *_AGG_HEADERS), ordered(cats, True), note),
        Table("place", "活动和时长（按旗县区）", ("旗县区", *_AGG_HEADERS), ordered(places, True), note),
        Table("month", "活动和时长（按月）", ("月份", *_AGG_HEADERS), ordered(months, False), note),
    ]


def active_by_month(session: Session, team_ids: Sequence[int] | None) -> Table:
    """Volunteers per local month who made a sign-up or have a service record in that month (the two signs
    `count_active` uses), each counted once a month. No total row: a person active in two months is one
    person, so the months do not add up."""
    signed = _scoped(select(Signup.volunteer_id, Signup.created_at).join(Activity, Activity.id == Signup.activity_id)
                     .join(Volunteer, Volunteer.id == Signup.volunteer_id)
                     .where(Volunteer.deleted_at.is_(None)), team_ids)
    served = (select(ServiceRecord.volunteer_id, ServiceRecord.service_date)
              .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id).where(Volunteer.deleted_at.is_(None)))
    if team_ids is not None:
        served = served.join(Activity, Activity.id == ServiceRecord.activity_id).where(
            Activity.team_id.in_(list(team_ids)))
    months: dict[str, set[int]] = defaultdict(set)
    for stmt in (signed, served):
        for vid, when in session.execute(stmt):
            if vid is not None and when is not None:
                months[to_local(when).strftime("%Y-%m")].add(int(vid))
    rows: list[tuple[Cell, ...]] = [(m, len(months[m])) for m in sorted(months)]
    return Table("active_month", "活跃志愿者（按月）", ("月份", "活跃志愿者（人）"), rows,
                 "当月报名过或有服务记录的志愿者，每人每月只算一次；各月不能相加。")


# -- attendance and review ---------------------------------------------------------------------------------


def attendance(session: Session, team_ids: Sequence[int] | None, now: datetime) -> Table:
    """Of the places held on activities that have ended (confirmed, attended, no-show), the share attended."""
    stmt = _scoped(
        select(Team.name, Signup.status, func.count())
        .join(Activity, Activity.id == Signup.activity_id).join(Team, Team.id == Activity.team_id)
        .where(Activity.ends_at <= now, Activity.status.in_(COUNTED_ACTIVITIES), Signup.status.in_(HELD_PLACE))
        .group_by(Team.name, Signup.status), team_ids)
    held: dict[str, int] = defaultdict(int)
    came: dict[str, int] = defaultdict(int)
    for team, status, n in session.execute(stmt):
        held[team] += int(n)
        if SignupStatus(status) == SignupStatus.ATTENDED:
            came[team] += int(n)
    rows: list[tuple[Cell, ...]] = [(t, held[t], came[t], fmt_rate(came[t], held[t]))
                                    for t in _team_names(session, team_ids)]
    rows.append(("合计", sum(held.values()), sum(came.values()), fmt_rate(sum(came.values()), sum(held.values()))))
    return Table("attendance", "报名到场率（已结束的活动）", ("队伍", "报名确认人次", "到场人次", "到场率"), rows,
                 "报名确认人次含已确认、已到场和未到场；取消的不算。")


def review_times(session: Session, team_ids: Sequence[int] | None) -> Table:
    """Hours from sign-up to the review decision: the escalation ladder's decision time, or for sign-ups
    reviewed by a coordinator without one, the confirmation time."""
    stmt = _scoped(
        select(Team.name, Signup.created_at, Signup.confirmed_at, ReviewEscalation.decided_at, ReviewEscalation.outcome)
        .join(Activity, Activity.id == Signup.activity_id).join(Team, Team.id == Activity.team_id)
        .outerjoin(ReviewEscalation, ReviewEscalation.signup_id == Signup.id)
        .where(or_(ReviewEscalation.decided_at.is_not(None),
                   Signup.reviewed_by.is_not(None) & Signup.confirmed_at.is_not(None))), team_ids)
    seconds: dict[str, list[float]] = defaultdict(list)
    auto: dict[str, int] = defaultdict(int)
    for team, created, confirmed, decided, outcome in session.execute(stmt):
        end = decided or confirmed
        if end is None or created is None:
            continue
        seconds[team].append(max(0.0, (end - created).total_seconds()))
        auto[team] += outcome == "auto_confirmed"

    def avg(values: list[float]) -> str:
        return f"{sum(values) / len(values) / 3600:.1f}" if values else "—"

    rows: list[tuple[Cell, ...]] = [(t, len(seconds[t]), avg(seconds[t]), auto[t])
                                    for t in _team_names(session, team_ids)]
    everything = [x for v in seconds.values() for x in v]
    rows.append(("合计", len(everything), avg(everything), sum(auto.values())))
    return Table("review", "审核用时", ("队伍", "已审核报名", "平均用时（小时）", "其中自动确认"), rows,
                 "从报名到审核结果的时间；超时自动确认的也算在内。")


# -- all together ---------------------------------------------------------------------------------------------


def region_stats(session: Session, team_ids: Sequence[int] | None, now: datetime,
                 active_days: int = ACTIVE_DAYS) -> RegionStats:
    volunteers = count_volunteers(session, team_ids)
    active = count_active(session, team_ids, now, active_days)
    teams = teams_by_kind(session, team_ids)
    activity_tables = by_category_place_month(session, team_ids)
    att = attendance(session, team_ids, now)
    rev = review_times(session, team_ids)
    cat_total, att_total, rev_total = activity_tables[0].rows[-1], att.rows[-1], rev.rows[-1]
    overview = Table("overview", "总览", ("指标", "数值"), [
        ("志愿者", volunteers),
        (f"活跃志愿者（{active_days}天内报名或服务过）", active),
        ("活跃比例", fmt_rate(active, volunteers)),
        ("队伍", teams.rows[-1][1]),
        ("活动", cat_total[1]),
        ("参与人次", cat_total[2]),
        ("服务时长（小时）", cat_total[3]),
        ("报名到场率", att_total[3]),
        ("平均审核用时（小时）", rev_total[2]),
    ])
    return RegionStats(volunteers, active, [overview, teams, *activity_tables, active_by_month(session, team_ids),
                                            att, rev])


def table_csv(table: Table) -> str:
    """UTF-8 with BOM so Excel opens the Chinese headers; formula-looking cells are defused."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(table.headers)
    for row in table.rows:
        w.writerow(["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row])
    return buf.getvalue()
