"""Statistics page and CSV (operator: whole region; leader: own teams; other coordinators: 403), the
figures on known data (review time, attendance rate, local months, counties), and the robot webhook form."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.web.admin.auth import create_coordinator_login
from bot.web.admin.stats_views import valid_wecom_webhook
from data.models import (
    Activity,
    ActivityStatus,
    Coordinator,
    Place,
    ServiceRecord,
    Signup,
    SignupStatus,
    Team,
    TeamKind,
    TeamMember,
    Volunteer,
)
from data.models_push import ReviewEscalation
from data.stats import count_active, count_volunteers, county_names, region_stats
from data.timeutil import to_utc, utcnow
from tests.push.helpers import person

from .conftest import PASSWORD, Admin

TITLES = ("总览", "队伍（按类型）", "按服务类别", "按旗县区", "按月", "报名到场率", "审核用时")
HOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


def _csv(resp: object) -> list[list[str]]:
    body: bytes = resp.data  # type: ignore[attr-defined]
    assert body.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _team_id(rt: Runtime, name: str) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(Team.id).where(Team.name == name)) or 0)


def test_operator_sees_the_region_with_csv_per_table(app: Flask, rt: Runtime) -> None:
    ops = Admin(app.test_client())
    assert ops.login("ops").status_code == 302
    page = ops.get("/admin/stats")
    assert page.status_code == 200
    for title in TITLES:
        assert title in page.text
    assert "西乌旗草原志愿服务队" in page.text and "阳光社区志愿服务队" in page.text
    with rt.sessions() as s:
        volunteers = s.scalar(select(func.count()).select_from(Volunteer))
        teams = s.scalar(select(func.count()).select_from(Team))
    assert f"志愿者 {volunteers} 人" in page.text
    rows = _csv(ops.get("/admin/stats.csv?table=overview"))
    assert rows[0] == ["指标", "数值"] and rows[1] == ["志愿者", str(volunteers)]
    kinds = _csv(ops.get("/admin/stats.csv?table=teams"))
    assert kinds[0] == ["队伍类型", "队伍数"] and kinds[-1] == ["合计", str(teams)]
    assert ["社区志愿服务队", "3"] in kinds
    for key in ("category", "place", "month", "attendance", "review"):
        r = ops.get(f"/admin/stats.csv?table={key}")
        assert r.status_code == 200 and r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
        table = _csv(r)
        assert table[-1][0] == "合计" and len({len(row) for row in table}) == 1
    places = [row[0] for row in _csv(ops.get("/admin/stats.csv?table=place"))[1:]]
    assert "新城区" in places and "西乌珠穆沁旗" in places and not any("社区" in p for p in places)
    assert ops.get("/admin/stats.csv?table=nope").status_code == 404
    assert 'href="/admin/stats"' in ops.get("/admin/").text


def test_leader_sees_only_their_teams(app: Flask, admin: Admin, rt: Runtime) -> None:
    page = admin.get("/admin/stats")  # wangxy leads 阳光社区志愿服务队 only
    assert page.status_code == 200
    assert "阳光社区志愿服务队" in page.text and "西乌旗" not in page.text and "赛罕区青年" not in page.text
    att = _csv(admin.get("/admin/stats.csv?table=attendance"))
    assert {row[0] for row in att[1:]} <= {"阳光社区志愿服务队", "合计"}
    mine = _team_id(rt, "阳光社区志愿服务队")
    with rt.sessions() as s:
        region, own = count_volunteers(s, None), count_volunteers(s, [mine])
        members = s.scalar(select(func.count()).select_from(TeamMember).where(TeamMember.team_id == mine))
        acts = s.scalar(select(func.count()).select_from(Activity).where(
            Activity.team_id == mine, Activity.status.in_([ActivityStatus.PUBLISHED, ActivityStatus.FINISHED])))
    assert members <= own < region
    overview = dict(_csv(admin.get("/admin/stats.csv?table=overview"))[1:])
    assert overview["志愿者"] == str(own) and overview["活动"] == str(acts)
    kinds = _csv(admin.get("/admin/stats.csv?table=teams"))
    assert kinds[1:] == [["社区志愿服务队", "1"], ["合计", "1"]]


def test_non_leader_coordinator_gets_403(app: Flask, rt: Runtime) -> None:
    with rt.sessions.begin() as s:
        create_coordinator_login(s, username="lijg", password=PASSWORD)  # 阳光社区, not the leader
    li = Admin(app.test_client())
    assert li.login("lijg").status_code == 302
    assert li.get("/admin/stats").status_code == 403
    assert li.get("/admin/stats.csv?table=overview").status_code == 403
    assert 'href="/admin/stats"' not in li.get("/admin/").text
    assert li.get("/admin/teams").status_code == 200
    r = li.post(f"/admin/teams/{_team_id(rt, '阳光社区志愿服务队')}/webhook", {"webhook": HOOK})
    assert r.status_code == 403
    anon = Admin(app.test_client())
    assert anon.get("/admin/stats").status_code == 302


def test_figures_on_known_data(rt: Runtime) -> None:
    """A fresh team: review time from the escalation ladder and from confirmed_at, the attendance rate,
    local months (a UTC evening on the 31st is the 1st in Shanghai), hours and the county of a village."""
    now = utcnow()
    with rt.sessions.begin() as s:
        village = s.scalar(select(Place).where(Place.name == "阳光社区"))
        team = Team(name="统计测试队", kind=TeamKind.YOUTH, place_id=village.id)
        s.add(team)
        s.flush()
        people = [person(s, rt, now, f"统计{i}", team=team) for i in range(5)]
        old = person(s, rt, now - timedelta(days=400), "老队员", team=team)
        begun = to_utc(datetime(2024, 2, 1, 1, 0))  # 2024-01-31 17:00 UTC
        ended = begun + timedelta(hours=2)
        past = Activity(title="过去的活动", category="助老", team_id=team.id, place_id=village.id,
                        starts_at=begun, ends_at=ended, capacity=10, status=ActivityStatus.FINISHED, needs_review=True,
                        created_at=ended, updated_at=ended)
        soon = Activity(title="将来的活动", category="环境保护", team_id=team.id, place_id=None,
                        starts_at=now + timedelta(days=3), ends_at=now + timedelta(days=3, hours=2), capacity=10,
                        status=ActivityStatus.PUBLISHED, created_at=now, updated_at=now)
        draft = Activity(title="草稿", category="助老", team_id=team.id, starts_at=now, ends_at=now, capacity=1,
                         status=ActivityStatus.DRAFT, created_at=now, updated_at=now)
        s.add_all([past, soon, draft])
        s.flush()
        statuses = [SignupStatus.ATTENDED, SignupStatus.ATTENDED, SignupStatus.ATTENDED, SignupStatus.NO_SHOW,
                    SignupStatus.CANCELLED]
        signups = []
        for v, st in zip(people, statuses, strict=True):
            su = Signup(activity_id=past.id, volunteer_id=v.id, status=st, party_size=1,
                        created_at=ended - timedelta(days=10), updated_at=ended)
            s.add(su)
            signups.append(su)
        s.add(Signup(activity_id=soon.id, volunteer_id=people[0].id, status=SignupStatus.CONFIRMED, party_size=1,
                     created_at=now - timedelta(days=1), updated_at=now))
        s.flush()
        signups[0].reviewed_by, signups[0].confirmed_at = None, signups[0].created_at + timedelta(hours=99)
        s.add(ReviewEscalation(signup_id=signups[0].id, decided_at=signups[0].created_at + timedelta(hours=2),
                               outcome="approved"))
        s.add(ReviewEscalation(signup_id=signups[1].id, decided_at=signups[1].created_at + timedelta(hours=48),
                               outcome="auto_confirmed"))
        coord_id = s.scalar(select(Coordinator.id).limit(1))
        signups[2].reviewed_by, signups[2].confirmed_at = coord_id, signups[2].created_at + timedelta(hours=4)
        for su in signups[:3]:
            s.add(ServiceRecord(volunteer_id=su.volunteer_id, activity_id=past.id, activity_name=past.title,
                                service_date=past.starts_at, place_text="阳光社区", content="x", hours=Decimal("1.5"),
                                organiser=team.name, person_in_charge="王", recorded_by="王", recorded_at=ended))
        team_id, old_id = team.id, old.id
    with rt.sessions() as s:
        st = region_stats(s, [team_id], now)
        assert st.volunteers == 6  # five who signed up and the member who never did
        assert st.active == 1 and count_active(s, [team_id], now, days=5000) == 5 and old_id
        cat = {r[0]: r[1:] for r in st.table("category").rows}  # type: ignore[union-attr]
        assert cat["助老"] == (1, 3, "4.5") and cat["环境保护"] == (1, 0, "0.0") and cat["合计"] == (2, 3, "4.5")
        month = {r[0]: r[1:] for r in st.table("month").rows}  # type: ignore[union-attr]
        assert month["2024-02"] == (1, 3, "4.5") and "2024-01" not in month
        place = {r[0]: r[1:] for r in st.table("place").rows}  # type: ignore[union-attr]
        assert place["新城区"] == (1, 3, "4.5") and place["未填地点"] == (1, 0, "0.0")
        assert st.table("attendance").rows == [("统计测试队", 4, 3, "75.0%"), ("合计", 4, 3, "75.0%")]  # type: ignore[union-attr]
        # (2 h + 48 h + 4 h) / 3 = 18 h; one of them confirmed automatically
        assert st.table("review").rows == [("统计测试队", 3, "18.0", 1), ("合计", 3, "18.0", 1)]  # type: ignore[union-attr]
        assert county_names(s)[s.scalar(select(Place.id).where(Place.name == "呼和浩特市"))] == "呼和浩特市（市级）"


@pytest.mark.parametrize("url,ok", [
    (HOOK, True),
    ("  " + HOOK + "  ", True),
    (HOOK.replace("https", "http"), False),
    (HOOK.replace("qyapi.weixin.qq.com", "qyapi.weixin.qq.com.evil.cn"), False),
    (HOOK.replace("/send", "/upload_media"), False),
    (HOOK + "&debug=1", False),
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=", False),
    ("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc<script>", False),
    ("https://user@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx", False),
    ("not a url", False),
])
def test_webhook_validation(url: str, ok: bool) -> None:
    assert (valid_wecom_webhook(url) is not None) is ok


def test_leader_sets_team_webhook(admin: Admin, rt: Runtime) -> None:
    mine, other = _team_id(rt, "阳光社区志愿服务队"), _team_id(rt, "西乌旗草原志愿服务队")
    page = admin.get("/admin/teams")
    assert page.status_code == 200 and f"/admin/teams/{mine}/webhook" in page.text and "西乌旗" not in page.text
    assert admin.c.post(f"/admin/teams/{mine}/webhook", data={"webhook": HOOK}).status_code == 400  # no CSRF
    r = admin.post(f"/admin/teams/{mine}/webhook", {"webhook": "https://example.com/hook?key=abcdefgh"})
    assert r.status_code == 302
    assert "机器人地址不对" in admin.get("/admin/teams").text
    with rt.sessions() as s:
        assert s.get(Team, mine).wecom_webhook is None
    assert admin.post(f"/admin/teams/{mine}/webhook", {"webhook": " " + HOOK}).status_code == 302
    with rt.sessions() as s:
        assert s.get(Team, mine).wecom_webhook == HOOK
    assert "已设置" in admin.get("/admin/teams").text
    assert admin.post(f"/admin/teams/{other}/webhook", {"webhook": HOOK}).status_code == 404
    assert admin.post(f"/admin/teams/{mine}/webhook", {"webhook": ""}).status_code == 302
    with rt.sessions() as s:
        assert s.get(Team, mine).wecom_webhook is None
