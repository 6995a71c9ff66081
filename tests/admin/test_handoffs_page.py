"""The admin page of people waiting to be contacted after a hand-off: only the coordinator's teams, numbers
masked until one is shown on purpose, a CSRF-protected button to mark one contacted."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from bot.runtime import Runtime
from data.models import Team, Volunteer
from data.models_push import Handoff, HandoffStatus
from data.timeutil import utcnow

from .conftest import Admin


def _handoff(rt: Runtime, team_name: str, name: str, route: str = "waiting", phone: str | None = None,
             note: str | None = None) -> int:
    with rt.sessions.begin() as s:
        team = s.scalars(select(Team).where(Team.name == team_name)).one()
        v = Volunteer(name=name, created_at=utcnow(), skills=[], categories=[], availability=0, max_load=2)
        s.add(v)
        s.flush()
        row = Handoff(volunteer_id=v.id, team_id=team.id, route=route, status=HandoffStatus.WAITING,
                      created_at=utcnow() - timedelta(minutes=5), callback_note=note,
                      callback_enc=rt.vault.encrypt(phone) if phone else None,
                      callback_masked=(phone[:3] + "****" + phone[-4:]) if phone else None)
        s.add(row)
        s.flush()
        return row.id


def test_waiting_list_lists_own_teams_and_marks_contacted(admin: Admin, app: Flask, rt: Runtime) -> None:
    mine = _handoff(rt, "阳光社区志愿服务队", "孙大妈", phone="13912345678", note="下午三点以后")
    other = _handoff(rt, "西乌旗草原志愿服务队", "巴特尔大爷")
    page = admin.get("/admin/handoffs").text
    assert "孙大妈" in page and "139****5678" in page and "下午三点以后" in page
    assert "13912345678" not in page  # masked, as in every coordinator view
    assert "巴特尔大爷" not in page  # another team's person is not this coordinator's to call

    # The number is shown on purpose, for one person, by a POST with the CSRF token.
    assert admin.c.post(f"/admin/handoffs/{mine}/number", data={}).status_code in (400, 403)
    assert admin.post(f"/admin/handoffs/{other}/number").status_code == 404
    shown = admin.post(f"/admin/handoffs/{mine}/number")
    assert shown.status_code == 200 and "13912345678" in shown.text

    # Without the CSRF token nothing changes.
    r = admin.c.post(f"/admin/handoffs/{mine}/contacted", data={})
    assert r.status_code in (400, 403)
    with rt.sessions() as s:
        assert s.get(Handoff, mine).status == HandoffStatus.WAITING  # type: ignore[union-attr]

    # Another team's hand-off cannot be marked from here.
    assert admin.post(f"/admin/handoffs/{other}/contacted").status_code == 404

    r = admin.post(f"/admin/handoffs/{mine}/contacted")
    assert r.status_code == 302
    with rt.sessions() as s:
        row = s.get(Handoff, mine)
        assert row is not None and row.status == HandoffStatus.CONTACTED and row.contacted_at is not None
        assert row.contacted_by is not None
        assert s.get(Handoff, other).status == HandoffStatus.WAITING  # type: ignore[union-attr]
    page = admin.get("/admin/handoffs").text  # (the flash of the redirect was shown by then)
    assert "13912345678" not in page and "现在没有等待联系的人" in page

    # The other team's coordinator sees theirs; the operator sees every team's.
    batu = Admin(app.test_client())
    assert batu.login("batu").status_code == 302
    assert "巴特尔大爷" in batu.get("/admin/handoffs").text
    ops = Admin(app.test_client())
    assert ops.login("ops").status_code == 302
    assert "巴特尔大爷" in ops.get("/admin/handoffs").text
