"""Search, sign-up with capacity and waitlist, cancel with promotion, overlap, hours — on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import services as svc
from data.errors import AlreadySignedUp, InvalidInput, NotFound, NotOpen, Overlap
from data.models import ActivityStatus, Place, Signup, SignupStatus, Volunteer

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


# -- capacity and order: what sign_up and promote_waitlist promise ----------------------------------------------
def _taken_and_statuses(session: Session, act_id: int) -> tuple[int, dict[int, SignupStatus]]:
    rows = session.scalars(select(Signup).where(Signup.activity_id == act_id)).all()
    taken = sum(s.party_size for s in rows if s.status in (SignupStatus.CONFIRMED, SignupStatus.PENDING))
    return taken, {s.id: s.status for s in rows}


def _positions(session: Session, ids: list[int]) -> list[int | None]:
    return [svc.waitlist_position(session, session.get(Signup, i)) for i in ids]  # type: ignore[arg-type]


def test_parties_fill_a_bigger_activity_to_the_last_place(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=5)
    people = [make_volunteer(session, seed_now, f"队员{i}") for i in range(5)]
    results = [svc.sign_up(session, volunteer_id=v.id, activity_id=act.id, now=seed_now + timedelta(seconds=i),
                           party_size=size)
               for i, (v, size) in enumerate(zip(people, (2, 2, 1, 1, 3), strict=True))]
    assert [r.signup.status for r in results] == [SignupStatus.CONFIRMED] * 3 + [SignupStatus.WAITLISTED] * 2
    assert [r.places_left for r in results] == [3, 1, 0, 0, 0]
    assert [r.waitlist_position for r in results] == [None, None, None, 1, 2]
    assert svc.places_taken(session, act.id) == 5 and svc.places_left(session, act) == 0


def test_a_party_too_big_for_the_places_left_waits_and_a_smaller_one_takes_them(session: Session,
                                                                              seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=4)
    a, b, c, d = (make_volunteer(session, seed_now, n) for n in "甲乙丙丁")
    assert svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now, party_size=3).places_left == 1
    big = svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now, party_size=2)
    assert big.signup.status == SignupStatus.WAITLISTED and big.places_left == 1  # never 5 of 4
    small = svc.sign_up(session, volunteer_id=c.id, activity_id=act.id, now=seed_now, party_size=1)
    assert small.signup.status == SignupStatus.CONFIRMED and small.places_left == 0
    late = svc.sign_up(session, volunteer_id=d.id, activity_id=act.id, now=seed_now, party_size=1)
    assert late.signup.status == SignupStatus.WAITLISTED and late.waitlist_position == 2
    assert svc.places_taken(session, act.id) == 4


def test_several_waiting_are_numbered_in_arrival_order_and_move_up(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=2)
    first = make_volunteer(session, seed_now)
    svc.sign_up(session, volunteer_id=first.id, activity_id=act.id, now=seed_now, party_size=2)
    waiting: list[int] = []
    # Arrival order differs from insertion order: the later timestamp is inserted first.
    for secs in (5, 1, 3, 3):
        v = make_volunteer(session, seed_now)
        r = svc.sign_up(session, volunteer_id=v.id, activity_id=act.id, now=seed_now + timedelta(seconds=secs))
        waiting.append(r.signup.id)
    assert _positions(session, waiting) == [4, 1, 2, 3]  # same second: the earlier sign-up first
    quitter = session.get(Signup, waiting[2])
    assert quitter is not None
    svc.cancel_signup(session, signup_id=quitter.id, volunteer_id=quitter.volunteer_id, now=seed_now)
    assert _positions(session, waiting) == [3, 1, None, 2]


def test_freed_places_go_first_come_first_served(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=3)
    holders = [svc.sign_up(session, volunteer_id=make_volunteer(session, seed_now).id, activity_id=act.id,
                           now=seed_now).signup for _ in range(3)]
    waiting = [svc.sign_up(session, volunteer_id=make_volunteer(session, seed_now).id, activity_id=act.id,
                           now=seed_now + timedelta(minutes=m)).signup for m in (3, 1, 2)]
    by_arrival = [waiting[1].id, waiting[2].id, waiting[0].id]
    later = seed_now + timedelta(hours=1)
    one = svc.cancel_signup(session, signup_id=holders[0].id, volunteer_id=holders[0].volunteer_id, now=later)
    assert [s.id for s in one.promoted] == by_arrival[:1]
    two = svc.cancel_signup(session, signup_id=holders[1].id, volunteer_id=holders[1].volunteer_id, now=later)
    assert [s.id for s in two.promoted] == by_arrival[1:2]
    promoted = session.get(Signup, by_arrival[0])
    assert promoted is not None and promoted.status == SignupStatus.CONFIRMED and promoted.confirmed_at == later
    assert _positions(session, [by_arrival[2]]) == [1]
    assert svc.places_taken(session, act.id) == 3


def test_a_freed_place_skips_a_party_that_does_not_fit_who_keeps_first_turn(session: Session,
                                                                             seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=4)
    a = svc.sign_up(session, volunteer_id=make_volunteer(session, seed_now).id, activity_id=act.id,
                    now=seed_now, party_size=2).signup
    b = svc.sign_up(session, volunteer_id=make_volunteer(session, seed_now).id, activity_id=act.id,
                    now=seed_now, party_size=2).signup
    w = {size: svc.sign_up(session, volunteer_id=make_volunteer(session, seed_now).id, activity_id=act.id,
                           now=seed_now + timedelta(seconds=i + 1), party_size=size).signup
         for i, size in enumerate((3, 1, 2))}  # a party of 3 first, then 1, then 2
    freed = svc.cancel_signup(session, signup_id=a.id, volunteer_id=a.volunteer_id, now=seed_now)
    # Two places: the 3 do not fit, the 1 does; the 2 who came after the 1 no longer fit.
    assert [s.id for s in freed.promoted] == [w[1].id]
    assert _positions(session, [w[3].id, w[2].id]) == [1, 2]
    taken, statuses = _taken_and_statuses(session, act.id)
    assert taken == 3 and statuses[w[3].id] == statuses[w[2].id] == SignupStatus.WAITLISTED
    freed = svc.cancel_signup(session, signup_id=b.id, volunteer_id=b.volunteer_id, now=seed_now)
    assert [s.id for s in freed.promoted] == [w[3].id]  # the party of 3 still came first
    taken, statuses = _taken_and_statuses(session, act.id)
    assert taken == 4 and statuses[w[2].id] == SignupStatus.WAITLISTED


def test_one_cancellation_can_promote_several_small_parties(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=3)
    big = svc.sign_up(session, volunteer_id=make_volunteer(session, seed_now).id, activity_id=act.id,
                      now=seed_now, party_size=3).signup
    small = [svc.sign_up(session, volunteer_id=make_volunteer(session, seed_now).id, activity_id=act.id,
                         now=seed_now + timedelta(seconds=i + 1), party_size=size).signup
             for i, size in enumerate((1, 2, 1))]
    freed = svc.cancel_signup(session, signup_id=big.id, volunteer_id=big.volunteer_id, now=seed_now)
    assert [s.id for s in freed.promoted] == [small[0].id, small[1].id]  # 1 + 2 = 3: the last 1 waits
    assert svc.places_taken(session, act.id) == 3
    assert _positions(session, [small[2].id]) == [1]


def test_promotion_into_a_reviewed_activity_is_pending(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=2, needs_review=True)
    a, b, c = (make_volunteer(session, seed_now) for _ in range(3))
    ra = svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now)
    svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now)
    rc = svc.sign_up(session, volunteer_id=c.id, activity_id=act.id, now=seed_now + timedelta(seconds=1))
    assert rc.signup.status == SignupStatus.WAITLISTED  # two pending sign-ups hold both places
    freed = svc.cancel_signup(session, signup_id=ra.signup.id, volunteer_id=a.id, now=seed_now)
    assert [s.id for s in freed.promoted] == [rc.signup.id]
    assert rc.signup.status == SignupStatus.PENDING and rc.signup.confirmed_at is None


def test_no_promotion_once_the_activity_has_started(session: Session, seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=1, starts_in_h=2)
    a, b = make_volunteer(session, seed_now), make_volunteer(session, seed_now)
    ra = svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now)
    rb = svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now)
    during = seed_now + timedelta(hours=2, minutes=10)
    assert svc.cancel_signup(session, signup_id=ra.signup.id, volunteer_id=a.id, now=during).promoted == []
    assert rb.signup.status == SignupStatus.WAITLISTED


def test_undoing_a_cancel_after_the_place_was_given_away_joins_the_back(session: Session,
                                                                         seed_now: datetime) -> None:
    act = make_activity(session, seed_now, capacity=1)
    a, b, c = (make_volunteer(session, seed_now) for _ in range(3))
    ra = svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now)
    rb = svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now + timedelta(seconds=1))
    rc = svc.sign_up(session, volunteer_id=c.id, activity_id=act.id, now=seed_now + timedelta(seconds=2))
    later = seed_now + timedelta(minutes=3)
    assert [s.id for s in svc.cancel_signup(session, signup_id=ra.signup.id, volunteer_id=a.id,
                                            now=later).promoted] == [rb.signup.id]
    back = svc.restore_signup(session, signup_id=ra.signup.id, volunteer_id=a.id, now=later)
    assert back.signup.status == SignupStatus.WAITLISTED and back.waitlist_position == 2
    assert _positions(session, [rc.signup.id]) == [1]
    assert svc.places_taken(session, act.id) == 1


def test_no_overbooking_through_any_mix_of_sign_ups_and_cancels(session: Session, seed_now: datetime) -> None:
    """A fixed but busy sequence: parties of 1–4 sign up and cancel; after every step the places held never
    exceed the capacity, and nobody waits while a place their party fits is free."""
    act = make_activity(session, seed_now, capacity=6)
    live: list[Signup] = []
    sizes = [3, 2, 4, 1, 2, 1, 3, 1, 2, 4, 1, 1]
    for step, size in enumerate(sizes):
        now = seed_now + timedelta(seconds=step)
        v = make_volunteer(session, seed_now)
        live.append(svc.sign_up(session, volunteer_id=v.id, activity_id=act.id, now=now, party_size=size).signup)
        if step % 3 == 2:  # every third step the oldest live sign-up cancels
            gone = live.pop(0)
            svc.cancel_signup(session, signup_id=gone.id, volunteer_id=gone.volunteer_id, now=now)
        taken, statuses = _taken_and_statuses(session, act.id)
        assert taken <= act.capacity, (step, taken)
        free = act.capacity - taken
        fits = [s.party_size for s in live if s.status == SignupStatus.WAITLISTED and s.party_size <= free]
        assert not fits, (step, free, fits)  # a waiting party that fits a free place means a lost place
    assert svc.places_taken(session, act.id) == _taken_and_statuses(session, act.id)[0]


def test_details_in_one_statement_agree_with_the_separate_reads(session: Session, seed_now: datetime) -> None:
    """`activity_details` (the details screen's one statement) gives what places_left, live_signup and
    waitlist_position give: for someone confirmed, waitlisted (2nd), cancelled and never signed up."""
    act = make_activity(session, seed_now, capacity=2)
    a, b, c, d, e = (make_volunteer(session, seed_now, n) for n in "甲乙丙丁戊")
    svc.sign_up(session, volunteer_id=a.id, activity_id=act.id, now=seed_now, party_size=2)
    svc.sign_up(session, volunteer_id=b.id, activity_id=act.id, now=seed_now)
    svc.sign_up(session, volunteer_id=c.id, activity_id=act.id, now=seed_now)  # same instant: by id
    gone = svc.sign_up(session, volunteer_id=d.id, activity_id=act.id, now=seed_now + timedelta(seconds=1))
    svc.cancel_signup(session, signup_id=gone.signup.id, volunteer_id=d.id, now=seed_now)
    for v in (a, b, c, d, e):
        view = svc.activity_details(session, act.id, v.id)
        assert view is not None
        live = svc.live_signup(session, v.id, act.id)
        assert view.places_left == svc.places_left(session, act)
        assert view.signup_id == (live.id if live else None)
        assert view.signup_status == (live.status if live else None)
        assert view.waitlist_position == (svc.waitlist_position(session, live) if live else None)
        got = view.activity
        assert (got.id, got.title, got.starts_at, got.ends_at, got.address, got.landmark, got.description,
                got.requirements, got.needs_review, got.status, got.capacity) == (
            act.id, act.title, act.starts_at, act.ends_at, act.address, act.landmark, act.description,
            act.requirements, act.needs_review, act.status, act.capacity)
        assert (got.place.name if got.place else None) == (act.place.name if act.place else None)
    assert svc.activity_details(session, act.id, c.id).waitlist_position == 2  # type: ignore[union-attr]
    assert svc.activity_details(session, 10**9, a.id) is None


def test_upcoming_lines_are_the_upcoming_sign_ups(session: Session, seed_now: datetime) -> None:
    """`upcoming_lines` (my activities' one statement) lists what upcoming_signups lists, in its order, with
    each status and waitlist place."""
    v, w = make_volunteer(session, seed_now, "甲"), make_volunteer(session, seed_now, "乙")
    full = make_activity(session, seed_now, capacity=1, starts_in_h=50)
    svc.sign_up(session, volunteer_id=w.id, activity_id=full.id, now=seed_now)
    for at in (30, 70, 90):
        svc.sign_up(session, volunteer_id=v.id, activity_id=make_activity(session, seed_now, starts_in_h=at).id,
                    now=seed_now)
    svc.sign_up(session, volunteer_id=v.id, activity_id=full.id, now=seed_now)  # waitlisted, first
    ended = make_activity(session, seed_now, starts_in_h=-5, hours=1)
    session.add(Signup(activity_id=ended.id, volunteer_id=v.id, status=SignupStatus.CONFIRMED, party_size=1,
                       created_at=seed_now, updated_at=seed_now))
    session.flush()
    for who in (v, w):
        ups = svc.upcoming_signups(session, who.id, seed_now)
        lines = svc.upcoming_lines(session, who.id, seed_now)
        assert [(u.activity_id, u.status, u.waitlist_position) for u in lines] == [
            (s.activity_id, s.status, svc.waitlist_position(session, s)) for s in ups]
        assert [(u.activity.title, u.activity.starts_at, u.activity.needs_review,
                 u.activity.place.name if u.activity.place else None) for u in lines] == [
            (s.activity.title, s.activity.starts_at, s.activity.needs_review,
             s.activity.place.name if s.activity.place else None) for s in ups]
    assert any(u.waitlist_position == 1 for u in svc.upcoming_lines(session, v.id, seed_now))
