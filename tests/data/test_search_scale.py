"""Search in the database (indexes, capped count, distance in SQL) gives what the old search gave.

The reference below is the search as it was before migration 0003: every candidate loaded into Python,
filtered, sorted by (distance, start, id) or (start, id), counted in full. The new search must give the
same page, in the same order, with the same total (up to the cap, and then say "more than"), on SQLite
and PostgreSQL, for every kind of query the bot asks.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from data import services as svc
from data.models import Activity, ActivityStatus, Place, PlaceLevel, Team
from data.timeutil import to_local, to_utc


def _reference(session: Session, *, now: datetime, time_from: datetime | None = None,
               time_to: datetime | None = None, place_id: int | None = None, category: str | None = None,
               text_: str | None = None, near: tuple[float, float] | None = None,
               max_km: float | None = None, offset: int = 0, limit: int = 4) -> tuple[list[int], int]:
    start = max(time_from or now, now)
    prefix = session.get(Place, place_id).path if place_id else None  # type: ignore[union-attr]
    rows: list[tuple[float, datetime, int]] = []
    for a in session.scalars(select(Activity)):
        if a.status != ActivityStatus.PUBLISHED or a.starts_at < start:
            continue
        if time_to is not None and a.starts_at >= time_to:
            continue
        if prefix is not None and (a.place is None or not a.place.path.startswith(prefix)):
            continue
        if category and a.category != category:
            continue
        if text_ and text_ not in a.title and text_ not in (a.description or ""):
            continue
        dist = 1e9
        if near is not None:
            if a.place is not None and a.place.lat is not None:
                dist = svc.haversine_km(near[0], near[1], a.place.lat, a.place.lon or 0.0)
                if max_km is not None and dist > max_km:
                    continue
            elif max_km is not None:
                continue  # without coordinates nothing is "within 5 km"
        rows.append((dist if near is not None else 0.0, a.starts_at, a.id))
    rows.sort()
    return [r[2] for r in rows[offset: offset + limit]], len(rows)


@pytest.fixture
def region(session: Session, seed_now: datetime) -> dict[str, Any]:
    """The demo region plus 300 more activities: ties in time and place, texts, no place at all."""
    rng = random.Random(14)
    team = session.scalars(select(Team)).first()
    assert team is not None
    villages = list(session.scalars(select(Place).where(Place.level == PlaceLevel.VILLAGE)))
    titles = ["书法进社区", "剪纸课堂", "义诊服务", "理发进社区", "陪老人写书法", "环境清扫", "读报会"]
    cats = ["助老", "文化教育", "医疗健康", "环境保护"]
    base = seed_now.replace(minute=0, second=0, microsecond=0)
    for i in range(300):
        start = base + timedelta(hours=rng.choice([3, 20, 26, 50, 74, 100, 150, 200, 400, 700]) + rng.randint(0, 3))
        place = rng.choice(villages) if i % 25 else None
        session.add(Activity(
            title=rng.choice(titles), category=rng.choice(cats), team_id=team.id,
            place_id=place.id if place else None, starts_at=start, ends_at=start + timedelta(hours=2),
            capacity=5, physical_load=1, description=rng.choice(["一起写毛笔字", "带上剪刀", None, "量血压"]),
            status=ActivityStatus.PUBLISHED if i % 17 else ActivityStatus.CANCELLED,
            created_at=seed_now, updated_at=seed_now))
    session.flush()
    return {"villages": villages}


def _place(session: Session, name: str) -> Place:
    return session.scalars(select(Place).where(Place.name == name)).one()


def _queries(session: Session, now: datetime) -> list[dict[str, Any]]:
    today = to_local(now).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    sat = today + timedelta(days=(5 - today.weekday()) % 7)
    week = {"time_to": now + timedelta(days=7)}
    district = _place(session, "赛罕区").id
    city = _place(session, "呼和浩特市").id
    return [
        {"time_from": to_utc(sat), "time_to": to_utc(sat + timedelta(days=2))},  # this weekend
        {"time_from": to_utc(sat), "time_to": to_utc(sat + timedelta(days=2)), "place_id": city},
        {**week, "place_id": district},  # district subtree, next 7 days
        {**week, "place_id": city},
        {"category": "文化教育"},  # one category, all dates
        {**week, "category": "助老", "place_id": city},
        {"text_": "书法"},  # two characters
        {"text_": "进社区"},  # three
        {"text_": "血压"},  # in descriptions only
        {"text_": "没有这个词"},
        {"text_": "书"},  # one character: plain LIKE
        {**week, "near": (40.8455, 111.6790), "max_km": 5.0},  # near a point, 5 km
        {"near": (40.8455, 111.6790), "max_km": 50.0, "category": "助老"},
        {**week, "near": (40.8455, 111.6790)},  # nearest first, no limit (what the dialogs ask)
        {"near": (44.77, 117.80)},  # far from most: the rings do not fill a page
        {"near": (10.0, 10.0)},  # far from everything
    ]


def _new(session: Session, now: datetime, q: dict[str, Any], offset: int, limit: int) -> svc.SearchResult:
    args = {("text" if k == "text_" else k): v for k, v in q.items()}
    return svc.search_activities(session, now=now, offset=offset, limit=limit, **args)


@pytest.mark.parametrize("window", [1000, 7])  # text: the page found in the next activities, or by the index
def test_same_pages_and_totals_as_the_old_search(session: Session, seed_now: datetime, region: dict[str, Any],
                                                 window: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(svc, "TEXT_WINDOW", window)
    for q in _queries(session, seed_now):
        for offset, limit in ((0, 4), (4, 4), (8, 4), (0, 1), (0, 12), (96, 4), (400, 4)):
            want_ids, want_total = _reference(session, now=seed_now, offset=offset, limit=limit, **q)
            got = _new(session, seed_now, q, offset, limit)
            assert [h.activity.id for h in got.hits] == want_ids, (q, offset)
            if want_total > svc._cap(offset, limit):
                assert got.more_than and got.total == svc._cap(offset, limit), (q, offset)
            else:
                assert not got.more_than and got.total == want_total, (q, offset)
            assert (offset + len(got.hits) < got.total) == (offset + len(want_ids) < want_total)
            for h in got.hits:
                assert h.places_left == svc.places_left(session, h.activity)
                if "near" in q:
                    p = h.activity.place
                    if p is None or p.lat is None:
                        assert h.distance_km is None
                    else:
                        km = svc.haversine_km(q["near"][0], q["near"][1], p.lat, p.lon or 0.0)
                        assert h.distance_km == pytest.approx(km, abs=1e-6)


@pytest.mark.parametrize("window", [1000, 7])
def test_light_rows_are_the_same_page_as_the_activities(session: Session, seed_now: datetime,
                                                         region: dict[str, Any], window: int,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """`light=True` (list-line rows, what the search screen reads) finds the same page, order, places left,
    distances and total as the Activity objects, and says the same of each."""
    monkeypatch.setattr(svc, "TEXT_WINDOW", window)
    for q in _queries(session, seed_now) + [{"categories": ["助老", "环境保护"], "max_load": 1}]:
        args = {("text" if k == "text_" else k): v for k, v in q.items()}
        for offset, limit in ((0, 4), (4, 4), (0, 12), (96, 4), (400, 4)):
            whole = svc.search_activities(session, now=seed_now, offset=offset, limit=limit, **args)
            light = svc.search_activities(session, now=seed_now, offset=offset, limit=limit, light=True, **args)
            assert (light.total, light.more_than) == (whole.total, whole.more_than), (q, offset)
            assert len(light.hits) == len(whole.hits), (q, offset)
            for lh, wh in zip(light.hits, whole.hits, strict=True):
                a, b = lh.activity, wh.activity
                assert isinstance(a, svc.ActivityLine) and isinstance(b, Activity)
                assert (a.id, a.title, a.starts_at, a.needs_review, a.capacity) == (
                    b.id, b.title, b.starts_at, b.needs_review, b.capacity), (q, offset)
                assert (a.place.name if a.place else None) == (b.place.name if b.place else None)
                assert (lh.places_left, lh.distance_km) == (wh.places_left, wh.distance_km), (q, offset)


def test_a_page_without_its_count_past_the_end_is_the_same_page(session: Session, seed_now: datetime,
                                                                region: dict[str, Any]) -> None:
    """`count_past_end=False` (更多 asks for the next page only): the same page and total while there is one;
    past the end no hits and no count of its own."""
    for q in _queries(session, seed_now):
        args = {("text" if k == "text_" else k): v for k, v in q.items()}
        for offset in (4, 96, 400, 10_000):
            full = svc.search_activities(session, now=seed_now, offset=offset, light=True, **args)
            page = svc.search_activities(session, now=seed_now, offset=offset, light=True, count_past_end=False,
                                         **args)
            assert page.hits == full.hits, (q, offset)
            if full.hits:
                assert (page.total, page.more_than) == (full.total, full.more_than), (q, offset)
            else:
                assert (page.total, page.more_than) == (0, False), (q, offset)


def test_count_stops_at_the_cap_and_says_so(session: Session, seed_now: datetime,
                                            region: dict[str, Any]) -> None:
    _, everything = _reference(session, now=seed_now)
    assert everything > svc.COUNT_CAP + 50  # the fixture must make the cap matter
    first = svc.search_activities(session, now=seed_now)
    assert first.more_than and first.total == svc.COUNT_CAP
    # Near the cap the count still reaches past the page, so "more" stays right.
    deep = svc.search_activities(session, now=seed_now, offset=100, limit=4)
    assert deep.more_than and deep.total == 105 and len(deep.hits) == 4
    last = svc.search_activities(session, now=seed_now, offset=everything - 2, limit=4)
    assert not last.more_than and last.total == everything and len(last.hits) == 2


def test_near_with_a_radius_leaves_out_activities_without_coordinates(
        session: Session, seed_now: datetime, region: dict[str, Any]) -> None:
    res = svc.search_activities(session, now=seed_now, near=(40.8455, 111.6790), max_km=20000.0, limit=500)
    assert res.hits and all(h.activity.place is not None and h.distance_km is not None for h in res.hits)
    everything = svc.search_activities(session, now=seed_now, near=(40.8455, 111.6790), limit=500)
    assert everything.hits[-1].distance_km is None  # without a radius they come last
    assert [h.distance_km for h in everything.hits if h.distance_km is not None] == sorted(
        h.distance_km for h in res.hits)


def test_text_search_uses_the_character_pair_index_on_postgres(session: Session, seed_now: datetime) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    session.execute(text("SET LOCAL enable_seqscan = off"))
    stmt = select(Activity.id).where(svc._text_match(session, "书法"))
    compiled = stmt.compile(session.get_bind())
    cur = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    cur.execute("EXPLAIN " + str(compiled), compiled.params)
    plan = "\n".join(r[0] for r in cur.fetchall())
    assert "ix_activities_text_grams" in plan, plan
