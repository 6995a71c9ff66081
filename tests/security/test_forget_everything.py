"""Attack 8: after 删除我的信息 or unfollowing, nothing may lead back to the person; 保存两年 is enforced."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, or_, select

from bot.pipeline import Inbound
from bot.runtime import Runtime
from bot.web import runtime_of
from data.models import (
    Activity,
    ChannelIdentity,
    Consent,
    MessageLog,
    ServiceRecord,
    Signup,
    Team,
    TeamMember,
    Volunteer,
)
from data.models_push import Notice
from data.profiles import enforce_retention

from .conftest import AppMaker, wechat

PHONE = "13712348765"


def _count(rt: Runtime, model: Any, *where: Any) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _volunteer_of(rt: Runtime, openid: str) -> int:
    with rt.sessions() as s:
        return s.scalars(select(ChannelIdentity.volunteer_id).where(ChannelIdentity.external_id == openid)).one()


def _full_profile(app: Flask) -> tuple[Any, int]:
    """A volunteer who joined a team by QR code, consented, bound a phone and signed up."""
    rt = runtime_of(app)
    with rt.sessions() as s:
        team_id = s.scalars(select(Team.id).where(Team.name == "阳光社区志愿服务队")).one()
    d = wechat(app)
    d.event("subscribe", key=f"qrscene_team_{team_id}")
    for message in ("1", "阳光社区", "跳过", "跳过", f"绑定手机{PHONE}"):
        d.text(message)
    with rt.sessions() as s:
        body = s.scalars(select(Notice.body).where(Notice.kind == "bind_code")).one()
    assert "绑定好了" in d.text(re.search(r"验证码是(\d{6})", body).group(1)).text  # type: ignore[union-attr]
    d.text("找活动")
    d.text("1")
    d.text("1")
    d.text("1")
    vid = _volunteer_of(rt, d.openid)
    assert _count(rt, TeamMember, TeamMember.volunteer_id == vid) == 1
    assert _count(rt, Consent, Consent.volunteer_id == vid) >= 1
    assert _count(rt, ChannelIdentity, ChannelIdentity.volunteer_id == vid) == 2  # openid and the number
    assert _count(rt, Signup, Signup.volunteer_id == vid) == 1
    return d, vid


def _nothing_left(rt: Runtime, vid: int, openid: str) -> None:
    assert _count(rt, MessageLog, or_(MessageLog.volunteer_id == vid, MessageLog.address == openid)) == 0
    assert _count(rt, ChannelIdentity, ChannelIdentity.volunteer_id == vid) == 0
    assert _count(rt, ChannelIdentity, ChannelIdentity.external_id == openid) == 0
    assert _count(rt, ChannelIdentity, ChannelIdentity.external_id == rt.vault.lookup_hash(PHONE)) == 0
    assert _count(rt, TeamMember, TeamMember.volunteer_id == vid) == 0
    assert _count(rt, Consent, Consent.volunteer_id == vid) == 0
    assert _count(rt, Notice, Notice.kind == "bind_code") == 0
    with rt.sessions() as s:
        v = s.get(Volunteer, vid)
        assert v is not None and v.deleted_at is not None
        assert (v.name, v.phone_hash, v.phone_enc, v.phone_masked, v.home_place_id) == (None,) * 5
        # The sign-up stays for the activity's figures, without a person behind it.
        assert s.scalar(select(func.count()).select_from(Signup).where(Signup.volunteer_id == vid)) == 1


def _sms_is_a_stranger(app: Flask, vid: int) -> None:
    """The next SMS from the same number is a stranger: the old sign-ups are not linked back."""
    out = app.extensions["wechat"].pipeline.handle(Inbound(channel="sms", sender=PHONE, text="我的活动"))
    assert out.volunteer_id is not None and out.volunteer_id != vid


def test_delete_my_information_removes_everything(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    d, vid = _full_profile(app)
    assert "删除" in d.text("删除我的信息").text
    assert "删除了您的个人资料" in d.text("1").text
    _nothing_left(rt, vid, d.openid)
    _sms_is_a_stranger(app, vid)


def test_unfollowing_removes_everything(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    d, vid = _full_profile(app)
    assert d.event("unsubscribe").empty
    _nothing_left(rt, vid, d.openid)
    _sms_is_a_stranger(app, vid)
    # Following again starts afresh: a new record, asked for consent again.
    assert "同意" in d.event("subscribe").text
    assert _volunteer_of(rt, d.openid) != vid


# -- 保存两年 -------------------------------------------------------------------------------------------
NOW = datetime(2027, 3, 1, 4, 0)


def _person(s: Any, rt: Runtime, name: str, openid: str, last: datetime) -> Volunteer:
    v = Volunteer(name=name, created_at=last, skills=[], categories=[], availability=0, max_load=2,
                  phone_hash=rt.vault.lookup_hash(f"1380000{len(openid) * 7 + ord(openid[1]):04d}"))
    s.add(v)
    s.flush()
    s.add(ChannelIdentity(volunteer_id=v.id, channel="wechat", external_id=openid, created_at=last,
                          last_inbound_at=last))
    s.add(MessageLog(volunteer_id=v.id, channel="wechat", direction="in", address=openid, text=f"我是{name}",
                     created_at=last))
    s.add(Consent(volunteer_id=v.id, kind="privacy", granted=True, channel="wechat", at=last))
    s.flush()
    return v


@pytest.fixture
def people(make_app: AppMaker) -> tuple[Runtime, int, int, int]:
    rt = runtime_of(make_app())
    with rt.sessions() as s:
        gone = _person(s, rt, "两年没来", "oGone", NOW - timedelta(days=731))
        recent = _person(s, rt, "上月还来", "oRecent", NOW - timedelta(days=30))
        worker = _person(s, rt, "两年前服务过", "oWorker", NOW - timedelta(days=900))
        act = s.scalars(select(Activity)).first()
        assert act is not None
        # Served 20 months ago: still inside two years.
        s.add(ServiceRecord(volunteer_id=worker.id, activity_id=act.id, activity_name=act.title,
                            service_date=NOW - timedelta(days=600), place_text="阳光社区", content="助老",
                            hours=2, organiser="阳光社区志愿服务队", person_in_charge="王秀英", recorded_by="王秀英",
                            recorded_at=NOW - timedelta(days=600)))
        s.commit()
        return rt, gone.id, recent.id, worker.id


def test_retention_forgets_after_two_years_and_keeps_the_rest(people: tuple[Runtime, int, int, int]) -> None:
    rt, gone, recent, worker = people
    with rt.sessions() as s:
        done = enforce_retention(s, NOW)
        s.commit()
    assert done["volunteers"] == 1
    assert _count(rt, ChannelIdentity, ChannelIdentity.external_id == "oGone") == 0
    assert _count(rt, MessageLog, MessageLog.address == "oGone") == 0
    assert _count(rt, MessageLog, MessageLog.address == "oWorker") == 0  # a line older than two years
    assert _count(rt, MessageLog, MessageLog.address == "oRecent") == 1
    with rt.sessions() as s:
        assert s.get(Volunteer, gone).name is None  # type: ignore[union-attr]
        assert s.get(Volunteer, recent).name == "上月还来"  # type: ignore[union-attr]
        assert s.get(Volunteer, worker).name == "两年前服务过"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(ServiceRecord)
                        .where(ServiceRecord.volunteer_id == worker)) == 1
    # One day short of two years nothing more goes; running again changes nothing.
    with rt.sessions() as s:
        assert enforce_retention(s, NOW)["volunteers"] == 0


def test_retention_runs_with_the_scheduled_duties(people: tuple[Runtime, int, int, int]) -> None:
    from bot.push import get_push
    from bot.push.scheduled import tick

    rt, gone, _recent, _worker = people
    out = tick(get_push(rt), NOW)
    assert out["retention"] == 1
    assert _count(rt, ChannelIdentity, ChannelIdentity.external_id == "oGone") == 0
    assert tick(get_push(rt), NOW)["retention"] == 0  # once an hour
