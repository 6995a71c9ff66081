"""The screen reads first: the shared readers, and a walk through every declared state."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from data import services
from data.models import Activity, Coordinator, Signup, SignupStatus, Team
from dialogs import screen
from dialogs import state as states
from dialogs.engine import Turn
from dialogs.registry import FLOWS
from dialogs.state import State

from .conftest import Chat, P


def turn_of(text: str, parse: dict[str, Any] | None = None) -> Turn:
    return Turn(parse=parse or P("nlu_fallback"), text=text, volunteer=None, session=None, store=None,  # type: ignore[arg-type]
                now=datetime(2026, 12, 1, 2, 0), channel="wechat", hooks=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["嗯", "中", "行", "好嘞", "对头", "👍", "可以的", "要得", "没问题", "好的好的",
                                  "嗯呢", "好呢", "好嘞谢谢", "行 谢谢你了", "可以 辛苦了"])
def test_yes_as_people_say_it(text: str) -> None:
    assert screen.yes_no(turn_of(text)) == "yes"


@pytest.mark.parametrize("text", ["不了", "算了吧", "先不", "先别报", "不去了", "不要了", "先不报了 我再想想", "不对",
                                  "不用了谢谢"])
def test_no_as_people_say_it(text: str) -> None:
    assert screen.yes_no(turn_of(text)) == "no"


@pytest.mark.parametrize("text", ["不对 我要第二个", "我不知道", "行李带不带", "嗯我想问问几点开始"])
def test_neither_yes_nor_no(text: str) -> None:
    """A longer sentence that starts like an answer is not one (不对 我要第二个 picks the second item)."""
    assert screen.yes_no(turn_of(text)) is None


@pytest.mark.parametrize(("text", "current", "size"), [
    ("带老伴", 1, 2), ("我们仨", 1, 3), ("加上孙女", 1, 2), ("报名 我和老伴一起", 1, 2), ("少一个人", 3, 2),
    ("再加一个人", 2, 3), ("改成两个人", 3, 2), ("孙子去不了了 就俩人去", 3, 2), ("就我一个", 2, 1),
    ("不是一个人 是三个人", 1, 3), ("多报一个人", 1, 2), ("老伴住院了去不了 就我一个", 2, 1),
])
def test_party_in_any_sentence(text: str, current: int, size: int) -> None:
    assert screen.party(turn_of(text), current) == size


@pytest.mark.parametrize("text", ["好的", "明天有啥活动", "老伴住院了去不了"])
def test_no_party_when_none_said(text: str) -> None:
    assert screen.party(turn_of(text), 1) is None


@pytest.mark.parametrize(("text", "kind"), [
    ("管饭不", "meal"), ("在哪集合", "where"), ("几点到", "when"), ("要带啥东西", "bring"), ("有车接送吗", "ride"),
    ("要带身份证不", "id"), ("要审核是啥意思", "review"), ("候补是啥意思", "waitlist"), ("这个找谁", "contact"),
    ("滿了嗎", "full"), ("累不累", "load"), ("这是干啥的", "what"),
])
def test_questions_about_the_activity(text: str, kind: str) -> None:
    assert screen.question(turn_of(text)) == kind


@pytest.mark.parametrize("text", ["不排队了", "候补的我不要了", "报名", "1"])
def test_statements_are_not_questions(text: str) -> None:
    assert screen.question(turn_of(text)) is None


ITEMS = {1: ["暖冬行动·楼道扫雪除冰", "巨海城八区物业门口", "下雪后清扫楼道口和人行道的积雪"],
         2: ["陪独居老人聊天读报", "阳光社区日间照料中心", "到日间照料中心陪老人聊天、读报纸、下象棋。"],
         3: ["丁香路小学放学护学岗", "丁香路小学门口", "放学时在校门口护送小学生过马路。"],
         4: ["暖冬行动·为独居老人送棉衣", "阳光社区服务站", "给社区里的独居老人送棉衣和米面油"]}


@pytest.mark.parametrize(("text", "item"), [
    ("扫雪那个", 1), ("读报的", 2), ("学校门口那个", 3), ("送棉衣的那个", 4), ("報名讀報那個", 2), ("报扫雪", 1),
])
def test_names_and_pieces_of_names(text: str, item: int) -> None:
    assert screen.name_match(text, ITEMS) == item


@pytest.mark.parametrize("text", ["暖冬那个", "老人的", "好的", "明天的"])
def test_a_piece_shared_by_two_items_or_generic_picks_nothing(text: str) -> None:
    assert screen.name_match(text, ITEMS) is None


def test_numbers_run_on_across_pages() -> None:
    st = State(listed=[11, 12, 13, 14], data={"first": 5})
    assert screen.listed_index(st, 6) == 1
    assert screen.listed_index(st, 2) == 1  # someone counting the page still gets the second line
    assert screen.listed_index(st, 9) is None
    assert screen.listed_index(State(listed=[1, 2], data={"first": 1}), 3) is None


def _asked(*options: str) -> State:
    return State(last=[{"t": "text", "text": "…"}, {"t": "choices", "prompt": "？", "options": list(options),
                                                      "footer": "回复1或2。"}])


@pytest.mark.parametrize(("options", "text", "said"), [
    (("解除", "不解除"), "解除", "yes"), (("解除", "不解除"), "不解除", "no"), (("解除", "不解除"), "解除吧", "yes"),
    (("也告诉家人", "不用"), "也告诉家人", "yes"), (("确认报名", "不报了"), "不报了", "no"),
    (("確認報名", "不報了"), "確認報名", "yes"),
    (("解除", "不解除"), "解除家人", None),  # more than the option: left to the intents
    (("扫雪", "读报"), "读报", None),  # two items of a list, not a yes/no question
])
def test_the_words_of_an_option_on_a_two_option_question(options: tuple[str, str], text: str,
                                                          said: str | None) -> None:
    assert screen.said_option(turn_of(text), _asked(*options)) == said
    reading = screen.read(turn_of(text), _asked(*options), (screen.YESNO,))
    if said is not None:
        assert reading is not None and reading.kind == said


@pytest.mark.parametrize(("text", "n"), [
    ("1", 1), ("１", 1), ("1。", 1), ("12", 12), ("一。", 1), ("二", 2), ("三。", 3), ("幺", 1),
    ("两个", None), ("两", None), ("第二个", None), ("二号", None), ("一个人", None),
])
def test_a_digit_alone_typed_or_said(text: str, n: int | None) -> None:
    """A voice transcript's 一。 answers the screen's own choices like a typed 1 (never item 1 behind it)."""
    assert screen.bare_digit(text) == n


def test_a_spoken_digit_is_no_item_of_the_list_behind_the_screen() -> None:
    st = State(listed=[11, 12, 13], data={"first": 1})
    assert screen.read(turn_of("一。", P("choose", number=1)), st, (screen.ITEM,)) is None
    reading = screen.read(turn_of("第三个", P("choose", number=3)), st, (screen.ITEM,))
    assert reading is not None and reading.value == 3


@pytest.mark.parametrize(("text", "title", "rest"), [
    ("读报那个", "陪独居老人聊天读报", "那个"), ("报读报那个", "陪独居老人聊天读报", "报那个"),
    ("我要报名扫雪的", "暖冬行动·楼道扫雪除冰", "我要报名的"),
])
def test_what_is_said_besides_the_name(text: str, title: str, rest: str) -> None:
    assert screen.without_name(text, title) == rest


# -- every state: a bare 好的 cannot happen ------------------------------------------------------------
ANSWERS = ["好的", "好", "嗯", "行", "👍", "不对", "算了", "不了", "1", "2", "3", "谢谢", "哦", "？", "啊这个那个"]
_BARE = re.compile(r"^\s*(好的|好|行|嗯)[。！!，,]?\s*$")


def _context(chat: Chat) -> dict[str, Any]:
    s = chat.session
    act = s.scalars(select(Activity).where(Activity.title.contains("送棉衣"))).one()
    other = s.scalars(select(Activity).where(Activity.title.contains("读报"))).one()
    res = services.sign_up(s, volunteer_id=chat.volunteer.id, activity_id=act.id, now=chat.now, party_size=2)
    team = s.get(Team, act.team_id)
    coord = s.scalars(select(Coordinator).where(Coordinator.name == "王秀英")).one()
    coord.volunteer_id = chat.volunteer.id
    pending = s.scalars(select(Signup).where(Signup.status == SignupStatus.PENDING)).first()
    s.flush()
    return {"act": act, "other": other, "signup": res.signup, "team": team, "coord": coord, "pending": pending}


def _state_for(flow: str, step: str, ctx: dict[str, Any], now: datetime) -> State:
    act, signup = ctx["act"], ctx["signup"]
    data: dict[str, Any] = {
        "activity_id": act.id, "signup_id": signup.id, "party": 1, "first": 1,
        "party_change": {"signup_id": signup.id, "party": 3},
        "switch": {"signup_id": signup.id, "activity_id": ctx["other"].id},
        "alts": [{"mode": "search"}], "about": {"availability": 7}, "free": 7, "ask": "availability",
        "reminder": {"delivery_id": 0, "signup_id": signup.id},
        "coord_id": ctx["coord"].id, "co_acts": [act.id], "co_roster": {"activity_id": act.id, "next": 0},
        "co_review": ctx["pending"].id if ctx["pending"] else 0, "co_skip": [],
        "co_notice": {"team_id": ctx["team"].id, "text": "明天8点集合", "total": 3},
    }
    if flow == "profile":
        data["change"] = {"field": "availability", "value": 7, "shown": "每天上午", "label": "有空的时间"}
    listed, kind = [act.id, ctx["other"].id], "activity"
    if flow == "cancel":
        listed, kind = [signup.id], "signup"
    return State(flow=flow, step=step, data=data, listed=listed, list_kind=kind, query={"mode": "search"},
                 undo={"kind": "signup", "signup_id": signup.id, "at": (now - timedelta(minutes=1)).isoformat()},
                 welcomed=True)


STEPS = sorted((f, s) for f, flow in FLOWS.items() for s in flow.steps)


@pytest.mark.parametrize(("flow", "step"), STEPS, ids=[f"{f}.{s}" for f, s in STEPS])
def test_no_bare_acknowledgement_in_any_state(zhang: Chat, parser: Any, flow: str, step: str) -> None:
    """Every declared state, every short answer people give: never "好的" alone, never an empty reply."""
    zhang.parser = parser.parse
    ctx = _context(zhang)
    for text in ANSWERS:
        states.save(zhang.store, zhang.volunteer.id, _state_for(flow, step, ctx, zhang.now), 14)
        nested = zhang.session.begin_nested()
        out = zhang.send(text)
        assert out.strip(), f"{flow}.{step}: empty reply to {text}"
        for line in out.splitlines():
            assert not _BARE.match(line), f"{flow}.{step}: bare acknowledgement to {text!r}:\n{out}"
        nested.rollback()
