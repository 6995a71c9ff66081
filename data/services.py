"""Domain services: search, sign-up with capacity and waitlist, cancel with promotion, hours.

Services flush but never commit: the caller (one session per inbound message) owns the transaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, func, literal, null, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, joinedload

from .errors import AlreadySignedUp, InvalidInput, NotFound, NotOpen, Overlap
from .models import (
    HOLDS_PLACE,
    LIVE_SIGNUP,
    Activity,
    ActivityStatus,
    Place,
    ServiceRecord,
    Signup,
    SignupStatus,
)
from .timeutil import to_local, to_utc


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def places_taken(session: Session, activity_id: int) -> int:
    """Places held by pending and confirmed sign-ups (party sizes added up)."""
    total = session.scalar(
        select(func.coalesce(func.sum(Signup.party_size), 0)).where(
            Signup.activity_id == activity_id, Signup.status.in_(HOLDS_PLACE)
        )
    )
    return int(total or 0)


def places_taken_many(session: Session, activity_ids: Sequence[int]) -> dict[int, int]:
    """Places held per activity, for a whole page of activities in one query."""
    if not activity_ids:
        return {}
    rows = session.execute(
        select(Signup.activity_id, func.coalesce(func.sum(Signup.party_size), 0))
        .where(Signup.activity_id.in_(list(activity_ids)), Signup.status.in_(HOLDS_PLACE))
        .group_by(Signup.activity_id)
    )
    taken = {int(aid): int(n or 0) for aid, n in rows}
    return {aid: taken.get(aid, 0) for aid in activity_ids}


def places_left(session: Session, activity: Activity) -> int:
    return max(0, activity.capacity - places_taken(session, activity.id))


@dataclass
class Hit:
    """One search result with what a reply needs to repeat: places left and distance."""

    activity: Activity
    places_left: int
    distance_km: float | None = None


@dataclass
class SearchResult:
    """A page of hits and the number of matches.

    Counting stops after COUNT_CAP matches past the page (a whole region has too many to count on
    every message): when `more_than` is set, `total` is a floor and there are more matches than that.
    """

    hits: list[Hit]
    total: int
    more_than: bool = False


COUNT_CAP = 100  # matches counted past the current page before the count stops ("超过100个")
EARTH_KM = 6371.0
KM_PER_DEGREE = math.pi * EARTH_KM / 180
NEAR_RINGS_KM = (2.0, 5.0, 20.0, 80.0)  # nearest first: try these radii before the whole circle or everything
TEXT_WINDOW = 1000  # text search: look for a full page among this many next activities before the index


def _distance_sql(lat: float, lon: float) -> ColumnElement[float]:
    """Great-circle distance from (lat, lon) to the place's coordinates, in SQL (same formula as
    `haversine_km`; a missing longitude counts as 0 as it always has). NULL without a latitude."""
    p1 = math.radians(lat)
    p2 = func.radians(Place.lat)
    dp = (p2 - p1) / 2
    dl = (func.radians(func.coalesce(Place.lon, 0.0)) - math.radians(lon)) / 2
    a = func.power(func.sin(dp), 2) + math.cos(p1) * func.cos(p2) * func.power(func.sin(dl), 2)
    return 2 * EARTH_KM * func.asin(func.sqrt(a))


def _text_match(session: Session, text: str) -> ColumnElement[bool]:
    """Title or description contains `text`. On PostgreSQL every two-character piece of it must be in
    the GIN index of the activity's character pairs first (works for two-character words like 书法,
    which trigrams cannot find); the LIKE then checks the exact string on the few rows left."""
    like = f"%{text}%"
    cond = or_(Activity.title.like(like), Activity.description.like(like))
    if len(text) >= 2 and session.get_bind().dialect.name == "postgresql":
        grams = sorted({text[i : i + 2] for i in range(len(text) - 1)})
        indexed = func.yl_text_grams(Activity.title, Activity.description, type_=ARRAY(Text))
        cond = and_(indexed.contains(grams), cond)
    return cond


def search_activities(
    session: Session,
    *,
    now: datetime,
    time_from: datetime | None = None,
    time_to: datetime | None = None,
    place_id: int | None = None,
    category: str | None = None,
    categories: Sequence[str] | None = None,
    text: str | None = None,
    near: tuple[float, float] | None = None,
    max_km: float | None = None,
    max_load: int | None = None,
    only_open: bool = True,
    offset: int = 0,
    limit: int = 4,
) -> SearchResult:
    """Published activities starting in [time_from, time_to) (UTC naive), filtered and ordered.

    Ordering is by start time, or by distance then start when `near` is given (activities without
    coordinates last; with `max_km` they are left out). `place_id` matches the whole subtree
    (赛罕区 finds every community in it). Everything happens in the database, on indexes: a page
    costs the same with a hundred activities or a hundred thousand.
    """
    start = max(time_from or now, now) if only_open else (time_from or now)
    conds: list[ColumnElement[bool]] = [Activity.starts_at >= start]
    if time_to is not None:
        conds.append(Activity.starts_at < time_to)
    if only_open:
        conds.append(Activity.status == ActivityStatus.PUBLISHED)
    if place_id is not None:
        root = session.get(Place, place_id)  # usually in the session already; a constant prefix plans well
        subtree = select(Place.id).where(Place.path.startswith(root.path if root else "/none/"))
        conds.append(Activity.place_id.in_(subtree.scalar_subquery()))
    if category:
        conds.append(Activity.category == category)
    elif categories:
        conds.append(Activity.category.in_(list(categories)))
    if max_load is not None:
        conds.append(Activity.physical_load <= max_load)
    if text and near is None and session.get_bind().dialect.name == "postgresql":
        # A common word (书法 in one title of thirty) fills the page from the next few hundred activities
        # in time order, much cheaper than fetching every match the index finds; a rare one does not,
        # and then the index decides.
        like = f"%{text}%"
        bound = (select(Activity.starts_at).where(*conds).order_by(Activity.starts_at, Activity.id)
                 .offset(TEXT_WINDOW - 1).limit(1).scalar_subquery())
        first = list(session.scalars(
            select(Activity.id)
            .where(*conds, or_(bound.is_(None), Activity.starts_at <= bound),
                   or_(Activity.title.like(like), Activity.description.like(like)))
            .order_by(Activity.starts_at, Activity.id)
            .limit(offset + limit)
        ))
        if len(first) == offset + limit:
            return _page(session, conds + [_text_match(session, text)], None, offset, limit, page_ids=first[offset:])
    if text:
        conds.append(_text_match(session, text))
    if near is None:
        return _page(session, conds, None, offset, limit)
    # Nearest first: the first pages almost always lie within a few kilometres, and if a ring holds a
    # full page, nothing outside it can come before (its order is the full order). The count is over
    # the whole circle (or everything).
    for km in NEAR_RINGS_KM:
        if max_km is not None and km >= max_km:
            break
        res = _page(session, conds, (near, km), offset, limit, count=False)
        if len(res.hits) == limit:
            whole = _base(conds)
            if max_km is not None:
                whole, _ = _within(whole, near, max_km)
            res.total, res.more_than = _count(session, whole, _cap(offset, limit))
            return res
    return _page(session, conds, (near, max_km), offset, limit)


def _within(stmt: Select[Any], near: tuple[float, float], km: float) -> tuple[Select[Any], ColumnElement[Any]]:
    """Activities at places inside the box around the circle (indexed coordinates), then inside the
    circle itself; with the distance column."""
    lat, lon = near
    dlat = km / KM_PER_DEGREE
    dlon = km / (KM_PER_DEGREE * max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 0.01))
    places = (
        select(Place.id.label("pid"), _distance_sql(lat, lon).label("km"))
        .where(Place.lat.between(lat - dlat, lat + dlat), Place.lon.between(lon - dlon, lon + dlon))
        .subquery()
    )
    return stmt.join(places, places.c.pid == Activity.place_id).where(places.c.km <= km), places.c.km


def _base(conds: list[ColumnElement[bool]]) -> Select[Any]:
    return select(Activity.id).where(*conds)


def _cap(offset: int, limit: int) -> int:
    """Count at most this many: COUNT_CAP, and always past the end of the page, so that a capped
    total still says whether another page follows."""
    return max(COUNT_CAP, offset + limit + 1)


def _count(session: Session, stmt: Select[Any], cap: int) -> tuple[int, bool]:
    """How many rows `stmt` gives, counting at most `cap` (more: `(cap, True)`)."""
    n = int(session.scalar(select(func.count()).select_from(stmt.limit(cap + 1).subquery())) or 0)
    return (cap, True) if n > cap else (n, False)


def _page(
    session: Session,
    conds: list[ColumnElement[bool]],
    near: tuple[tuple[float, float], float | None] | None,
    offset: int,
    limit: int,
    *,
    count: bool = True,
    page_ids: list[int] | None = None,
) -> SearchResult:
    """One page with places taken per activity, and the capped count, in one round trip.

    The page's ids are chosen first on activities alone (index-only where the indexes allow), and
    only those few rows are joined to their place and team. `page_ids`: the page is already known
    (`conds` still count the total).
    """
    ids = select(Activity.id.label("id")).where(*conds) if page_ids is None else \
        select(Activity.id.label("id")).where(Activity.id.in_(page_ids))
    base = _base(conds)
    order: list[Any] = []
    dist: ColumnElement[Any] = null()
    if near is not None:
        (lat, lon), km = near
        if km is None:  # every activity; those without coordinates last
            dist = _distance_sql(lat, lon)
            ids = ids.outerjoin(Place, Place.id == Activity.place_id)
            order = [dist.is_(None), dist]
        else:
            ids, dist = _within(ids, (lat, lon), km)
            base, _ = _within(base, (lat, lon), km)
            order = [dist]
    page = (
        ids.add_columns(dist.label("km"))
        .order_by(*order, Activity.starts_at, Activity.id)
        .offset(offset if page_ids is None else 0)
        .limit(limit)
        .subquery()
    )
    taken_q = (
        select(func.coalesce(func.sum(Signup.party_size), 0))
        .where(Signup.activity_id == Activity.id, Signup.status.in_(HOLDS_PLACE))
        .correlate(Activity)
        .scalar_subquery()
    )
    cap = _cap(offset, limit)
    counted = (
        select(func.count()).select_from(base.limit(cap + 1).subquery()).scalar_subquery()
        if count
        else literal(0)
    )
    outer = [page.c.km.is_(None), page.c.km] if near is not None else []
    rows = session.execute(
        select(Activity, taken_q, page.c.km, counted)
        .join(page, page.c.id == Activity.id)
        .options(joinedload(Activity.place), joinedload(Activity.team))
        .order_by(*outer, Activity.starts_at, Activity.id)
    ).unique().all()
    hits = [
        Hit(a, max(0, a.capacity - int(taken or 0)), None if km is None else float(km)) for a, taken, km, _ in rows
    ]
    if not count:
        return SearchResult(hits, 0)
    if rows:
        n = int(rows[0][3])
        total, more = (cap, True) if n > cap else (n, False)
    elif offset:  # past the last page: count on its own
        total, more = _count(session, base, cap)
    else:
        total, more = 0, False
    return SearchResult(hits, total, more)


def _lock_activity(session: Session, activity_id: int) -> Activity:
    """Lock the activity row (PostgreSQL FOR UPDATE; SQLite already holds the write lock), and read it as it
    is now, even when this session read it before."""
    act = session.scalars(
        select(Activity).where(Activity.id == activity_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if act is None:
        raise NotFound(f"activity {activity_id}")
    return act


def find_overlap(
    session: Session, volunteer_id: int, activity: Activity, exclude_signup: int | None = None
) -> Activity | None:
    """Another live sign-up of this volunteer whose time overlaps the activity."""
    stmt = (
        select(Activity)
        .join(Signup, Signup.activity_id == Activity.id)
        .where(
            Signup.volunteer_id == volunteer_id,
            Signup.status.in_(LIVE_SIGNUP),
            Activity.id != activity.id,
            Activity.starts_at < activity.ends_at,
            Activity.ends_at > activity.starts_at,
            Activity.status == ActivityStatus.PUBLISHED,
        )
    )
    if exclude_signup is not None:
        stmt = stmt.where(Signup.id != exclude_signup)
    return session.scalars(stmt.limit(1)).first()


def live_signup(session: Session, volunteer_id: int, activity_id: int) -> Signup | None:
    return session.scalars(
        select(Signup).where(
            Signup.volunteer_id == volunteer_id,
            Signup.activity_id == activity_id,
            Signup.status.in_(LIVE_SIGNUP),
        )
    ).first()


def waitlist_position(session: Session, signup: Signup) -> int | None:
    """1-based position on the activity's waitlist, or None when not waitlisted."""
    if signup.status != SignupStatus.WAITLISTED:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(
            Signup.activity_id == signup.activity_id,
            Signup.status == SignupStatus.WAITLISTED,
            or_(
                Signup.created_at < signup.created_at,
                (Signup.created_at == signup.created_at) & (Signup.id < signup.id),
            ),
        )
    )
    return int(ahead or 0) + 1


