"""Domain services: search, sign-up with capacity and waitlist, cancel with promotion, hours.

Services flush but never commit: the caller (one session per inbound message) owns the transaction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Text,
    and_,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, aliased, joinedload

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


_PLACES_TAKEN = select(func.coalesce(func.sum(Signup.party_size), 0)).where(
    Signup.activity_id == bindparam("activity_id"), Signup.status.in_(HOLDS_PLACE)
)


def places_taken(session: Session, activity_id: int) -> int:
    """Places held by pending and confirmed sign-ups (party sizes added up)."""
    total = session.scalar(_PLACES_TAKEN, {"activity_id": activity_id})
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


@dataclass(frozen=True, slots=True)
class PlaceName:
    """The place of a listed activity, as far as a list line names it."""

    name: str


@dataclass(frozen=True, slots=True)
class ActivityLine:
    """What a list line shows of an activity (`search_activities(light=True)`): read as plain columns, with no
    ORM entity behind it. The attribute names are the Activity's, so the texts read either."""

    id: int
    title: str
    starts_at: datetime
    needs_review: bool
    capacity: int
    place: PlaceName | None


A = TypeVar("A", Activity, ActivityLine)


@dataclass
class Hit(Generic[A]):
    """One search result with what a reply needs to repeat: places left and distance."""

    activity: A
    places_left: int
    distance_km: float | None = None


@dataclass
class SearchResult(Generic[A]):
    """A page of hits and the number of matches.

    Counting stops after COUNT_CAP matches past the page (a whole region has too many to count on
    every message): when `more_than` is set, `total` is a floor and there are more matches than that.
    """

    hits: list[Hit[A]]
    total: int
    more_than: bool = False


COUNT_CAP = 100  # matches counted past the current page before the count stops ("超过100个")
EARTH_KM = 6371.0
KM_PER_DEGREE = math.pi * EARTH_KM / 180
NEAR_RINGS_KM = (2.0, 5.0, 20.0, 80.0)  # nearest first: try these radii before the whole circle or everything
TEXT_WINDOW = 1000  # text search: look for a full page among this many next activities before the index

# The search's statements are built once per shape of query (which filters it has) with bound parameters for
# every value, and kept: building a statement costs more CPU than running it (SQLAlchemy's coercions and
# cache key), and a kept statement finds its compiled form at once.


def _distance_sql() -> ColumnElement[float]:
    """Great-circle distance from the point (`_distance_params`) to the place's coordinates, in SQL (same
    formula as `haversine_km`; a missing longitude counts as 0 as it always has). NULL without a latitude."""
    p1 = bindparam("near_p1", type_=Float)
    cos_p1 = bindparam("near_cos_p1", type_=Float)
    lon_r = bindparam("near_lon_r", type_=Float)
    p2 = func.radians(Place.lat)
    dp = (p2 - p1) / 2
    dl = (func.radians(func.coalesce(Place.lon, 0.0)) - lon_r) / 2
    a = func.power(func.sin(dp), 2) + cos_p1 * func.cos(p2) * func.power(func.sin(dl), 2)
    return 2 * EARTH_KM * func.asin(func.sqrt(a))


def _distance_params(lat: float, lon: float) -> dict[str, float]:
    p1 = math.radians(lat)
    return {"near_p1": p1, "near_cos_p1": math.cos(p1), "near_lon_r": math.radians(lon)}


def _like_text(like: Any) -> ColumnElement[bool]:
    return or_(Activity.title.like(like), Activity.description.like(like))


def _grams_match(grams: Any) -> ColumnElement[bool]:
    indexed = func.yl_text_grams(Activity.title, Activity.description, type_=ARRAY(Text))
    return indexed.contains(grams)


def _grams(text: str) -> list[str]:
    return sorted({text[i : i + 2] for i in range(len(text) - 1)})


