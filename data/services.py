"""Domain services: search, sign-up with capacity and waitlist, cancel with promotion, hours.

Services flush but never commit: the caller (one session per inbound message) owns the transaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
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
    hits: list[Hit]
    total: int


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

    Ordering is by start time, or by distance then start when `near` is given.
    `place_id` matches the whole subtree (赛罕区 finds every community in it).
    """
    start = max(time_from or now, now) if only_open else (time_from or now)
    stmt = (
        select(Activity)
        .options(joinedload(Activity.place), joinedload(Activity.team))
        .where(Activity.starts_at >= start)
    )
    if time_to is not None:
        stmt = stmt.where(Activity.starts_at < time_to)
    if only_open:
        stmt = stmt.where(Activity.status == ActivityStatus.PUBLISHED)
    if place_id is not None:
        root = session.get(Place, place_id)
        subtree = select(Place.id).where(Place.path.startswith(root.path if root else "/none/"))
        stmt = stmt.where(Activity.place_id.in_(subtree.scalar_subquery()))
    if category:
        stmt = stmt.where(Activity.category == category)
    elif categories:
        stmt = stmt.where(Activity.category.in_(list(categories)))
    if max_load is not None:
        stmt = stmt.where(Activity.physical_load <= max_load)
    if text:
        like = f"%{text}%"
        stmt = stmt.where(or_(Activity.title.like(like), Activity.description.like(like)))
    if near is None:
        # Plain listing: one query pages, counts (a window over the filtered rows) and adds up the
        # places taken per activity on the page.
        taken_q = (select(func.coalesce(func.sum(Signup.party_size), 0))
                   .where(Signup.activity_id == Activity.id, Signup.status.in_(HOLDS_PLACE))
                   .correlate(Activity).scalar_subquery())
        rows = session.execute(
            stmt.add_columns(taken_q, func.count().over())
            .order_by(Activity.starts_at, Activity.id).offset(offset).limit(limit)).unique().all()
        if rows:
            total = int(rows[0][2])
        else:  # past the last page (or nothing at all): count on its own
            total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0) if offset else 0
        return SearchResult([Hit(a, max(0, a.capacity - int(taken or 0))) for a, taken, _ in rows], total)
    activities = list(session.scalars(stmt.order_by(Activity.starts_at, Activity.id)).unique())

    hits: list[Hit] = []
    for act in activities:
        dist = None
        if near is not None and act.place is not None and act.place.lat is not None:
            dist = haversine_km(near[0], near[1], act.place.lat, act.place.lon or 0.0)
            if max_km is not None and dist > max_km:
                continue
        hits.append(Hit(act, 0, dist))
    if near is not None:
        hits.sort(key=lambda h: (h.distance_km if h.distance_km is not None else 1e9, h.activity.starts_at))
    page = hits[offset : offset + limit]
    taken_by_id = places_taken_many(session, [h.activity.id for h in page])
    for hit in page:
        hit.places_left = max(0, hit.activity.capacity - taken_by_id[hit.activity.id])
    return SearchResult(page, len(hits))


def _lock_activity(session: Session, activity_id: int) -> Activity:
    """Lock the activity row (PostgreSQL FOR UPDATE; SQLite already holds the write lock)."""
    act = session.scalars(
        select(Activity).where(Activity.id == activity_id).with_for_update()
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
