"""Audiences by place (the whole subtree below a place) and by interests and free time (only people whose
latest decision on recommendations is yes), on SQLite and PostgreSQL, from the SQL down to what is sent;
and the fan-out's delivery rows built from an audience in SQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.push import PushService
from bot.push.audience import describe, volunteer_ids
from bot.push.jobs import _insert_deliveries
from bot.runtime import Runtime
from data.models import Consent, Place, PlaceLevel
from data.models_push import Delivery
from data.timeutil import utcnow
from tests.fakes.push_apis import FakeApis

from .helpers import new_team, person, send_notice


def _place(s: Session, name: str, level: PlaceLevel, parent: Place | None) -> Place:
    p = Place(name=name, level=level, parent_id=parent.id if parent else None)
    s.add(p)
    s.flush()
    p.path = f"{parent.path if parent else '/'}{p.id}/"
    s.flush()
    return p


def _consent(s: Session, vid: int, *decisions: tuple[bool, datetime]) -> None:
    for granted, at in decisions:
        s.add(Consent(volunteer_id=vid, kind="recommendations", granted=granted, channel="wechat", at=at))
    s.flush()


def _world(s: Session, rt: Runtime, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Places 测试盟 > {甲旗 > 乙镇 > 丙村, 丁旗}, and people with homes, interests, free time, consents."""
    root = _place(s, "测试盟", PlaceLevel.PREFECTURE, None)
    county = _place(s, "甲旗", PlaceLevel.COUNTY, root)
    town = _place(s, "乙镇", PlaceLevel.TOWNSHIP, county)
    village = _place(s, "丙村", PlaceLevel.VILLAGE, town)
    other = _place(s, "丁旗", PlaceLevel.COUNTY, root)
    yes, no = (True, now - timedelta(days=3)), (False, now - timedelta(days=3))
    later_yes, later_no = (True, now - timedelta(days=1)), (False, now - timedelta(days=1))

    def vol(name: str, home: Place, cats: list[str], free: int, consents: tuple[tuple[bool, datetime], ...],
            **kw: Any) -> int:
        v = person(s, rt, now, name, openid=f"o-{name}")
        v.home_place_id, v.categories, v.availability = home.id, cats, free
        for k, value in kw.items():
            setattr(v, k, value)
        s.flush()
        _consent(s, v.id, *consents)
        return v.id

    people = {
        "a": vol("a", village, ["助老"], 0b0011, (yes,)),
        "b": vol("b", town, ["助老"], 0b0011, ()),  # never asked about recommendations
        "c": vol("c", other, ["助老"], 0b0011, (yes,)),  # lives outside 甲旗
        "d": vol("d", village, ["助老"], 0b0011, (yes, later_no)),  # said 不要推荐 afterwards
        "e": vol("e", village, ["助老"], 0b0001, (no, later_yes)),  # said 恢复推荐 afterwards
        "f": vol("f", village, ["助老"], 0b0011, (yes,), recommend_opt_out=True),
        "g": vol("g", village, ["助老"], 0b0011, (yes,), deleted_at=now),  # deleted their data
        "h": vol("h", town, ["环保"], 0b0100, (yes,)),
    }
    places = {"root": root.id, "county": county.id, "town": town.id, "village": village.id, "other": other.id}
    return people, places


def _names(ids: list[int], people: dict[str, int]) -> set[str]:
    back = {v: k for k, v in people.items()}
    return {back[i] for i in ids if i in back}


def test_place_audience_is_the_live_people_of_the_whole_subtree(push: PushService) -> None:
    now = utcnow()
    with push.rt.sessions() as s:
        people, places = _world(s, push.rt, now)
        assert _names(volunteer_ids(s, {"kind": "place", "place_id": places["town"]}), people) == \
            {"a", "b", "d", "e", "f", "h"}
        assert _names(volunteer_ids(s, {"kind": "place", "place_id": places["village"]}), people) == \
            {"a", "d", "e", "f"}
        assert _names(volunteer_ids(s, {"kind": "place", "place_id": places["other"]}), people) == {"c"}
        assert _names(volunteer_ids(s, {"kind": "place", "place_id": places["root"]}), people) == \
            {"a", "b", "c", "d", "e", "f", "h"}
        assert describe(s, {"kind": "place", "place_id": places["town"]}) == "住在乙镇的志愿者"
        s.rollback()