def _text_match(session: Session, text: str) -> ColumnElement[bool]:
    """Title or description contains `text`. On PostgreSQL every two-character piece of it must be in
    the GIN index of the activity's character pairs first (works for two-character words like 书法,
    which trigrams cannot find); the LIKE then checks the exact string on the few rows left."""
    cond = _like_text(f"%{text}%")
    if len(text) >= 2 and session.get_bind().dialect.name == "postgresql":
        cond = and_(_grams_match(_grams(text)), cond)
    return cond


class _Shape(NamedTuple):
    """Which filters a search has (its values go in as parameters)."""

    time_to: bool
    only_open: bool
    place: bool
    categories: int  # 0 none, 1 one, 2 a list
    max_load: bool
    text: int  # 0 none, 1 LIKE, 2 the character pairs' index and LIKE (PostgreSQL)


@lru_cache(maxsize=64)
def _conds(shape: _Shape, with_text: bool = True) -> tuple[ColumnElement[bool], ...]:
    conds: list[ColumnElement[bool]] = [Activity.starts_at >= bindparam("start")]
    if shape.time_to:
        conds.append(Activity.starts_at < bindparam("time_to"))
    if shape.only_open:
        conds.append(Activity.status == ActivityStatus.PUBLISHED)
    if shape.place:
        subtree = select(Place.id).where(Place.path.startswith(bindparam("subtree")))
        conds.append(Activity.place_id.in_(subtree.scalar_subquery()))
    if shape.categories == 1:
        conds.append(Activity.category == bindparam("category"))
    elif shape.categories == 2:
        conds.append(Activity.category.in_(bindparam("categories", expanding=True)))
    if shape.max_load:
        conds.append(Activity.physical_load <= bindparam("max_load"))
    if with_text and shape.text:
        cond = _like_text(bindparam("like"))
        if shape.text == 2:
            cond = and_(_grams_match(bindparam("grams", type_=ARRAY(Text))), cond)
        conds.append(cond)
    return tuple(conds)


@lru_cache(maxsize=16)
def _text_window_stmt(shape: _Shape) -> Select[Any]:
    """The first `first_n` text matches among the next TEXT_WINDOW activities (PostgreSQL)."""
    conds = _conds(shape, with_text=False)
    bound = (select(Activity.starts_at).where(*conds).order_by(Activity.starts_at, Activity.id)
             .offset(bindparam("window")).limit(1).scalar_subquery())
    return (select(Activity.id)
            .where(*conds, or_(bound.is_(None), Activity.starts_at <= bound), _like_text(bindparam("like")))
            .order_by(Activity.starts_at, Activity.id)
            .limit(bindparam("first_n")))


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
    light: bool = False,
    count_past_end: bool = True,
) -> SearchResult[Any]:
    """Published activities starting in [time_from, time_to) (UTC naive), filtered and ordered.

    Ordering is by start time, or by distance then start when `near` is given (activities without
    coordinates last; with `max_km` they are left out). `place_id` matches the whole subtree
    (赛罕区 finds every community in it). Everything happens in the database, on indexes: a page
    costs the same with a hundred activities or a hundred thousand.

    `light`: the hits hold an `ActivityLine` (what a list line shows, read as plain columns) instead of the
    Activity with its place and team (ORM entities, several times the CPU). `count_past_end` False: a page
    past the last one comes back empty with total 0, without a count of its own (only the page matters).
    """
    start = max(time_from or now, now) if only_open else (time_from or now)
    params: dict[str, Any] = {"start": start}
    if time_to is not None:
        params["time_to"] = time_to
    if place_id is not None:
        root = session.get(Place, place_id)  # usually in the session already; a constant prefix plans well
        params["subtree"] = root.path if root else "/none/"
    cats = 0
    if category:
        cats, params["category"] = 1, category
    elif categories:
        cats, params["categories"] = 2, list(categories)
    if max_load is not None:
        params["max_load"] = max_load
    pg = session.get_bind().dialect.name == "postgresql"
    kind = 0
    if text:
        params["like"] = f"%{text}%"
        kind = 2 if len(text) >= 2 and pg else 1
        if kind == 2:
            params["grams"] = _grams(text)
    shape = _Shape(time_to is not None, only_open, place_id is not None, cats, max_load is not None, kind)
    if text and near is None and pg:
        # A common word (书法 in one title of thirty) fills the page from the next few hundred activities
        # in time order, much cheaper than fetching every match the index finds; a rare one does not,
        # and then the index decides.
        first = list(session.scalars(_text_window_stmt(shape),
                                     {**params, "window": TEXT_WINDOW - 1, "first_n": offset + limit}))
        if len(first) == offset + limit:
            return _page(session, shape, params, None, offset, limit, light=light, page_ids=first[offset:])
    if near is None:
        return _page(session, shape, params, None, offset, limit, light=light, count_past_end=count_past_end)
    # Nearest first: the first pages almost always lie within a few kilometres, and if a ring holds a
    # full page, nothing outside it can come before (its order is the full order). The count is over
    # the whole circle (or everything).
    for km in NEAR_RINGS_KM:
        if max_km is not None and km >= max_km:
            break
        res = _page(session, shape, params, (near, km), offset, limit, light=light, count=False)
        if len(res.hits) == limit:
            whole = _count_stmt(shape, max_km is not None)
            wparams = {**params, **_box_params(near, max_km)} if max_km is not None else params
            res.total, res.more_than = _count(session, whole, wparams, _cap(offset, limit))
            return res
    return _page(session, shape, params, (near, max_km), offset, limit, light=light,
                 count_past_end=count_past_end)