@dataclass
class SignupResult:
    signup: Signup
    places_left: int
    waitlist_position: int | None = None


def sign_up(
    session: Session,
    *,
    volunteer_id: int,
    activity_id: int,
    now: datetime,
    party_size: int = 1,
    channel: str | None = None,
    allow_overlap: bool = False,
) -> SignupResult:
    """Take a place (confirmed, or pending when the activity needs review) or join the waitlist.

    Capacity holds under concurrency: the activity row is locked before places are counted.
    """
    if not 1 <= party_size <= 10:
        raise InvalidInput("party size must be 1..10")
    act = _lock_activity(session, activity_id)
    if act.status != ActivityStatus.PUBLISHED or act.starts_at <= now:
        raise NotOpen(f"activity {activity_id} is {act.status}")
    if live_signup(session, volunteer_id, activity_id) is not None:
        raise AlreadySignedUp(f"volunteer {volunteer_id} on activity {activity_id}")
    if not allow_overlap:
        other = find_overlap(session, volunteer_id, act)
        if other is not None:
            raise Overlap(other.id)
    taken = places_taken(session, act.id)
    if taken + party_size <= act.capacity:
        status = SignupStatus.PENDING if act.needs_review else SignupStatus.CONFIRMED
    else:
        status = SignupStatus.WAITLISTED
    signup = Signup(
        activity_id=act.id,
        volunteer_id=volunteer_id,
        status=status,
        party_size=party_size,
        channel=channel,
        created_at=now,
        updated_at=now,
        confirmed_at=now if status == SignupStatus.CONFIRMED else None,
    )
    session.add(signup)
    session.flush()
    left = max(0, act.capacity - taken - (party_size if status in HOLDS_PLACE else 0))
    return SignupResult(signup, left, waitlist_position(session, signup))


