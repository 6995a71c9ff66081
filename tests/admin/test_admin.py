"""Coordinator pages through Flask's test client: log-in, lock-out, CSRF, scope, activities, review,
check-in by the last four digits, hours with the rounding rule, notices with preview and report, export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import select

from bot.push import PushService
from bot.runtime import Runtime
from data.models import Activity, ActivityStatus, Signup, SignupStatus, Team
from data.models_push import Delivery, Notice, NoticeStatus
from data.timeutil import to_local, utcnow
from tests.fakes.push_apis import FakeApis
from tests.push.helpers import person

from .conftest import Admin, token


def test_login_lockout_and_csrf(app: Flask, rt: Runtime) -> None:
    a = Admin(app.test_client())
    r = a.login("wangxy", "wrong-password")
    assert r.status_code == 401 and "还可以再试4次" in r.text
    for _ in range(4):
        r = a.login("wangxy", "wrong-password")
    assert "锁定" in r.text
    r = a.login("wangxy")  # the right password waits too
    assert r.status_code == 401 and "锁定" in r.text
    rt.store.delete("admin:fail:wangxy")
    assert a.login("wangxy").status_code == 302
    assert a.c.post("/admin/notices/new", data={"title": "x", "body": "y"}).status_code == 400  # no token
    assert a.get("/admin/").status_code == 200
    a.post("/admin/logout")
    assert a.get("/admin/").status_code == 302
    assert a.login("nobody").status_code == 401


def test_each_coordinator_sees_only_their_teams(app: Flask, rt: Runtime) -> None:
    with rt.sessions() as s:
        mine = s.scalar(select(Activity.id).join(Team).where(Team.name == "阳光社区志愿服务队"))
        other = s.scalar(select(Activity.id).join(Team).where(Team.name != "阳光社区志愿服务队"))
    wang = Admin(app.test_client())
    wang.login("wangxy")
    assert wang.get(f"/admin/activities/{mine}").status_code == 200
    assert wang.get(f"/admin/activities/{other}").status_code == 404
    assert "西乌旗" not in wang.get("/admin/activities").text
    ops = Admin(app.test_client())
    ops.login("ops")
    assert ops.get(f"/admin/activities/{other}").status_code == 200


def test_create_publish_and_cancel_with_notice(admin: Admin, rt: Runtime, push: PushService, fake: FakeApis) -> None:
    with rt.sessions() as s:
        team_id = s.scalar(select(Team.id).where(Team.name == "阳光社区志愿服务队"))
    start = to_local(utcnow() + timedelta(days=5)).replace(hour=9, minute=0)
    form = {"title": "重阳节包饺子", "team_id": team_id, "category": "助老", "capacity": "8",
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "address": "社区食堂", "physical_load": "1", "publish": "0", "auto_confirm": "1"}
    r = admin.post("/admin/activities/new", form)
    assert r.status_code == 302
    aid = int(r.headers["Location"].rstrip("/").split("/")[-1])
    with rt.sessions() as s:
        act = s.get(Activity, aid)
        assert act.status == ActivityStatus.DRAFT and act.auto_confirm and not act.needs_review
    admin.post(f"/admin/activities/{aid}/publish")
    now = utcnow()
    with rt.sessions() as s:
        v = person(s, rt, now, "报名人", openid="oSign", in_window=True)
        s.add(Signup(activity_id=aid, volunteer_id=v.id, status=SignupStatus.CONFIRMED, party_size=1, created_at=now,
                     updated_at=now, confirmed_at=now))
        s.commit()
        assert s.get(Activity, aid).status == ActivityStatus.PUBLISHED
    push.ctx.senders["wechat"].api.note_inbound("oSign")  # type: ignore[attr-defined]
    r = admin.post(f"/admin/activities/{aid}/cancel", {"reason": "天气原因"})
    assert r.status_code == 302 and "/admin/notices/" in r.headers["Location"]
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("custom", "oSign")] == 1
    body = [b for k, b in fake.requests if k == "custom"][0]["text"]["content"]
    assert "取消" in body and "重阳节包饺子" in body and "天气原因" in body
    page = admin.get(r.headers["Location"]).text
    assert "已送达" in page and "100%" in page


def test_review_checkin_hours_and_export(admin: Admin, rt: Runtime, push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    with rt.sessions() as s:
        team = s.scalars(select(Team).where(Team.name == "阳光社区志愿服务队")).one()
        act = Activity(title="陪老人聊天", category="助老", team_id=team.id, starts_at=now + timedelta(hours=1),
                       ends_at=now + timedelta(hours=3), capacity=5, needs_review=True, created_at=now, updated_at=now,
                       status=ActivityStatus.PUBLISHED, contact_name="王秀英", contact_phone="0471-6281234")
        s.add(act)
        s.flush()
        a = person(s, rt, now, "赵大妈", openid="oZhao", in_window=True, phone="13811112222")
        b = person(s, rt, now, "钱大爷", phone="13933332222")
        c = person(s, rt, now, "孙阿姨", phone="13755556666")
        ids = {}
        for v in (a, b, c):
            su = Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.PENDING, party_size=1,
                        created_at=now, updated_at=now)
            s.add(su)
            s.flush()
            ids[v.name] = su.id
        s.commit()
        aid = act.id
    push.ctx.senders["wechat"].api.note_inbound("oZhao")  # type: ignore[attr-defined]
    page = admin.get(f"/admin/activities/{aid}").text
    assert "待审核" in page and "138****2222" in page
    admin.post(f"/admin/signups/{ids['赵大妈']}/review", {"approve": "1"})
    admin.post(f"/admin/signups/{ids['钱大爷']}/review", {"approve": "1"})
    admin.post(f"/admin/signups/{ids['孙阿姨']}/review", {"approve": "0"})
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert "已确认" in str([b for k, b in fake.requests if k == "custom" and b["to"] == "oZhao"])
    with rt.sessions() as s:
        assert s.get(Signup, ids["孙阿姨"]).status == SignupStatus.CANCELLED

    # Two people share the last four digits 2222: the page asks which one.
    r = admin.post(f"/admin/activities/{aid}/checkin", {"last4": "2222"})
    assert r.status_code == 200 and "赵大妈" in r.text and "钱大爷" in r.text
    admin.post(f"/admin/signups/{ids['赵大妈']}/checkin")
    r = admin.post(f"/admin/activities/{aid}/checkin", {"last4": "9999"})
    assert r.status_code == 302
    r = admin.post(f"/admin/activities/{aid}/hours", {f"minutes_{ids['赵大妈']}": "100",
                                                     f"minutes_{ids['钱大爷']}": "2:10"})
    assert r.status_code == 302
    with rt.sessions() as s:
        hours = {s.get(Signup, sid).volunteer.name: s.get(Signup, sid).status for sid in ids.values()}
        assert hours["赵大妈"] == SignupStatus.ATTENDED and hours["钱大爷"] == SignupStatus.ATTENDED
    page = admin.get(f"/admin/activities/{aid}").text
    assert "1.50小时" in page and "2.00小时" in page  # 1 h 40 → 1.5; 2 h 10 → 2
    csv_text = admin.get("/admin/export.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["志愿者姓名", "性别", "联系电话"]
    mine = [r for r in rows if r[3] == "陪老人聊天"]
    assert sorted((r[0], Decimal(r[10])) for r in mine) == [("赵大妈", Decimal("1.50")), ("钱大爷", Decimal("2.00"))]
    assert all("****" in r[2] for r in mine)  # phones stay masked


def test_notice_preview_send_progress(admin: Admin, rt: Runtime, push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    with rt.sessions() as s:
        team = s.scalars(select(Team).where(Team.name == "阳光社区志愿服务队")).one()
        team_id = team.id
        person(s, rt, now, "队员一", openid="oT1", team=team)
        person(s, rt, now, "队员二", phone="13600001111", team=team)
        person(s, rt, now, "队员三", openid="oT3", notices_off=True, team=team)
        s.commit()
    r = admin.post("/admin/notices/new", {"audience": f"team:{team_id}", "team_id": team_id, "title": "周六大扫除",
                                          "body": "周六上午9点在社区广场集合，请带手套。"})
    assert r.status_code == 302
    url = r.headers["Location"]
    page = admin.get(url).text
    assert "发送前确认" in page and "确认发送" in page and "已关闭通知，不发：1 人" in page
    nid = int(url.rstrip("/").split("/")[-1])
    admin.post(f"/admin/notices/{nid}/send")
    assert admin.get(url).text.count('http-equiv="refresh"') == 1
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    with rt.sessions() as s:
        n = s.get(Notice, nid)
        assert n.status == NoticeStatus.DONE and n.total > 0
        sent = s.scalars(select(Delivery).where(Delivery.notice_id == nid, Delivery.status == "sent")).all()
    assert len(sent) == fake.total("template") + fake.total("custom") + len(
        {b["to"] for k, b in fake.requests if k == "sms"})
    page = admin.get(url).text
    assert "100%" in page and "【阳光社区志愿服务队】周六大扫除" in page
    progress = admin.get(f"/admin/notices/{nid}/progress.json").get_json()
    assert progress["status"] == "done" and progress["percent"] == 100
    other = Admin(admin.c.application.test_client())
    other.login("batu")
    assert other.get(url).status_code == 404
    assert token(admin.get("/admin/notices").text)