def _within(stmt: Select[Any]) -> tuple[Select[Any], ColumnElement[Any]]:
    """Activities at places inside the box around the circle (indexed coordinates), then inside the
    circle itself; with the distance column. Parameters: `_box_params`."""
    places = (
        select(Place.id.label("pid"), _distance_sql().label("km"))
        .where(Place.lat.between(bindparam("box_lat0"), bindparam("box_lat1")),
               Place.lon.between(bindparam("box_lon0"), bindparam("box_lon1")))
        .subquery()
    )
    return (stmt.join(places, places.c.pid == Activity.place_id).where(places.c.km <= bindparam("near_km")),
            places.c.km)


def _box_params(near: tuple[float, float], km: float) -> dict[str, float]:
    lat, lon = near
    dlat = km / KM_PER_DEGREE
    dlon = km / (KM_PER_DEGREE * max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 0.01))
    return {"box_lat0": lat - dlat, "box_lat1": lat + dlat, "box_lon0": lon - dlon, "box_lon1": lon + dlon,
            "near_km": km, **_distance_params(lat, lon)}


def _base(shape: _Shape, within: bool) -> Select[Any]:
    base = select(Activity.id).where(*_conds(shape))
    return _within(base)[0] if within else base


@lru_cache(maxsize=64)
def _count_stmt(shape: _Shape, within: bool) -> Select[Any]:
    """How many match, counting at most `cap_1` (cap + 1)."""
    return select(func.count()).select_from(_base(shape, within).limit(bindparam("cap_1")).subquery())


def _cap(offset: int, limit: int) -> int:
    """Count at most this many: COUNT_CAP, and always past the end of the page, so that a capped
    total still says whether another page follows."""
    return max(COUNT_CAP, offset + limit + 1)


def _count(session: Session, stmt: Select[Any], params: dict[str, Any], cap: int) -> tuple[int, bool]:
    """How many rows the count statement gives, counting at most `cap` (more: `(cap, True)`)."""
    n = int(session.scalar(stmt, {**params, "cap_1": cap + 1}) or 0)
    return (cap, True) if n > cap else (n, False)