def test_interests_audience_only_people_who_agreed_to_recommendations(push: PushService) -> None:
    now = utcnow()
    with push.rt.sessions() as s:
        people, places = _world(s, push.rt, now)

        def who(**aud: Any) -> set[str]:
            return _names(volunteer_ids(s, {"kind": "interests", **aud}), people)

        # Latest decision counts: d withdrew (out), e withdrew and came back (in); b never agreed; f turned
        # recommendations off; g is deleted.
        assert who(place_id=places["root"]) == {"a", "c", "e", "h"}
        assert who() == {"a", "c", "e", "h"}  # no place: anywhere
        assert who(place_id=places["county"]) == {"a", "e", "h"}
        assert who(place_id=places["county"], categories=["助老"]) == {"a", "e"}
        assert who(place_id=places["county"], categories=["助老", "环保"]) == {"a", "e", "h"}
        assert who(place_id=places["county"], categories=["助老"], availability_mask=0b0010) == {"a"}
        assert who(place_id=places["county"], availability_mask=0b0100) == {"h"}
        assert who(place_id=places["other"], categories=["环保"]) == set()
        pv = push.preview(s, {"kind": "interests", "place_id": places["county"], "categories": ["助老"]})
        assert (pv.total, pv.wechat) == (2, 2)
        s.rollback()


def test_interests_notice_reaches_exactly_that_audience(push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    with push.rt.sessions() as s:
        people, places = _world(s, push.rt, now)
        s.commit()
    nid = send_notice(push, {"kind": "interests", "place_id": places["county"], "categories": ["助老"]}, now,
                      title="助老活动", body="周六上午陪老人聊天，愿意来的回复1。")
    got = {addr for (_, addr), n in fake.sent.items() if n}
    assert got == {"o-a", "o-e"}
    assert all(n == 1 for n in fake.sent.values())
    with push.rt.sessions() as s:
        assert push.progress(s, nid).counts == {"sent": 2}


def test_fanout_rows_numbered_into_batches_once(push: PushService) -> None:
    now = utcnow()
    size = push.rt.config.push.batch_size
    with push.rt.sessions() as s:
        team = new_team(s)
        vids = [person(s, push.rt, now, f"队员{i}", openid=f"o{i}", team=team, notices_off=(i == 3)).id
                for i in range(2 * size + 3)]
        notice = push.create(s, title="通知", body="内容", audience={"kind": "team", "team_id": team.id}, now=now)
        assert notice is not None
        _insert_deliveries(s, notice, now, size)
        _insert_deliveries(s, notice, now, size)  # a repeated fan-out adds nothing
        rows = sorted(s.scalars(select(Delivery).where(Delivery.notice_id == notice.id)), key=lambda d: d.id)
        assert [d.volunteer_id for d in rows] == sorted(vids)
        assert [d.batch for d in rows] == [i // size for i in range(len(vids))]
        assert [(d.status.value, d.reason) for d in rows if d.volunteer_id == vids[3]] == [("skipped", "本人已关闭通知")]
        assert {d.status.value for d in rows if d.volunteer_id != vids[3]} == {"queued"}
        late = person(s, push.rt, now, "新队员", openid="o-late", team=team).id
        _insert_deliveries(s, notice, now, size)  # someone who joined since: numbered after the others
        last = s.scalars(select(Delivery).where(Delivery.notice_id == notice.id, Delivery.volunteer_id == late)).one()
        assert last.batch == len(vids) // size
        s.rollback()
