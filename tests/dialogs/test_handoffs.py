"""Hand-offs as whole conversations ending in the right row: the team of the activity on screen, a team
reachable only by its WeCom robot, a team nobody can be told about (waiting list and one question)."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select

from data import handoffs
from data.models import Activity, Coordinator, Team, TeamCoordinator
from data.models_push import Handoff, HandoffStatus
from dialogs import state as states

from .conftest import Chat, P
from .test_flows import n, tomorrow


def _rows(c: Chat) -> list[Handoff]:
    return list(c.session.scalars(select(Handoff).where(Handoff.volunteer_id == c.volunteer.id)
                                  .order_by(Handoff.id)))


def _on_screen_of_another_team(c: Chat) -> Activity:
    """Open the details of an activity of tomorrow's list whose team is not the person's home team."""
    c.send(*tomorrow(c))
    st = states.load(c.store, c.volunteer.id)
    home, _ = handoffs.home_team(c.session, c.volunteer)
    for i, aid in enumerate(st.listed, 1):
        act = c.session.get(Activity, aid)
        assert act is not None
        if home is None or act.team_id != home.id:
            c.send(*n(i))
            return act
    raise AssertionError("tomorrow's list has no activity of another team")


def _silence(c: Chat, team_id: int, wecom: str | None) -> None:
    """The team's coordinators have only a landline and no WeChat; its robot is `wecom`."""
    for coord in c.session.scalars(select(Coordinator).join(TeamCoordinator).where(
            TeamCoordinator.team_id == team_id)):
        coord.contact_phone, coord.volunteer_id = "0471-1234567", None
    team = c.session.get(Team, team_id)
    assert team is not None
    team.wecom_webhook = wecom
    c.session.flush()


def test_activity_on_screen_routes_to_its_team(zhang: Chat) -> None:
    act = _on_screen_of_another_team(zhang)
    out = zhang.send("9", P("human_handoff"))
    row, = _rows(zhang)
    assert row.team_id == act.team_id and row.activity_id == act.id
    assert row.route == handoffs.reach(zhang.session, act.team).route and row.status == HandoffStatus.WAITING
    coord = zhang.session.get(Coordinator, row.coordinator_id)
    assert coord is not None and coord.name in out and coord.contact_phone in out
    (_vid, cid, _transcript, hid), = zhang.hooks.named("handoff_requested")
    assert cid == coord.id and hid == row.id


def test_no_activity_routes_to_home_team(zhang: Chat) -> None:
    zhang.send("9", P("human_handoff"))
    row, = _rows(zhang)
    home, _ = handoffs.home_team(zhang.session, zhang.volunteer)
    assert row.team_id == (home.id if home else None) and row.activity_id is None


def test_team_with_only_a_wecom_robot(zhang: Chat) -> None:
    act = _on_screen_of_another_team(zhang)
    _silence(zhang, act.team_id, "http://127.0.0.1:9/cgi-bin/webhook/send?key=k")
    team = zhang.session.get(Team, act.team_id)
    out = zhang.send("9", P("human_handoff"))
    row, = _rows(zhang)
    assert row.route == "wecom" and row.team_id == act.team_id
    assert team is not None and team.name in out and "会有人打电话联系您" in out
    assert zhang.at is None


def test_nobody_reachable_waits_and_asks_one_question(zhang: Chat) -> None:
    act = _on_screen_of_another_team(zhang)
    _silence(zhang, act.team_id, None)
    out = zhang.send("9", P("human_handoff"))
    row, = _rows(zhang)
    assert row.route == "waiting" and row.team_id == act.team_id
    assert "已经请" not in out and "会有人打电话" not in out  # no promise nobody was told to keep
    assert out.count("？") == 1 and zhang.at == "help.callback"
    out = zhang.send("下午三点以后", P("search_activities"))
    zhang.session.refresh(row)
    assert row.callback_note == "下午三点以后" and "记下了" in out
    assert zhang.at is None


def test_nobody_reachable_takes_a_number(newbie: Chat, vault: Any) -> None:
    newbie.send("9", P("human_handoff"))
    row, = _rows(newbie)
    for team_id in ([row.team_id] if row.team_id else []):
        _silence(newbie, team_id, None)
    # Make the route `waiting` whatever the default coordinator is: nobody is reachable anywhere.
    for coord in newbie.session.scalars(select(Coordinator)):
        coord.contact_phone, coord.volunteer_id = "0471-1234567", None
    for team in newbie.session.scalars(select(Team)):
        team.wecom_webhook = None
    newbie.session.flush()
    out = newbie.send("9", P("human_handoff"))
    second = _rows(newbie)[-1]
    assert second.route == "waiting" and "手机号" in out and newbie.at == "help.callback"
    out = newbie.send("13912345678", P("bind_phone", phone="13912345678"))
    newbie.session.refresh(second)
    assert second.callback_masked == "139****5678" and vault.decrypt(second.callback_enc) == "13912345678"
    assert "139****5678" in out
    assert newbie.volunteer.phone_enc is None  # a number to call back on is not a bound phone


def test_wechat_only_deployment_promises_no_call_by_a_mobile(zhang: Chat) -> None:
    """No SMS provider (deploy/config.yaml's default): a coordinator reachable only on a mobile is not told
    anything, so 9 promises no call; the request waits on the admin page and one question is asked."""
    act = _on_screen_of_another_team(zhang)
    for coord in zhang.session.scalars(select(Coordinator).join(TeamCoordinator).where(
            TeamCoordinator.team_id == act.team_id)):
        coord.contact_phone, coord.volunteer_id = "13900001111", None
    zhang.session.flush()
    assert handoffs.reach(zhang.session, zhang.session.get(Team, act.team_id)).route == "sms"
    zhang.settings = dataclasses.replace(zhang.settings, sms_out=False)
    out = zhang.send("9", P("human_handoff"))
    row, = _rows(zhang)
    assert row.route == "waiting" and row.team_id == act.team_id
    assert "已经请" not in out and "会有人打电话" not in out and zhang.at == "help.callback"