def _plain_rows(session: Session, stmt: Any, params: dict[str, Any]) -> Sequence[Any]:
    """Rows of a statement of plain columns, run on the session's connection: the ORM's work on each statement
    (its events, loading results as entities) is for entities. Pending changes are flushed first, as the
    session does before a query."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(stmt, params).all()


_TAKEN = (
    select(func.coalesce(func.sum(Signup.party_size), 0))
    .where(Signup.activity_id == Activity.id, Signup.status.in_(HOLDS_PLACE))
    .correlate(Activity)
    .scalar_subquery()
)


@lru_cache(maxsize=128)
def _page_stmt(shape: _Shape, near: str | None, count: bool, by_ids: bool, light: bool) -> Select[Any]:
    """The page statement of one shape: `near` None (time order), "all" (every activity, nearest first,
    those without coordinates last) or "within" (inside a circle); `by_ids`: the page's ids are given."""
    conds = _conds(shape)
    ids = select(Activity.id.label("id")).where(*conds) if not by_ids else \
        select(Activity.id.label("id")).where(Activity.id.in_(bindparam("page_ids", expanding=True)))
    order: list[Any] = []
    dist: ColumnElement[Any] = null()
    if near == "all":
        dist = _distance_sql()
        ids = ids.outerjoin(Place, Place.id == Activity.place_id)
        order = [dist.is_(None), dist]
    elif near == "within":
        ids, dist = _within(ids)
        order = [dist]
    page = (
        ids.add_columns(dist.label("km"))
        .order_by(*order, Activity.starts_at, Activity.id)
        .offset(bindparam("page_offset"))
        .limit(bindparam("page_limit"))
        .subquery()
    )
    counted = (
        select(func.count()).select_from(_base(shape, near == "within").limit(bindparam("cap_1")).subquery())
        .scalar_subquery()
        if count
        else literal(0)
    )
    outer = [page.c.km.is_(None), page.c.km] if near is not None else []
    if light:
        return (
            select(Activity.id, Activity.title, Activity.starts_at, Activity.needs_review, Activity.capacity,
                   Place.name, _TAKEN, page.c.km, counted)
            .select_from(Activity)
            .join(page, page.c.id == Activity.id)
            .outerjoin(Place, Place.id == Activity.place_id)
            .order_by(*outer, Activity.starts_at, Activity.id)
        )
    return (
        select(Activity, _TAKEN, page.c.km, counted)
        .join(page, page.c.id == Activity.id)
        .options(joinedload(Activity.place), joinedload(Activity.team))
        .order_by(*outer, Activity.starts_at, Activity.id)
    )


def _page(
    session: Session,
    shape: _Shape,
    params: dict[str, Any],
    near: tuple[tuple[float, float], float | None] | None,
    offset: int,
    limit: int,
    *,
    light: bool = False,
    count: bool = True,
    count_past_end: bool = True,
    page_ids: list[int] | None = None,
) -> SearchResult[Any]:
    """One page with places taken per activity, and the capped count, in one round trip.

    The page's ids are chosen first on activities alone (index-only where the indexes allow), and
    only those few rows are joined to their place (and team). `page_ids`: the page is already known
    (the filters still count the total).
    """
    cap = _cap(offset, limit)
    args = {**params, "page_offset": offset if page_ids is None else 0, "page_limit": limit, "cap_1": cap + 1}
    mode: str | None = None
    if page_ids is not None:
        args["page_ids"] = page_ids
    if near is not None:
        point, km = near
        mode = "all" if km is None else "within"
        args.update(_distance_params(*point) if km is None else _box_params(point, km))
    stmt = _page_stmt(shape, mode, count, page_ids is not None, light)
    hits: list[Hit[Any]]
    if light:
        rows = _plain_rows(session, stmt, args)
        hits = [Hit(ActivityLine(aid, title, starts, review, capacity, None if place is None else PlaceName(place)),
                    max(0, capacity - int(taken or 0)), None if km is None else float(km))
                for aid, title, starts, review, capacity, place, taken, km, _ in rows]
    else:
        rows = session.execute(stmt, args).unique().all()
        hits = [Hit(a, max(0, a.capacity - int(taken or 0)), None if km is None else float(km))
                for a, taken, km, _ in rows]
    if not count:
        return SearchResult(hits, 0)
    if rows:
        n = int(rows[0][-1])
        total, more = (cap, True) if n > cap else (n, False)
    elif offset and count_past_end:  # past the last page: count on its own
        total, more = _count(session, _count_stmt(shape, mode == "within"), args, cap)
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


