"""A shared location: offered to be remembered, kept only on request, and silent reports leave the talk alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from data.models import Consent

from .conftest import Chat

EMPTY = {"intent": {"name": "nlu_fallback"}, "entities": []}
POINT = (40.8500, 111.6810)


def _consents(chat: Chat) -> list[bool]:
    return list(chat.session.scalars(select(Consent.granted).where(
        Consent.volunteer_id == chat.volunteer.id, Consent.kind == "location").order_by(Consent.id)))


def test_shared_point_offers_to_remember_and_keeps_it_only_on_request(zhang: Chat) -> None:
    out = zhang.send("", EMPTY, kind="location", location=POINT)
    assert "离您近的活动有" in out and "记住位置" in out
    assert zhang.volunteer.last_lat is None and zhang.at == "search.list"

    out = zhang.send("记住位置", EMPTY)
    assert "记住了" in out and "忘掉位置" in out
    assert (zhang.volunteer.last_lat, zhang.volunteer.last_lon) == POINT
    assert _consents(zhang) == [True]
    assert zhang.at == "search.list"  # the list is still there: 第二个 still works
    out = zhang.send("2", {"intent": {"name": "choose"}, "entities": [{"entity": "number", "value": 2}]})
    assert "回复1报名" in out

    # Decided once: no more offers.
    out = zhang.send("", EMPTY, kind="location", location=(40.81, 111.70))
    assert "记住位置" not in out
    assert (zhang.volunteer.last_lat, zhang.volunteer.last_lon) == (40.81, 111.70)

    out = zhang.send("忘掉位置", EMPTY)
    assert "忘掉" in out and "记住位置" in out
    assert zhang.volunteer.last_lat is None and zhang.volunteer.last_lon is None
    assert _consents(zhang) == [True, False]
    zhang.send("", EMPTY, kind="location", location=POINT)
    assert zhang.volunteer.last_lat is None


def test_remember_before_any_point_says_how_to_send_one(zhang: Chat) -> None:
    out = zhang.send("请记住我的位置", EMPTY)
    assert "“+”" in out and "位置" in out
    assert zhang.volunteer.last_lat is None and _consents(zhang) == [True]
    zhang.send("", EMPTY, kind="location", location=POINT)
    assert (zhang.volunteer.last_lat, zhang.volunteer.last_lon) == POINT


@pytest.mark.parametrize("event", ["LOCATION", "VIEW"])
def test_silent_events_leave_the_conversation_alone(zhang: Chat, event: str) -> None:
    zhang.send("", EMPTY, kind="event", event="CLICK", event_key="MENU_FIND")
    before = zhang.state
    assert before.at == "search.list" and before.listed
    out = zhang.send("", EMPTY, kind="event", event=event, location=POINT if event == "LOCATION" else None)
    assert out == ""
    after = zhang.state
    assert (after.at, after.listed, after.last) == (before.at, before.listed, before.last)
    assert zhang.volunteer.last_lat is None  # no location consent: a report is not kept


def test_location_report_is_kept_with_consent(zhang: Chat) -> None:
    zhang.send("记住位置", EMPTY)
    zhang.send("", EMPTY, kind="event", event="LOCATION", location=POINT)
    assert (zhang.volunteer.last_lat, zhang.volunteer.last_lon) == POINT
