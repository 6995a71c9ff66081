"""Answers to activity reminders: `1`/我会到 is recorded with thanks; `2`/去不了 asks to confirm, then frees
the place (the waitlist moves up) and can be undone like any cancel.

The reminder itself comes from the push layer, outside the conversation. So a bare `1` or `2` is read as
its answer only while a reminder is unanswered *and* it arrived after the last reply of the conversation
(or nothing else is going on); otherwise the digit keeps its usual meaning (a list item, a menu choice).
Words that can only be an answer (我会到, 去不了 ...) count whenever a reminder is unanswered.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING

from data import services
from data.models import LIVE_SIGNUP, Signup
from data.models_push import Delivery
from data.records import PendingReminder, answer_reminder, pending_reminder

from .. import texts as T
from ..common import exits, is_no, is_yes, say, short, with_menu, yes_no
from ..registry import Flow, Result, Step
from ..replies import Text
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn

_DIGIT = re.compile(r"^\s*([12])\s*[.。、!！]?\s*$")
_NO = re.compile(r"去不了|去不成|来不了|到不了|不能去|不能到|不会到|不会去|不去了|不来了|参加不了|没法去|去不上|有事")
_YES = re.compile(r"我会到|会到|能去|能到|会去|一定去|一定到|准时到|按时到|肯定去|肯定到")
_MAX_WORDS = 12  # an answer is a few words; a longer message is about something else


def _answer(text: str, fresh: bool) -> str | None:
    """"1", "2" or None: what the message answers, given whether a bare digit may count."""
    s = unicodedata.normalize("NFKC", text or "").strip()
    m = _DIGIT.match(s)
    if m:
        return m.group(1) if fresh else None
    if not s or len(s) > _MAX_WORDS:
        return None
    if _NO.search(s):
        return "2"
    if _YES.search(s):
        return "1"
    return None


def might_answer(text: str) -> bool:
    """Whether the message may answer a reminder (the check before any query): the pipeline then asks the
    database in the same query as who sent it (`Turn.reminder_waiting`)."""
    stripped = (text or "").strip()
    return bool(stripped) and len(stripped) <= _MAX_WORDS and _answer(text, fresh=True) is not None


def _reminded_at(p: PendingReminder) -> datetime:
    return p.delivery.sent_at or p.delivery.updated_at


def _fresh(st: State, p: PendingReminder) -> bool:
    """The reminder came after the conversation's last reply, or no question is open."""
    if st.at is None:
        return True
    if not st.seen:
        return False
    try:
        return datetime.fromisoformat(st.seen) <= _reminded_at(p)
    except ValueError:
        return False


def answer(turn: Turn, st: State) -> Result | None:
    """The early check: answer the pending reminder, or None when the message is not an answer to one."""
    if not might_answer(turn.text):  # cheap text test before any query
        return None
    if turn.reminder_waiting is False:  # the pipeline already asked: nothing waits
        return None
    pending = pending_reminder(turn.session, turn.volunteer.id, turn.now)
    if pending is None:
        return None
    kind = _answer(turn.text or "", _fresh(st, pending))
    if kind is None:
        return None
    act = pending.activity
    card = T.activity_card(act, services.places_left(turn.session, act), short(turn), full=False)
    if kind == "1":
        answer_reminder(turn.session, pending, "1", turn.now)
        body = say(turn, T.REMINDER_YES, T.REMINDER_YES_SHORT, card=card)
        return [Text(body + "\n" + exits(turn))], None
    st.data["reminder"] = {"delivery_id": pending.delivery.id, "signup_id": pending.signup.id}
    return [yes_no(turn, T.REMINDER_ASK_CANCEL.format(card=card), T.REMINDER_CANCEL_OPTIONS)], "reminder.confirm"


def on_confirm(turn: Turn, st: State) -> Result | None:
    ref = st.data.get("reminder") or {}
    if is_yes(turn):
        signup = turn.session.get(Signup, int(ref.get("signup_id") or 0))
        if signup is None or signup.volunteer_id != turn.volunteer.id or signup.status not in LIVE_SIGNUP:
            return with_menu(turn, T.REMINDER_GONE), "help.menu"
        delivery = turn.session.get(Delivery, int(ref.get("delivery_id") or 0))
        if delivery is not None and delivery.volunteer_id == turn.volunteer.id and delivery.answer is None:
            res = answer_reminder(turn.session, PendingReminder(delivery, signup, signup.activity), "2", turn.now)
        else:
            res = None
        if res is None:  # the reminder was answered meanwhile: cancel the plain way
            res = services.cancel_signup(turn.session, signup_id=signup.id, volunteer_id=turn.volunteer.id,
                                         now=turn.now)
        if res.promoted:
            turn.hooks.waitlist_promoted([s.id for s in res.promoted])
        st.undo = {"kind": "cancel", "signup_id": res.signup.id, "at": turn.now.isoformat()}
        act = res.signup.activity
        text = T.REMINDER_CANCELLED.format(title=act.title, when=T.when(act.starts_at, short=short(turn)),
                                           given=T.REMINDER_GIVEN if res.promoted else T.REMINDER_FREED)
        return [Text(text + say(turn, T.UNDO_HINT, T.UNDO_HINT_SHORT) + exits(turn))], None
    if is_no(turn):
        signup = turn.session.get(Signup, int(ref.get("signup_id") or 0))
        if signup is None or signup.status not in LIVE_SIGNUP:
            return with_menu(turn, T.REMINDER_GONE), "help.menu"
        act = signup.activity
        card = T.activity_card(act, services.places_left(turn.session, act), short(turn), full=False)
        return with_menu(turn, T.REMINDER_KEPT.format(card=card)), "help.menu"
    return None


FLOW = Flow(name="reminder", steps={"confirm": Step(on_confirm)}, early=answer)
