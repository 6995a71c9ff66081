"""Search, sign-up with capacity and waitlist, cancel with promotion, overlap, hours — on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import services as svc
from data.errors import AlreadySignedUp, InvalidInput, NotFound, NotOpen, Overlap
from data.models import ActivityStatus, Place, SignupStatus, Volunteer

from .helpers import make_activity, make_volunteer


def test_sign_up_until_full_then_waitlist(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=2)
    a, b, c, d = (make_volunteer(session, seed_now, n) for n in "甲乙丙丁")
    r1 = svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now)
    r2 = svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now)
    r3 = svc.sign_up(session, volunteer_id=c.id, activity_id=act.id, now=seed_now + timedelta(seconds=1))
    r4 = svc.sign_up(session, volunteer_id=d.id, activity_id=act.id, now=seed_now + timedelta(seconds=2))
    assert [r.signup.status for r in (r1, r2, r3, r4)] == [
        SignupStatus.CONFIRMED, SignupStatus.CONFIRMED, SignupStatus.WAITLISTED, SignupStatus.WAITLISTED]
    assert (r1.places_left, r2.places_left) == (1, 0)
    assert (r3.waitlist_position, r4.waitlist_position) == (1, 2)
    assert svc.places_left(session, act) == 0


def test_party_size_counts_and_too_big_party_waits(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=3)
    a, b = make_volunteer(session, seed_now), make_volunteer(session, seed_now)
    assert svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now, party_size=2).places_left == 1
    r = svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now, party_size=2)
    assert r.signup.status == SignupStatus.WAITLISTED
    with pytest.raises(InvalidInput):
        svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now, party_size=0)


def test_review_makes_pending_which_holds_a_place(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=1, needs_review=True)
    a, b = make_volunteer(session, seed_now), make_volunteer(session, seed_now)
    assert svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now).signup.status == SignupStatus.PENDING
    assert svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now).signup.status == SignupStatus.WAITLISTED


def test_double_sign_up_and_closed_activities_refused(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now)
    v = make_volunteer(session, seed_now)
    svc.sign_up(session, volunteer_id=v.id, activity_id=act.id, now=seed_now)
    with pytest.raises(AlreadySignedUp):
        svc.sign_up(session, volunteer_id=v.id, activity_id=act.id, now=seed_now)
    past = make_activity(session, seed_now, starts_in_h=-1)
    with pytest.raises(NotOpen):
        svc.sign_up(session, volunteer_id=v.id, activity_id=past.id, now=seed_now)
    cancelled = make_activity(session, seed_now, starts_in_h=100)
    cancelled.status = ActivityStatus.CANCELLED
    with pytest.raises(NotOpen):
        svc.sign_up(session, volunteer_id=v.id, activity_id=cancelled.id, now=seed_now)
    with pytest.raises(NotFound):
        svc.sign_up(session, volunteer_id=v.id, activity_id=10**9, now=seed_now)


def test_overlap_detected_unless_allowed(session: Session, seed_now: datetime) -> None:
    first = make_activity(session, seed_now, starts_in_h=30, hours=3)
    second = make_activity(session, seed_now, starts_in_h=31, hours=1)
    later = make_activity(session, seed_now, starts_in_h=33, hours=1)  # starts when the first ends
    v = make_volunteer(session, seed_now)
    svc.sign_up(session, volunteer_id=v.id, activity_id=first.id, now=seed_now)
    with pytest.raises(Overlap) as exc:
        svc.sign_up(session, volunteer_id=v.id, activity_id=second.id, now=seed_now)
    assert exc.value.other_activity_id == first.id
    svc.sign_up(session, volunteer_id=v.id, activity_id=later.id, now=seed_now)
    svc.sign_up(session, volunteer_id=v.id, activity_id=second.id, now=seed_now, allow_overlap=True)


def test_cancel_promotes_oldest_waitlisted_that_fits(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=1)
    a, b, c = (make_volunteer(session, seed_now) for _ in range(3))
    ra = svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now)
    svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now + timedelta(seconds=1), party_size=2)
    rc = svc.sign_up(session, volunteer_id=c.id, activity_id=act.id, now=seed_now + timedelta(seconds=2))
    result = svc.cancel_signup(session, signup_id=ra.signup.id, volunteer_id=a.id, now=seed_now)
    assert result.signup.status == SignupStatus.CANCELLED
    assert [s.id for s in result.promoted] == [rc.signup.id]  # b's party of 2 does not fit one place
    assert rc.signup.status == SignupStatus.CONFIRMED
    with pytest.raises(NotOpen):
        svc.cancel_signup(session, signup_id=ra.signup.id, volunteer_id=a.id, now=seed_now)
    with pytest.raises(NotFound):
        svc.cancel_signup(session, signup_id=rc.signup.id, volunteer_id=a.id, now=seed_now)


def test_cancel_waitlisted_promotes_nobody_and_restore_works(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=1)
    a, b = make_volunteer(session, seed_now), make_volunteer(session, seed_now)
    svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now)
    rb = svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now)
    assert svc.cancel_signup(session, signup_id=rb.signup.id, volunteer_id=b.id, now=seed_now).promoted == []
    again = svc.restore_signup(session, signup_id=rb.signup.id, volunteer_id=b.id, now=seed_now)
    assert again.signup.status == SignupStatus.WAITLISTED and again.waitlist_position == 1


def test_search_filters_and_orders(session: Session, seed_now: datetime) -> None:
    saihan = session.scalars(select(Place).where(Place.name == "赛罕区")).one()
    res = svc.search_activities(session, now=seed_now, time_to=seed_now + timedelta(days=14),
                                place_id=saihan.id, limit=50)
    assert res.total == len(res.hits) > 0
    for hit in res.hits:
        assert hit.activity.place is not None and hit.activity.place.path.startswith(saihan.path)
        assert hit.activity.status == ActivityStatus.PUBLISHED and hit.activity.starts_at >= seed_now
    starts = [h.activity.starts_at for h in res.hits]
    assert starts == sorted(starts)
    page2 = svc.search_activities(session, now=seed_now, time_to=seed_now + timedelta(days=14),
                                  place_id=saihan.id, offset=4, limit=4)
    assert [h.activity.id for h in page2.hits] == [h.activity.id for h in res.hits[4:8]]
    only = svc.search_activities(session, now=seed_now, category="医疗健康", limit=50)
    assert only.hits and all(h.activity.category == "医疗健康" for h in only.hits)
    light = svc.search_activities(session, now=seed_now, max_load=1, limit=100)
    assert all(h.activity.physical_load <= 1 for h in light.hits)
    text = svc.search_activities(session, now=seed_now, text="理发", limit=10)
    assert text.hits and all("理发" in (h.activity.title + (h.activity.description or "")) for h in text.hits)


def test_search_near_point_sorts_by_distance(session: Session, seed_now: datetime) -> None:
    # Standing at 宝日图嘎查 (西乌旗), the nearest activities are in the banner, not in 呼和浩特.
    res = svc.search_activities(session, now=seed_now, near=(44.77, 117.80), limit=3)
    assert res.hits[0].distance_km is not None and res.hits[0].distance_km < 50
    dists = [h.distance_km for h in res.hits]
    assert dists == sorted(dists)  # type: ignore[type-var]
    far = svc.search_activities(session, now=seed_now, near=(44.77, 117.80), max_km=10, limit=50)
    assert all(h.distance_km is not None and h.distance_km <= 10 for h in far.hits)


def test_upcoming_and_hours(session: Session, seed_now: datetime) -> None:
    zhang = session.scalars(select(Volunteer).where(Volunteer.name == "张桂兰")).one()
    summary = svc.hours_summary(session, zhang.id, seed_now)
    assert summary.activities == 3 and summary.total > 0
    assert summary.this_year <= summary.total
    assert len(summary.last) == 3
    assert summary.last[0].service_date >= summary.last[1].service_date
    act = make_activity(session, seed_now)
    svc.sign_up(session, volunteer_id=zhang.id, activity_id=act.id, now=seed_now)
    assert act.id in [s.activity_id for s in svc.upcoming_signups(session, zhang.id, seed_now)]
    assert svc.activity_hours(act) == Decimal("2.00")


def test_demo_data_has_answers_for_common_questions(session: Session, seed_now: datetime) -> None:
    """明天, 这周末 and 下周 always have activities, some full and some with waitlists."""
    from data.timeutil import to_local, to_utc

    today = to_local(seed_now).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    tomorrow = svc.search_activities(session, now=seed_now, time_from=to_utc(today + timedelta(days=1)),
                                     time_to=to_utc(today + timedelta(days=2)), limit=50)
    next_week_start = today + timedelta(days=7 - today.weekday())
    next_week = svc.search_activities(session, now=seed_now, time_from=to_utc(next_week_start),
                                      time_to=to_utc(next_week_start + timedelta(days=7)), limit=100)
    sat = today + timedelta(days=(5 - today.weekday()) % 7)
    weekend = svc.search_activities(session, now=seed_now, time_from=to_utc(max(sat, today)),
                                    time_to=to_utc(sat + timedelta(days=2)), limit=50)
    assert tomorrow.total >= 3 and next_week.total >= 8 and weekend.total >= 2
    lefts = [h.places_left for h in next_week.hits + tomorrow.hits]
    assert 0 in lefts
