"""Main menu, help and hand-off to a named coordinator (with the conversation attached)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from data import handoffs, profiles
from data.crypto import mask_phone
from data.models import Activity, Coordinator
from data.services import upcoming_signups
from data.timeutil import to_utc

from .. import texts as T
from ..common import booked_note, choice, entity, exits, menu, say, with_menu
from ..registry import Flow, Result, Step
from ..replies import Choices, Text, from_data
from ..screen import activity_names, name_match, question
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def show_menu(turn: Turn, st: State) -> Result:
    st.data.pop("activity_id", None)
    st.listed, st.list_kind = [], ""
    return [menu(turn)], "help.menu"


def menu_choice(turn: Turn, st: State) -> Result | None:
    """1–4 on the main menu (also a bare number when nothing else is going on)."""
    n = choice(turn)
    if n is None or not 1 <= n <= len(T.MENU_KEYS):
        return show_menu(turn, st) if n is not None else None
    key = T.MENU_KEYS[n - 1]
    if key == "search":
        from .search import start_default

        return start_default(turn, st)
    if key == "recommend":
        from .recommend import start

        return start(turn, st)
    if key == "mine":
        from .mine import start as mine

        return mine(turn, st)
    from .hours import show

    return show(turn, st)


def help_text(turn: Turn, st: State) -> Result:
    return with_menu(turn, say(turn, T.HELP, T.HELP_SHORT)), "help.menu"


def _discussed(st: State) -> list[int]:
    """Activities being discussed: the one on screen, else those of the last list of activities."""
    if st.data.get("activity_id"):
        return [int(st.data["activity_id"])]
    if st.list_kind in ("activity", "mine"):
        return list(st.listed)
    return []


def handoff(turn: Turn, st: State) -> Result:
    """9 / 找人工: to the team of the activity being discussed, else the person's home team, else the
    deployment's default coordinator. Every request is a row (data.handoffs); a call is promised only when
    a person is told at once (the coordinator's WeChat or mobile, the team's WeCom robot) and the person
    can be called back. Otherwise one question: a number, or a good time to call."""
    reach, act = handoffs.route_handoff(turn.session, turn.volunteer, _discussed(st), sms=turn.settings.sms_out)
    activity_id = act.id if act is not None else None
    row = handoffs.record(turn.session, turn.volunteer.id, reach, activity_id, turn.now)
    coord, team = reach.coordinator, reach.team
    transcript = profiles.recent_transcript(turn.session, turn.volunteer.id)
    turn.hooks.handoff_requested(turn.volunteer.id, coord.id if coord else None, transcript, row.id)
    has_phone = bool(turn.volunteer.phone_masked) or turn.channel == "sms"
    also = T.HANDOFF_ALSO_CALL.format(name=coord.name, phone=coord.contact_phone) if coord else ""
    if not reach.promises_call:
        ask = T.HANDOFF_ASK_TIME if has_phone else T.HANDOFF_ASK_PHONE_OR_TIME
        return [Text(T.HANDOFF_WAITING + also + ask + " " + exits(turn))], "help.callback"
    if reach.route == "wecom" and team is not None:
        if not has_phone:
            return [Text(T.HANDOFF_TEAM_NO_PHONE.format(team=team.name) + also + " " + exits(turn))], "help.callback"
        text = say(turn, T.HANDOFF_TEAM, T.HANDOFF_TEAM_SHORT, team=team.name)
        return [Text(text + also + " " + exits(turn))], None
    if coord is None:  # (a personal route is always some coordinator's)
        return [Text(T.HANDOFF_NOBODY + " " + exits(turn))], None
    if not has_phone:
        text = say(turn, T.HANDOFF_NO_PHONE, T.HANDOFF_SHORT, name=coord.name, phone=coord.contact_phone)
        return [Text(text + " " + exits(turn))], "help.callback"
    text = say(turn, T.HANDOFF, T.HANDOFF_SHORT, name=coord.name, phone=coord.contact_phone)
    return [Text(text + " " + exits(turn))], None


_CALL_PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
# A good time to call, as people say it: 下午三点以后, 明天上午, 随时都行, 周六.
_CALL_TIME = re.compile(r"上午|下午|晚上|中午|早上|早晨|傍晚|白天|[0-9一二两三四五六七八九十]+[点點]|随时|都行|都可以|"
                        r"啥时候都|什么时候都|明天|今天|后天|周[一二三四五六日天末]|星期|礼拜")
# How long after a hand-off an answer to its question is still taken as that answer.
_CALLBACK_MINUTES = 60


def _phone_said(turn: Turn, st: State) -> bool:
    text = re.sub(r"[\s-]", "", turn.text or "")
    if _CALL_PHONE.search(text):
        return True
    return len(text) <= 20 and bool(_CALL_TIME.search(text)) and not _SEARCHING.search(text)


def on_callback(turn: Turn, st: State) -> Result | None:
    """The answer to the hand-off's one question: a number to call on (kept on the hand-off, encrypted;
    not saved to the profile: binding a phone is its own step, with a code) or a good time to call."""
    text = re.sub(r"[\s-]", "", turn.text or "")
    m = _CALL_PHONE.search(text)
    timed = None if m else (_CALL_TIME.search(text) and len(text) <= 20 and not _SEARCHING.search(text))
    if m is None and not timed:
        return None
    row = handoffs.latest_waiting(turn.session, turn.volunteer.id, turn.now - timedelta(minutes=_CALLBACK_MINUTES))
    if row is None:
        return None  # the question was asked too long ago: the message is read as a new one
    if m is None:
        when = (turn.text or "").strip()[:40]
        handoffs.set_callback(row, note=when)
        return [Text(T.HANDOFF_NOTED_TIME.format(when=when) + " " + exits(turn))], None
    masked = mask_phone(m.group(1))
    enc = turn.vault.encrypt(m.group(1)) if turn.vault is not None else None
    handoffs.set_callback(row, phone_enc=enc, masked=masked)
    if row.route == "waiting":
        return [Text(T.HANDOFF_NOTED_PHONE.format(masked=masked) + " " + exits(turn))], None
    coord = turn.session.get(Coordinator, row.coordinator_id) if row.coordinator_id else None
    transcript = profiles.recent_transcript(turn.session, turn.volunteer.id)
    turn.hooks.handoff_requested(turn.volunteer.id, coord.id if coord else None, transcript, row.id)
    name = coord.name if coord and row.route != "wecom" else T.STAFF
    return [Text(T.HANDOFF_CALLBACK.format(name=name, masked=masked) + " " + exits(turn))], None


_FRAUD = re.compile(r"骗子|诈骗|骗人|骗钱|骗局|被骗|是不是骗|传销|风险|(?:验证码|手机号|号码).{0,8}(?:没事|放心|行吗)|不敢给|不敢发|不敢说|安全吗|安全不|靠谱吗|靠谱不|可靠吗|"
                    r"正规吗|正规不|真的假的|是真的吗|要钱吗|收钱吗|收费吗|要不要钱|骗老人")
_NOT_FRAUD = re.compile(r"防诈|反诈|讲座|宣传|活动")


def fraud(turn: Turn, st: State) -> Result | None:
    """A fear of fraud, however put: reassurance, why we ask what we ask, and a number to check us by."""
    text = turn.text or ""
    if len(text) > 40 or not _FRAUD.search(text) or _NOT_FRAUD.search(text):
        return None
    activity = turn.session.get(Activity, int(st.data["activity_id"])) if st.data.get("activity_id") else None
    coord, team = profiles.coordinator_for(turn.session, turn.volunteer, activity)
    if coord is not None:
        check = say(turn, T.FRAUD_CHECK, T.FRAUD_CHECK_SHORT, team=team.name if team else "", name=coord.name,
                    phone=coord.contact_phone)
    else:
        check = T.FRAUD_CHECK_ANY
    text = say(turn, T.FRAUD_CALM, T.FRAUD_CALM_SHORT) + check
    return [Text(text + " " + exits(turn))], st.at


_SEARCHING = re.compile(r"有啥|有什么|有没有|还有|哪些|啥活动|什么活动")


_LOST = re.compile(r"不会弄|弄不明白|弄不懂|不会用|看不懂|不懂|咋用|怎么用|咋弄|怎么弄|这是啥|这是什么|干啥用的|啥玩意")
_EMOJI_ONLY = re.compile(r"^[\U0001F300-\U0001FAFF\u2600-\u27BF\uFE0F\u200d\s]+$")


def lost_or_emoji(turn: Turn, st: State) -> Result | None:
    """俺不会弄 / an emoji alone: a few plain words on what to do, and the question on screen again (the
    conversation keeps its place, nothing is dropped)."""
    text = (turn.text or "").strip()
    if not text:
        return None
    lost = bool(_LOST.search(text)) and len(text) <= 16
    if not lost and not _EMOJI_ONLY.match(text):
        return None
    question = [r for r in from_data(st.last) if isinstance(r, Choices)]
    if st.at is not None and st.last:
        lead = say(turn, T.LOST, T.LOST_SHORT) if lost else T.EMOJI_AT_QUESTION
        again = question[-1:] if question else [r for r in from_data(st.last) if isinstance(r, Text)][-1:]
        return [Text(lead), *again], st.at
    lead = say(turn, T.LOST, T.LOST_SHORT) if lost else T.THANKS + booked_note(turn)
    return [Text(lead), menu(turn)], "help.menu"


def late(turn: Turn, st: State) -> Result | None:
    return own_question(turn, st) or lost_or_emoji(turn, st)


def own_question(turn: Turn, st: State) -> Result | None:
    """明天那个活动在哪, 几点去: a question about one of the person's own sign-ups, answered from it."""
    kind = question(turn)
    if kind is None or _SEARCHING.search(turn.text or ""):
        return None
    ups = upcoming_signups(turn.session, turn.volunteer.id, turn.now)
    if not ups:
        return None
    te = entity(turn, "time")
    value = te.get("value") if te else None
    if isinstance(value, dict) and value.get("from") and value.get("to"):
        a, b = to_utc(datetime.fromisoformat(str(value["from"]))), to_utc(datetime.fromisoformat(str(value["to"])))
        ups = [s for s in ups if a <= s.activity.starts_at < b] or ups
    if len(ups) > 1:
        hit = name_match(turn.text, {s.id: activity_names(s.activity) for s in ups})
        ups = [s for s in ups if s.id == hit] if hit is not None else ups
    if len(ups) != 1:
        return None
    from .answers import answer_about

    act = ups[0].activity
    st.data["activity_id"] = act.id
    head = T.ABOUT_YOURS.format(title=act.title)
    return [Text(head + answer_about(turn, act, kind) + " " + exits(turn))], None


FLOW = Flow(
    name="help",
    early=fraud,
    late=late,
    steps={"menu": Step(menu_choice), "callback": Step(on_callback, capture=_phone_said)},
    entries={"help": help_text, "choose": menu_choice},
    anywhere={"menu": show_menu, "human_handoff": handoff},
)
