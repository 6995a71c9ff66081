"""Table-driven flow tests: (messages from a fresh state) → facts in the last reply and the next state.

Parses are built by hand here so each row pins the dialog logic alone; test_conversations.py runs the
real NLU. Every row runs on SQLite and PostgreSQL (`session`) and on the memory store and Redis (`store`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from data.models import Activity, Consent, Signup, SignupStatus
from data.timeutil import to_local
from dialogs import Choices, to_plain

from .conftest import Chat, P

Msg = tuple[str, dict[str, Any]] | Callable[[Chat], tuple[str, dict[str, Any]]]


def day(c: Chat, n: int) -> tuple[datetime, datetime]:
    start = (to_local(c.now).replace(tzinfo=None) + timedelta(days=n)).replace(hour=0, minute=0, second=0,
                                                                             microsecond=0)
    return start, start + timedelta(days=1)


def tomorrow(c: Chat) -> tuple[str, dict[str, Any]]:
    return "明天有啥活", P("search_activities", time=day(c, 1))


def n(k: int) -> tuple[str, dict[str, Any]]:
    return str(k), P("choose", number=k)


def on_day_of(title: str) -> Callable[[Chat], tuple[str, dict[str, Any]]]:
    """A search for the local day the activity with this title starts on (whatever today is)."""
    def ask(c: Chat) -> tuple[str, dict[str, Any]]:
        starts = c.session.scalars(select(Activity.starts_at).where(Activity.title.contains(title))).one()
        start = to_local(starts).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        return f"{start.month}月{start.day}日有啥活", P("search_activities", time=(start, start + timedelta(days=1)))
    return ask


def title_in_list(title: str) -> Callable[[Chat], tuple[str, dict[str, Any]]]:
    """Pick, from the list on screen, the line whose title matches; turn pages (更多) until it shows.

    How many items a day has depends on the weekday the demo data was loaded on, so the line may be on
    a later page.
    """
    def pick(c: Chat) -> tuple[str, dict[str, Any]]:
        for _ in range(10):
            numbered = _numbered(c)
            if any(title in opt for opt in numbered.values()):
                return n(next(k for k, opt in numbered.items() if title in opt))
            c.send("更多", P("more"))
        raise AssertionError(f"{title} is not in the list:\n{c.options}")
    return pick


def _numbered(c: Chat) -> dict[int, str]:
    """The options on screen by the number that picks them (numbering may run on across pages)."""
    last = next((r for r in reversed(c.replies) if isinstance(r, Choices)), None)
    if last is None:
        return {}
    first = last.first
    return {first + i: opt for i, opt in enumerate(last.options)}


def beyond_list(c: Chat) -> tuple[str, dict[str, Any]]:
    """A number one past the end of the whole list just shown (its total, not the page)."""
    total = re.search(r"共(\d+)个", to_plain(c.replies))
    return n((int(total.group(1)) if total else len(c.options)) + 1)


# (id, messages, facts the last reply contains, next state)
CASES: list[tuple[str, list[Msg], list[str], str | None]] = [
    ("menu", [("0", P("menu"))], ["1. 找活动", "9找人工"], "help.menu"),
    ("greet", [("你好", P("greet"))], ["张桂兰您好", "1. 找活动"], "help.menu"),
    ("menu 1 lists near home", [("0", P("menu")), n(1)], ["您家附近（新城区）", "1. ", "回复数字看详情"],
     "search.list"),
    ("tomorrow list", [tomorrow], ["您家附近（新城区）", "名额", "回复数字看详情"], "search.list"),
    ("category", [("想陪老人聊天", P("search_activities", category="助老"))], ["助老活动有"], "search.list"),
    ("place", [("巨海城社区有啥活", P("search_activities", place="巨海城社区"))], ["巨海城社区的活动有"],
     "search.list"),
    ("unknown place", [("幸福村有活吗", P("search_activities", place=("幸福村", "unknown", "幸福村")))],
     ["不认识“幸福村”"], "search.list"),
    ("details", [tomorrow, title_in_list("送棉衣")],
     ["【暖冬行动·为独居老人送棉衣】", "时间：", "上午9点到11点半", "地点：阳光社区", "新华广场东侧", "剩",
      "回复1报名"], "search.detail"),
    ("details by words", [tomorrow, ("第二个是干啥的", P("activity_detail", number=2))], ["时间：", "回复1报名"],
     "search.detail"),
    ("out of range", [tomorrow, beyond_list], ["列表里没有第"], "search.list"),
    ("more", [("0", P("menu")), n(1), ("更多", P("more"))], ["第5到8个"], "search.list"),
    ("confirm", [tomorrow, title_in_list("送棉衣"), n(1)], ["您要报名", "送棉衣", "1人参加", "1. 确认报名"],
     "signup.confirm"),
    ("signed up", [tomorrow, title_in_list("送棉衣"), n(1), n(1)],
     ["报好了", "送棉衣", "活动前一天会在微信里提醒您", "撤销"], None),
    ("party size", [tomorrow, title_in_list("送棉衣"), n(1), ("我和老伴两个人", P("sign_up", party=2))],
     ["按2人报名", "2人参加"], "signup.confirm"),
    ("not signed", [tomorrow, title_in_list("送棉衣"), n(1), n(2)], ["没有报名", "1. 找活动"], "help.menu"),
    ("waitlist offer", [on_day_of("书法课"), title_in_list("书法课"), n(1)], ["已满", "要排队候补吗", "前面有2人"],
     "signup.confirm"),
    ("waitlisted", [on_day_of("书法课"), title_in_list("书法课"), n(1), n(1)], ["已排队", "候补第3位"], None),
    ("back to list", [tomorrow, n(1), n(2)], ["活动有", "1. "], "search.list"),
    ("hours", [("我干了多少小时", P("my_hours"))], ["一共服务了7小时", "参加过3次", "最近几次", "开具"], None),
    ("no signups", [("我的活动", P("my_signups"))], ["没有报名的活动"], "help.menu"),
    ("handoff", [("9", P("human_handoff"))], ["李建国", "13904710001"], None),
    ("repeat", [tomorrow, ("再说一遍", P("repeat"))], ["回复数字看详情"], "search.list"),
    ("miss once", [tomorrow, ("嗯嗯啊", P("nlu_fallback"))], ["没听明白", "回复数字看详情"], "search.list"),
    ("miss twice", [tomorrow, ("嗯嗯啊", P("nlu_fallback")), ("哦哦", P("nlu_fallback"))],
     ["还是没明白", "9找人工", "1. 找活动"], "help.menu"),
    ("out of scope", [("今天天气怎么样", P("out_of_scope"))], ["帮不上忙", "1. 找活动"], "help.menu"),
    ("thanks", [("谢谢", P("thanks"))], ["不客气", "0回主菜单"], None),
    ("elder", [("长辈版", P("elder_mode"))], ["长辈版", "1. 找活动"], "help.menu"),
    ("profile place", [("我搬到赛罕区了", P("update_profile", place="赛罕区"))], ["住的地方改成：赛罕区", "1. 对"],
     "profile.confirm"),
    ("profile time", [("我只有上午有空", P("update_profile"))], ["有空的时间改成：每天上午"], "profile.confirm"),
    ("profile body", [("腿脚不好不能久站", P("update_profile"))], ["身体情况改成：只做轻松的活"], "profile.confirm"),
    ("profile saved", [("我只有上午有空", P("update_profile")), n(1)], ["改好了", "撤销"], None),
    ("profile ask", [("改资料", P("update_profile")), n(3)], ["什么时候有空"], "profile.answer"),
    ("profile answer", [("改资料", P("update_profile")), n(3), ("周末下午", P("search_activities"))],
     ["周末下午"], "profile.confirm"),
    ("no recommend", [("不要推荐", P("no_recommend"))], ["不按您的资料推荐"], "help.menu"),
    ("recommend", [("给我推荐", P("recommend"))], ["按您的情况挑了", "因为您"], "search.list"),
    ("unsubscribe", [("退订", P("unsubscribe"))], ["已退订", "订阅"], None),
    ("subscribe", [("订阅", P("subscribe"))], ["已订阅"], None),
    ("undo nothing", [("撤销", P("undo"))], ["没有可以撤销"], None),
    ("undo signup", [tomorrow, title_in_list("送棉衣"), n(1), n(1), ("撤销", P("undo"))], ["已撤销报名"],
     "help.menu"),
    ("forget asks", [("删除我的信息", P("update_profile"))], ["删除您的个人资料", "1. 确定删除"], "profile.forget"),
    ("bind asks", [("绑定手机", P("bind_phone"))], ["手机号"], "profile.bind_phone"),
    ("bind sends", [("绑定手机", P("bind_phone")), ("13911112222", P("bind_phone", phone="13911112222"))],
     ["139****2222", "6位数字"], "profile.bind_code"),
    ("sign up without context", [("我要报名", P("sign_up"))], ["您想报哪个活动"], None),
    ("sign up with words", [("我想报名陪老人聊天", P("sign_up", category="助老", party=2))], ["助老活动有"],
     "search.list"),
]


@pytest.mark.parametrize("messages,facts,at", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_flow(zhang: Chat, messages: list[Msg], facts: list[str], at: str | None) -> None:
    out = ""
    for m in messages:
        text, parse = m(zhang) if callable(m) else m
        out = zhang.send(text, parse)
        assert out.strip(), f"empty reply to {text}"
        assert len(out) <= 300, out
    for fact in facts:
        assert fact in out, f"{fact!r} not in:\n{out}"
    assert zhang.at == at, out


def test_cancel_promotes_waitlist_and_undo_restores(zhang: Chat) -> None:
    """Cancel a confirmed place on a full activity: the first waiting person is promoted (hook called)."""
    act = zhang.session.scalars(select(Activity).where(Activity.title == "社区义诊·免费量血压")).one()
    zhang.send("看看", P("search_activities", time=day(zhang, 2), place="满都海社区"))
    # Full: 张桂兰 joins the waitlist, then another confirmed volunteer cancels → she is promoted.
    pick = title_in_list("量血压")(zhang)
    zhang.send(*pick)
    zhang.send(*n(1))
    out = zhang.send(*n(1))
    assert "候补第3位" in out
    first_waiting = zhang.session.scalars(
        select(Signup).where(Signup.activity_id == act.id, Signup.status == SignupStatus.WAITLISTED)
        .order_by(Signup.created_at, Signup.id)).first()
    confirmed = zhang.session.scalars(
        select(Signup).where(Signup.activity_id == act.id, Signup.status == SignupStatus.CONFIRMED)).first()
    other = Chat(zhang.session, zhang.store, confirmed.volunteer, zhang.now)
    other.send("取消报名", P("cancel_signup"))
    if other.at == "cancel.pick":
        other.send(*title_in_list("量血压")(other))
    assert other.at == "cancel.confirm"
    out = other.send(*n(1))
    assert "已取消" in out and "撤销" in out
    assert other.hooks.named("waitlist_promoted") == [([first_waiting.id],)]
    out = other.send("撤销", P("undo"))
    assert "已恢复报名" in out and "候补" in out


def test_pending_review_calls_hook(zhang: Chat) -> None:
    # The 助残 activity is next Tuesday: up to 8 days ahead, past the default 7-day window on a Monday.
    when = on_day_of("陪残疾朋友逛公园")(zhang)[1]["entities"][0]["value"]
    span = (datetime.fromisoformat(when["from"]), datetime.fromisoformat(when["to"]))
    zhang.send("巨海城社区助残的活", P("search_activities", place="巨海城社区", category="助残", time=span))
    zhang.send(*title_in_list("助残")(zhang))
    zhang.send(*n(1))
    out = zhang.send(*n(1))
    assert "等" in out and "赵淑芬" in out and "审核" in out
    assert len(zhang.hooks.named("signup_needs_review")) == 1


def test_overlap_is_asked(zhang: Chat) -> None:
    """送棉衣 (9:00–11:30) and 扫雪 (8:00–9:30) are both tomorrow and overlap by half an hour."""
    zhang.send(*tomorrow(zhang))
    zhang.send(*title_in_list("送棉衣")(zhang))
    zhang.send(*n(1))
    zhang.send(*n(1))
    zhang.send("明天巨海城社区有啥活", P("search_activities", time=day(zhang, 1), place="巨海城社区"))
    out = zhang.send(*title_in_list("扫雪")(zhang))
    out = zhang.send(*n(1))
    assert "已经报了“暖冬行动·为独居老人送棉衣”" in out and zhang.at == "signup.overlap"
    out = zhang.send(*n(1))
    assert zhang.at == "signup.confirm"
    out = zhang.send(*n(1))
    assert "报好了" in out and "扫雪" in out
    booked = set(zhang.session.scalars(select(Activity.title).join(Signup).where(
        Signup.volunteer_id == zhang.volunteer.id, Signup.status == SignupStatus.CONFIRMED)))
    assert booked == {"暖冬行动·为独居老人送棉衣", "暖冬行动·楼道扫雪除冰"}


def test_handoff_sends_transcript(zhang: Chat) -> None:
    zhang.send(*tomorrow(zhang))
    zhang.send("9", P("human_handoff"))
    (vid, coord, transcript, _hid), = zhang.hooks.named("handoff_requested")
    assert vid == zhang.volunteer.id and coord is not None
    assert any("明天有啥活" in line for line in transcript)


def test_new_user_consent_then_questions(newbie: Chat) -> None:
    out = newbie.send("你好", P("greet"))
    assert "回复1同意" in out and "保存" in out and newbie.at == "onboarding.privacy"
    out = newbie.send(*n(1))
    assert "住在哪个社区" in out and newbie.at == "onboarding.q_place"
    kinds = {c.kind for c in newbie.session.scalars(select(Consent).where(
        Consent.volunteer_id == newbie.volunteer.id, Consent.granted.is_(True)))}
    assert {"privacy", "notices"} <= kinds
    out = newbie.send("阳光社区", P("nlu_fallback", place="阳光社区"))
    assert "记下了：您住在阳光社区" in out and newbie.at == "onboarding.q_like"
    out = newbie.send("跳过", P("nlu_fallback"))
    assert "跳过" in out and newbie.at == "onboarding.q_time"
    out = newbie.send("周末上午", P("search_activities"))
    assert "周末上午" in out and newbie.at == "onboarding.q_time_check"  # read back before saving
    assert newbie.volunteer.availability == 0
    out = newbie.send(*n(1))
    assert "周末上午" in out and newbie.at == "help.menu"
    assert newbie.volunteer.availability == (1 << 15) | (1 << 18)


def test_new_user_request_is_answered_after_consent(newbie: Chat) -> None:
    out = newbie.send(*tomorrow(newbie))
    assert "回复1同意" in out
    out = newbie.send(*n(1))
    assert "谢谢您" in out and "活动有" in out and newbie.at == "search.list"


def test_declined_privacy_can_browse_but_not_sign_up(newbie: Chat) -> None:
    newbie.send(*tomorrow(newbie))
    out = newbie.send(*n(2))
    assert "先看看活动" in out and "活动有" in out
    newbie.send(*n(1))
    out = newbie.send(*n(1))
    assert "需要您先同意" in out and newbie.at == "onboarding.privacy"
    out = newbie.send(*n(1))
    assert "您要报名" in out and newbie.at == "signup.confirm"


def test_state_survives_days(zhang: Chat) -> None:
    zhang.send(*tomorrow(zhang))
    zhang.now += timedelta(days=6)
    assert zhang.at == "search.list"
    assert zhang.state.listed


def test_undo_expires(zhang: Chat) -> None:
    zhang.send(*tomorrow(zhang))
    zhang.send(*title_in_list("送棉衣")(zhang))
    zhang.send(*n(1))
    zhang.send(*n(1))
    zhang.now += timedelta(minutes=11)
    out = zhang.send("撤销", P("undo"))
    assert "超过10分钟" in out


def test_sms_is_short(zhang: Chat) -> None:
    zhang.channel = "sms"
    out = zhang.send(*tomorrow(zhang))
    assert len(out) <= 140 and out.count("\n1. ") + out.count("\n2. ") == 2
    out = zhang.send(*n(1))
    assert len(out) <= 140 and "回1报名" in out


def test_family_words_change_party_size_and_never_commit(zhang: Chat) -> None:
    zhang.send(*tomorrow(zhang))
    zhang.send(*title_in_list("送棉衣")(zhang))
    zhang.send(*n(1))
    out = zhang.send("老伴也想去", P("sign_up"))
    assert "2人参加" in out and zhang.at == "signup.confirm"
    out = zhang.send("我想去", P("sign_up"))
    assert zhang.at == "signup.confirm"
    out = zhang.send(*n(1))
    assert "报好了" in out
    signup = zhang.session.scalars(select(Signup).where(Signup.volunteer_id == zhang.volunteer.id,
                                                        Signup.status == SignupStatus.CONFIRMED)).one()
    assert signup.party_size == 2


def test_recommend_misread_as_refusal_still_recommends(zhang: Chat) -> None:
    out = zhang.send("给我推荐", P("no_recommend"))
    assert "按您的情况挑了" in out and not zhang.volunteer.recommend_opt_out
    zhang.send("不要推荐", P("no_recommend"))
    assert zhang.volunteer.recommend_opt_out
    out = zhang.send("推荐", P("recommend"))
    assert "关闭了个性化推荐" in out
    out = zhang.send("恢复推荐", P("no_recommend"))
    assert "已恢复" in out and not zhang.volunteer.recommend_opt_out


@pytest.mark.parametrize("said", ["我家住在幸福小区三号楼", "俺住红星村", "住在东风街道"])
def test_a_place_we_do_not_know_is_said_back_and_the_questions_go_on(newbie: Chat, parser: Any, said: str) -> None:
    """A home we cannot find in the places we know: the person hears which name we did not know, nothing is
    saved, and the next question follows (it once failed with an AttributeError: a text had been renamed)."""
    newbie.parser = parser.parse
    newbie.send("你好")
    newbie.send("1")
    assert newbie.at == "onboarding.q_place"
    out = newbie.send(said)
    assert "我还不认识" in out and "喜欢做哪类事" in out and newbie.at == "onboarding.q_like"
    assert newbie.volunteer.home_place_id is None


def test_a_place_we_do_not_know_in_the_profile_is_said_back(zhang: Chat, parser: Any) -> None:
    zhang.parser = parser.parse
    before = zhang.volunteer.home_place_id
    out = zhang.send("我搬家了 现在住幸福小区")
    assert "我还不认识" in out and "幸福小区" in out and "0" in out
    assert zhang.volunteer.home_place_id == before


def test_read_aloud_where_no_voice_goes_out_says_where_it_works(zhang: Chat, parser: Any) -> None:
    """The terminal chat cannot send voice and is not SMS: it says so without blaming 短信."""
    zhang.parser = parser.parse
    zhang.channel = "console"
    out = zhang.send("念给我听")
    assert "这里发不了语音" in out and "短信" not in out and "微信" in out
    assert zhang.volunteer.read_aloud is not True