@dataclass
class CancelResult:
    signup: Signup
    promoted: list[Signup] = field(default_factory=list)


def promote_waitlist(session: Session, activity: Activity, now: datetime) -> list[Signup]:
    """Move waitlisted sign-ups, oldest first, into freed places; returns who was promoted."""
    free = activity.capacity - places_taken(session, activity.id)
    promoted: list[Signup] = []
    waiting = session.scalars(
        select(Signup)
        .where(Signup.activity_id == activity.id, Signup.status == SignupStatus.WAITLISTED)
        .order_by(Signup.created_at, Signup.id)
    )
    for s in waiting:
        if free <= 0:
            break
        if s.party_size > free:
            continue
        s.status = SignupStatus.PENDING if activity.needs_review else SignupStatus.CONFIRMED
        s.updated_at = now
        if s.status == SignupStatus.CONFIRMED:
            s.confirmed_at = now
        free -= s.party_size
        promoted.append(s)
    session.flush()
    return promoted


def cancel_signup(session: Session, *, signup_id: int, volunteer_id: int, now: datetime) -> CancelResult:
    """Cancel the volunteer's own live sign-up and promote the waitlist into the freed place."""
    signup = session.get(Signup, signup_id)
    if signup is None or signup.volunteer_id != volunteer_id:
        raise NotFound(f"signup {signup_id}")
    act = _lock_activity(session, signup.activity_id)
    session.refresh(signup)
    if signup.status not in LIVE_SIGNUP:
        raise NotOpen(f"signup {signup_id} is {signup.status}")
    held = signup.status in HOLDS_PLACE
    signup.status = SignupStatus.CANCELLED
    signup.cancelled_at = now
    signup.updated_at = now
    session.flush()
    promoted = promote_waitlist(session, act, now) if held and act.starts_at > now else []
    return CancelResult(signup, promoted)


