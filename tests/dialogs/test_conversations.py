"""Whole scripted conversations through the real NLU, the way an older volunteer types."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from data.models import Activity, ChannelIdentity, Consent, ServiceRecord, Signup, SignupStatus, Volunteer
from data.services import sign_up
from dialogs import Choices

from .conftest import Chat


def line_of(chat: Chat, title: str) -> str:
    """The number to type for the listed activity whose title has `title`, turning pages (还有吗) as an
    older person would: how many items a day has depends on the weekday the demo data was loaded on."""
    for _ in range(10):
        last = next((r for r in reversed(chat.replies) if isinstance(r, Choices)), None)
        first = last.first if last else 1
        for i, option in enumerate(chat.options):
            if title in option:
                return str(first + i)
        chat.send("还有吗")
    raise AssertionError(f"{title} not listed: {chat.options}")


def test_dialect_find_details_sign_up(zhang: Chat, parser: Any) -> None:
    """明儿个有啥活 → list, 第二个 → details, 1 → confirm, 1 → signed up."""
    zhang.parser = parser.parse
    out = zhang.send("明儿个有啥活")
    assert zhang.at == "search.list" and "2. " in out
    second = zhang.options[1]
    out = zhang.send("第二个")
    assert zhang.at == "search.detail"
    title = out.splitlines()[0].strip("【】")
    assert title in second and "时间：" in out and "地点：" in out
    out = zhang.send("1")
    assert zhang.at == "signup.confirm" and title in out
    out = zhang.send("1")
    assert zhang.at is None and ("报好了" in out or "已排队" in out) and title in out


def test_first_contact_to_cancel_with_promotion(newbie: Chat, zhang: Chat, parser: Any) -> None:
    """First contact → find → details → sign up → my activities → cancel → waitlist promotion hook."""
    newbie.parser = parser.parse
    zhang.parser = parser.parse
    out = newbie.send("你好")
    assert "回复1同意" in out
    out = newbie.send("1")
    assert "住在哪个社区" in out
    out = newbie.send("阳光社区")
    assert "阳光社区" in out and newbie.at == "onboarding.q_like"
    newbie.send("跳过")
    out = newbie.send("跳过")
    assert newbie.at == "help.menu"

    # A full activity: 老年大学书法课助教 (next Monday; capacity 2, two already waiting).
    out = newbie.send("下礼拜一有啥活")
    out = newbie.send(line_of(newbie, "书法课"))
    assert "已满" in out
    out = newbie.send("1")
    assert "要排队候补吗" in out
    out = newbie.send("1")
    assert "候补第3位" in out

    # 张桂兰 takes a free activity and then cancels it: nobody waits there, so no promotion.
    out = zhang.send("明天有啥活")
    zhang.send(line_of(zhang, "聊天读报"))
    zhang.send("1")
    out = zhang.send("1")
    assert "报好了" in out
    out = zhang.send("我的活动")
    assert "聊天读报" in out and "已报上" in out
    out = zhang.send("取消报名")
    assert zhang.at == "cancel.confirm" and "聊天读报" in out
    out = zhang.send("1")
    assert "已取消" in out
    assert zhang.hooks.named("waitlist_promoted") == []

    # One of the two confirmed helpers of the calligraphy class cancels: the first waiting is promoted.
    act = zhang.session.scalars(select(Activity).where(Activity.title == "老年大学书法课助教")).one()
    holder = zhang.session.scalars(select(Signup).where(
        Signup.activity_id == act.id, Signup.status == SignupStatus.CONFIRMED)).first()
    helper = Chat(zhang.session, zhang.store, holder.volunteer, zhang.now, parser=parser.parse)
    out = helper.send("我想取消报名")
    if helper.at == "cancel.pick":
        k = next(i for i, o in enumerate(helper.options, 1) if "书法课" in o)
        helper.send(str(k))
    out = helper.send("1")
    assert "已取消" in out
    (promoted,), = helper.hooks.named("waitlist_promoted")
    assert len(promoted) == 1
    out = newbie.send("我的活动")
    assert "候补第2位" in out


def test_exits_work_from_anywhere(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    zhang.send("明天有啥活")
    zhang.send("1")
    zhang.send("1")
    assert zhang.at == "signup.confirm"
    out = zhang.send("0")
    assert zhang.at == "help.menu" and "1. 找活动" in out
    zhang.send("明天有啥活")
    out = zhang.send("9")
    assert "李建国" in out and zhang.hooks.named("handoff_requested")
    out = zhang.send("再说一遍")
    assert "李建国" in out


def test_profile_sentences(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    out = zhang.send("我搬到赛罕区了")
    assert "赛罕区" in out and zhang.at == "profile.confirm"
    zhang.send("对")
    assert zhang.volunteer.home_place.name == "赛罕区"
    out = zhang.send("撤销")
    assert "改回" in out
    zhang.session.refresh(zhang.volunteer)
    assert zhang.volunteer.home_place.name == "阳光社区"
    out = zhang.send("我只有上午有空")
    assert "每天上午" in out
    zhang.send("1")
    assert zhang.volunteer.availability == sum(1 << (d * 3) for d in range(7))


def test_bind_phone_merges_sms_record(zhang: Chat, parser: Any) -> None:
    """张桂兰 binds the number of the SMS-only volunteer 李建华: one record with both histories."""
    zhang.parser = parser.parse
    other = zhang.session.scalars(select(Volunteer).where(Volunteer.name == "李建华")).one()
    # 李建华 signed up by SMS earlier: that sign-up must follow him into the merged record.
    by_sms = zhang.session.scalars(select(Activity).where(Activity.title == "社区图书角整理")).one()
    sign_up(zhang.session, volunteer_id=other.id, activity_id=by_sms.id, now=zhang.now, channel="sms")
    other_signups = list(zhang.session.scalars(select(Signup.id).where(Signup.volunteer_id == other.id)))
    assert other_signups
    zhang.send("绑定手机")
    out = zhang.send("13900000002")
    assert "139****0002" in out and zhang.at == "profile.bind_code"
    (vid, phone, code), = zhang.hooks.named("send_bind_code")
    assert phone == "13900000002" and len(code) == 6
    out = zhang.send("000000" if code != "000000" else "111111")
    assert "不对" in out
    out = zhang.send(code)
    assert "合到一起" in out
    me = zhang.volunteer
    assert me.phone_masked == "139****0002" and zhang.vault is not None
    assert me.phone_hash == zhang.vault.lookup_hash("13900000002")
    idents = zhang.session.scalars(select(ChannelIdentity).where(ChannelIdentity.volunteer_id == me.id)).all()
    assert {i.channel for i in idents} >= {"wechat", "sms"}
    moved = zhang.session.scalars(select(Signup.volunteer_id).where(Signup.id.in_(other_signups))).all()
    assert set(moved) == {me.id}
    assert other.deleted_at is not None and other.phone_hash is None


def test_unfollow_forgets_personal_data(zhang: Chat) -> None:
    me = zhang.volunteer
    records = zhang.session.scalars(select(ServiceRecord).where(ServiceRecord.volunteer_id == me.id)).all()
    out = zhang.send("", {"intent": {"name": "nlu_fallback"}, "entities": []}, kind="event", event="unsubscribe")
    assert "删除" in out
    assert me.name is None and me.phone_hash is None and me.home_place_id is None and me.notices_opt_out
    assert me.identities == []  # no openid, no number's hash: nothing leads back (issue 13)
    assert zhang.session.scalars(select(ServiceRecord).where(ServiceRecord.volunteer_id == me.id)).all() == records
    assert zhang.store.get(f"dlg:{me.id}") is None
    assert zhang.session.scalars(select(Consent).where(Consent.volunteer_id == me.id)).all() == []


def test_events_and_other_kinds(zhang: Chat, newbie: Chat) -> None:
    empty = {"intent": {"name": "nlu_fallback"}, "entities": []}
    team_id = zhang.session.scalars(select(Activity.team_id).where(Activity.title == "周末社区大扫除")).one()
    out = newbie.send("", empty, kind="event", event="subscribe", event_key=f"qrscene_team_{team_id}")
    assert "已加入巨海城社区志愿服务队" in out and "回复1同意" in out
    out = zhang.send("", empty, kind="event", event="subscribe")
    assert "欢迎回来" in out
    out = zhang.send("", empty, kind="event", event="CLICK", event_key="MENU_MINE")
    assert "没有报名的活动" in out
    out = zhang.send("", empty, kind="event", event="CLICK", event_key="MENU_FIND")
    assert "活动有" in out and zhang.at == "search.list"
    out = zhang.send("", empty, kind="event", event="CLICK", event_key="MENU_HUMAN")
    assert "电话" in out
    out = zhang.send("", empty, kind="voice")
    assert "语音我没听清" in out and "1. 找活动" in out
    out = zhang.send("", empty, kind="image")
    assert "看不懂图片" in out
    out = zhang.send("", empty, kind="location", location=(40.8500, 111.6810))
    assert "离您近的活动有" in out and "公里" in out
    assert zhang.volunteer.last_lat is None  # no location consent: not remembered