def _overlap_stmt(excluding: bool) -> Select[Any]:
    stmt = (
        select(Activity)
        .join(Signup, Signup.activity_id == Activity.id)
        .where(
            Signup.volunteer_id == bindparam("volunteer_id"),
            Signup.status.in_(LIVE_SIGNUP),
            Activity.id != bindparam("activity_id"),
            Activity.starts_at < bindparam("ends_at"),
            Activity.ends_at > bindparam("starts_at"),
            Activity.status == ActivityStatus.PUBLISHED,
        )
    )
    if excluding:
        stmt = stmt.where(Signup.id != bindparam("exclude_signup"))
    return stmt.limit(1)


_OVERLAP = (_overlap_stmt(False), _overlap_stmt(True))


def find_overlap(
    session: Session, volunteer_id: int, activity: Activity, exclude_signup: int | None = None
) -> Activity | None:
    """Another live sign-up of this volunteer whose time overlaps the activity."""
    params = {"volunteer_id": volunteer_id, "activity_id": activity.id, "ends_at": activity.ends_at,
              "starts_at": activity.starts_at, "exclude_signup": exclude_signup}
    return session.scalars(_OVERLAP[exclude_signup is not None], params).first()


_LIVE_SIGNUP = select(Signup).where(
    Signup.volunteer_id == bindparam("volunteer_id"),
    Signup.activity_id == bindparam("activity_id"),
    Signup.status.in_(LIVE_SIGNUP),
)


def live_signup(session: Session, volunteer_id: int, activity_id: int) -> Signup | None:
    return session.scalars(_LIVE_SIGNUP, {"volunteer_id": volunteer_id, "activity_id": activity_id}).first()


@dataclass(frozen=True, slots=True)
class ActivityDetails:
    """What the details card shows of an activity, read as plain columns (the Activity's attribute names)."""

    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    address: str | None
    landmark: str | None
    description: str | None
    requirements: str | None
    needs_review: bool
    status: ActivityStatus
    capacity: int
    place: PlaceName | None


@dataclass(frozen=True, slots=True)
class DetailsView:
    """The details screen of one activity for one volunteer: the activity, places left, and the volunteer's
    live sign-up on it (its id, status, and place on the waitlist when waitlisted)."""

    activity: ActivityDetails
    places_left: int
    signup_id: int | None
    signup_status: SignupStatus | None
    waitlist_position: int | None


def _ahead_of(ahead: Any, activity_id: Any, created_at: Any, signup_id: Any) -> ColumnElement[bool]:
    """`ahead` is a waitlisted sign-up of the activity made before the given one (at the same instant: by id)."""
    return and_(
        ahead.activity_id == activity_id,
        ahead.status == SignupStatus.WAITLISTED,
        or_(ahead.created_at < created_at, and_(ahead.created_at == created_at, ahead.id < signup_id)),
    )


def _waiting_before(signup: Any) -> Any:
    """How many wait ahead of `signup` (an entity or alias of the enclosing statement), as a correlated subquery."""
    ahead = aliased(Signup, name="ahead")
    return (
        select(func.count())
        .select_from(ahead)
        .where(_ahead_of(ahead, signup.activity_id, signup.created_at, signup.id))
        .correlate(signup)
        .scalar_subquery()
    )


def _details_stmt() -> Any:
    live = aliased(Signup, name="live")
    waiting = _waiting_before(live)
    return (
        select(Activity.id, Activity.title, Activity.starts_at, Activity.ends_at, Activity.address,
               Activity.landmark, Activity.description, Activity.requirements, Activity.needs_review,
               Activity.status, Activity.capacity, Place.name, _TAKEN, live.id, live.status, waiting)
        .select_from(Activity)
        .outerjoin(Place, Place.id == Activity.place_id)
        .outerjoin(live, and_(live.activity_id == Activity.id, live.volunteer_id == bindparam("volunteer_id"),
                              live.status.in_(LIVE_SIGNUP)))
        .where(Activity.id == bindparam("activity_id"))
        .limit(1)
    )