def restore_signup(session: Session, *, signup_id: int, volunteer_id: int, now: datetime) -> SignupResult:
    """Undo a cancellation (撤销): sign up again for the same activity and party size."""
    old = session.get(Signup, signup_id)
    if old is None or old.volunteer_id != volunteer_id or old.status != SignupStatus.CANCELLED:
        raise NotFound(f"cancelled signup {signup_id}")
    return sign_up(
        session,
        volunteer_id=volunteer_id,
        activity_id=old.activity_id,
        now=now,
        party_size=old.party_size,
        channel=old.channel,
        allow_overlap=True,
    )


def upcoming_signups(session: Session, volunteer_id: int, now: datetime) -> list[Signup]:
    """Live sign-ups for activities that have not ended, soonest first."""
    return list(
        session.scalars(
            select(Signup)
            .join(Activity, Activity.id == Signup.activity_id)
            .options(joinedload(Signup.activity).joinedload(Activity.place))
            .where(
                Signup.volunteer_id == volunteer_id,
                Signup.status.in_(LIVE_SIGNUP),
                Activity.ends_at > now,
            )
            .order_by(Activity.starts_at)
        ).unique()
    )


@dataclass
class HoursSummary:
    total: Decimal
    this_year: Decimal
    activities: int
    last: list[ServiceRecord]


def hours_summary(session: Session, volunteer_id: int, now: datetime, last_n: int = 3) -> HoursSummary:
    """Total hours, hours this (local) calendar year, number of records and the latest ones."""
    local_now = to_local(now)
    year_start_local = local_now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    year_start = to_utc(year_start_local)
    base = select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.volunteer_id == volunteer_id
    )
    total = Decimal(str(session.scalar(base) or 0))
    this_year = Decimal(str(session.scalar(base.where(ServiceRecord.service_date >= year_start)) or 0))
    count = int(
        session.scalar(
            select(func.count()).select_from(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer_id)
        )
        or 0
    )
    last = list(
        session.scalars(
            select(ServiceRecord)
            .where(ServiceRecord.volunteer_id == volunteer_id)
            .order_by(ServiceRecord.service_date.desc(), ServiceRecord.id.desc())
            .limit(last_n)
        )
    )
    return HoursSummary(total.quantize(Decimal("0.01")), this_year.quantize(Decimal("0.01")), count, last)


def activity_hours(activity: Activity) -> Decimal:
    """Scheduled length of an activity in hours, rounded to the half hour."""
    minutes = (activity.ends_at - activity.starts_at) / timedelta(minutes=1)
    return (Decimal(int(minutes // 30)) / 2).quantize(Decimal("0.01"))


# -- changing a sign-up without cancelling it ---------------------------------------------------------
@dataclass
class PartyChange:
    """The outcome of changing how many come: the sign-up (its party size changed, or not when the
    places are short), the places still free, and who moved up from the waitlist into freed places."""

    signup: Signup
    changed: bool
    places_left: int
    promoted: list[Signup] = field(default_factory=list)


def change_party(session: Session, *, signup_id: int, volunteer_id: int, party_size: int,
                 now: datetime) -> PartyChange:
    """More or fewer people on a live sign-up. More need free places (a waitlisted sign-up just changes its
    size); fewer free places, which go to the waitlist. Never cancels."""
    if not 1 <= party_size <= 10:
        raise InvalidInput("party size must be 1..10")
    signup = session.get(Signup, signup_id)
    if signup is None or signup.volunteer_id != volunteer_id:
        raise NotFound(f"signup {signup_id}")
    act = _lock_activity(session, signup.activity_id)
    session.refresh(signup)
    if signup.status not in LIVE_SIGNUP or act.starts_at <= now:
        raise NotOpen(f"signup {signup_id} is {signup.status}")
    held = signup.status in HOLDS_PLACE
    free = act.capacity - places_taken(session, act.id)
    extra = party_size - signup.party_size
    if held and extra > free:
        return PartyChange(signup, False, max(0, free))
    signup.party_size = party_size
    signup.updated_at = now
    session.flush()
    promoted = promote_waitlist(session, act, now) if held and extra < 0 else []
    return PartyChange(signup, True, max(0, act.capacity - places_taken(session, act.id)), promoted)


@dataclass
class SwitchResult:
    new: SignupResult
    old: CancelResult


def switch_signup(session: Session, *, signup_id: int, volunteer_id: int, activity_id: int,
                  now: datetime) -> SwitchResult:
    """Move a live sign-up to another activity (the same party size): the new one is taken first, then the
    old one is cancelled and its place goes to the waitlist. Both or neither (one transaction)."""
    old = session.get(Signup, signup_id)
    if old is None or old.volunteer_id != volunteer_id:
        raise NotFound(f"signup {signup_id}")
    if old.status not in LIVE_SIGNUP:
        raise NotOpen(f"signup {signup_id} is {old.status}")
    new = sign_up(session, volunteer_id=volunteer_id, activity_id=activity_id, now=now,
                  party_size=old.party_size, channel=old.channel, allow_overlap=True)
    return SwitchResult(new, cancel_signup(session, signup_id=old.id, volunteer_id=volunteer_id, now=now))