_DETAILS = _details_stmt()


def activity_details(session: Session, activity_id: int, volunteer_id: int) -> DetailsView | None:
    """The details screen's reads in one statement: the activity with its place's name, places left
    (`places_left`), the volunteer's live sign-up (`live_signup`) and its waitlist place (`waitlist_position`)."""
    rows = _plain_rows(session, _DETAILS, {"activity_id": activity_id, "volunteer_id": volunteer_id})
    if not rows:
        return None
    row = rows[0]
    (aid, title, starts, ends, address, landmark, description, requirements, review, status, capacity, place,
     taken, signup_id, signup_status, ahead) = row
    act = ActivityDetails(aid, title, starts, ends, address, landmark, description, requirements, review, status,
                          capacity, None if place is None else PlaceName(place))
    pos = int(ahead or 0) + 1 if signup_status == SignupStatus.WAITLISTED else None
    return DetailsView(act, max(0, capacity - int(taken or 0)), signup_id, signup_status, pos)


def waitlist_position(session: Session, signup: Signup) -> int | None:
    """1-based position on the activity's waitlist, or None when not waitlisted."""
    if signup.status != SignupStatus.WAITLISTED:
        return None
    ahead = session.scalar(_AHEAD, {"activity_id": signup.activity_id, "created_at": signup.created_at,
                                    "signup_id": signup.id})
    return int(ahead or 0) + 1


_AHEAD = (
    select(func.count())
    .select_from(Signup)
    .where(_ahead_of(Signup, bindparam("activity_id"), bindparam("created_at"), bindparam("signup_id")))
)


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


_UPCOMING = (
    select(Signup)
    .join(Activity, Activity.id == Signup.activity_id)
    .options(joinedload(Signup.activity).joinedload(Activity.place))
    .where(
        Signup.volunteer_id == bindparam("volunteer_id"),
        Signup.status.in_(LIVE_SIGNUP),
        Activity.ends_at > bindparam("now"),
    )
    .order_by(Activity.starts_at)
)


def upcoming_signups(session: Session, volunteer_id: int, now: datetime) -> list[Signup]:
    """Live sign-ups for activities that have not ended, soonest first."""
    return list(session.scalars(_UPCOMING, {"volunteer_id": volunteer_id, "now": now}).unique())


@dataclass(frozen=True, slots=True)
class UpcomingLine:
    """One of `upcoming_lines`: the activity as a list line shows it, the sign-up's status and its place on
    the waitlist when waitlisted (`waitlist_position`)."""

    activity: ActivityLine
    activity_id: int
    status: SignupStatus
    waitlist_position: int | None


def _upcoming_lines_stmt() -> Any:
    waiting = _waiting_before(Signup)
    return (
        select(Signup.status, case((Signup.status == SignupStatus.WAITLISTED, waiting), else_=null()),
               Activity.id, Activity.title, Activity.starts_at, Activity.needs_review, Activity.capacity, Place.name)
        .select_from(Signup)
        .join(Activity, Activity.id == Signup.activity_id)
        .outerjoin(Place, Place.id == Activity.place_id)
        .where(
            Signup.volunteer_id == bindparam("volunteer_id"),
            Signup.status.in_(LIVE_SIGNUP),
            Activity.ends_at > bindparam("now"),
        )
        .order_by(Activity.starts_at)
    )


_UPCOMING_LINES = _upcoming_lines_stmt()


def upcoming_lines(session: Session, volunteer_id: int, now: datetime) -> list[UpcomingLine]:
    """`upcoming_signups` as list lines, in the same order, with their waitlist places, in one statement of
    plain columns (no Signup, Activity or Place entities)."""
    rows = _plain_rows(session, _UPCOMING_LINES, {"volunteer_id": volunteer_id, "now": now})
    return [
        UpcomingLine(ActivityLine(aid, title, starts, review, capacity, None if place is None else PlaceName(place)),
                     aid, status, None if ahead is None else int(ahead) + 1)
        for status, ahead, aid, title, starts, review, capacity, place in rows
    ]


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
