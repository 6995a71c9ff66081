"""Changing a sign-up without cancelling it, and corrections from anywhere.

- More or fewer people (孙子去不了了 就俩人, 再加一个人): one yes/no question, then the party size changes
  with the capacity check; fewer people free places for the waitlist. Nothing is cancelled.
- Another activity instead (换成这个): one yes/no question, then the new one is taken and the old one
  freed in the same transaction.
- Regret and corrections wherever they come (不对, 搞错了, 我不去了, 不等了, 算了): undo the last action
  after one yes/no question, or leave a sign-up the words point at; a regret with nothing to undo says
  so and what is still booked. Never a bare 好的.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from data import services
from data.models import Activity, Signup, SignupStatus

from .. import texts as T
from ..common import booked_note, entity, exits, intent, is_no, is_yes, with_menu, yes_no
from ..registry import Flow, Result, Step
from ..replies import Text
from ..screen import QUESTION, YESNO, activity_names, name_match, party, plain, regret
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn

_CHANGE = re.compile(r"改|加|添|少|减|多报|也想去|也去|也要去|也来|去不了|来不了|不去|不来|就俩|就我|一共|总共|带上|再带|人数")
_LEAVE = re.compile(r"不去了|去不了|不去|不参加|参加不了|来不了|到不了|不等了|不等|不排|不要了|退出|退了|算了|不想去")
_WAITING = re.compile(r"候补|排队|排号|不等|不排")
_NOTHING = re.compile(r"^(?:算了|算了吧|不对|不是|不用了|没事|没事了|不要了)[吧啊了]*$")


def _title(turn: Turn, act: Activity) -> str:
    return f"{act.title}（{T.when(act.starts_at, short=True)}）"


# -- party size -----------------------------------------------------------------------------------
def offer_party(turn: Turn, st: State, signup_id: int, size: int) -> Result:
    signup = turn.session.get(Signup, signup_id)
    assert signup is not None
    if signup.party_size == size:
        return [Text(T.PARTY_SAME.format(title=_title(turn, signup.activity), n=size) + exits(turn))], None
    st.data["party_change"] = {"signup_id": signup.id, "party": size}
    st.data["activity_id"] = signup.activity_id
    prompt = T.PARTY_ASK.format(title=_title(turn, signup.activity), old=signup.party_size, new=size)
    return [yes_no(turn, prompt, T.PARTY_OPTIONS)], "change.party"


def on_party(turn: Turn, st: State) -> Result | None:
    ch = st.data.get("party_change") or {}
    if is_yes(turn):
        res = services.change_party(turn.session, signup_id=int(ch["signup_id"]), volunteer_id=turn.volunteer.id,
                                    party_size=int(ch["party"]), now=turn.now)
        st.data.pop("party_change", None)
        title = _title(turn, res.signup.activity)
        if res.promoted:
            turn.hooks.waitlist_promoted([s.id for s in res.promoted])
        if not res.changed:
            text = T.PARTY_NO_ROOM.format(title=title, left=res.places_left, n=res.signup.party_size)
            return with_menu(turn, text), "help.menu"
        from .family import copy_to_helpers  # 亲情助手: the parent's helpers get a copy

        changed = T.PARTY_CHANGED.format(title=title, n=res.signup.party_size)
        copy_to_helpers(turn, turn.volunteer, changed, f"party:{res.signup.id}:{turn.now:%Y%m%d%H%M%S}")
        return [Text(changed + booked_note(turn) + exits(turn))], None
    if is_no(turn):
        st.data.pop("party_change", None)
        return with_menu(turn, T.NOTHING_CHANGED + booked_note(turn)), "help.menu"
    return None


# -- switching ------------------------------------------------------------------------------------
def offer_switch(turn: Turn, st: State, activity_id: int) -> Result | None:
    """换成这个 on an activity's screen: which of the person's sign-ups it replaces (the same day first)."""
    act = turn.session.get(Activity, activity_id)
    if act is None:
        return None
    ups = [s for s in services.upcoming_signups(turn.session, turn.volunteer.id, turn.now)
           if s.activity_id != activity_id]
    if not ups:
        return None
    day = T.day(act.starts_at)
    same = [s for s in ups if T.day(s.activity.starts_at) == day]
    old = (same or ups)[0]
    st.data["switch"] = {"signup_id": old.id, "activity_id": activity_id}
    st.data["activity_id"] = activity_id
    prompt = T.SWITCH_ASK.format(old=_title(turn, old.activity), new=_title(turn, act))
    return [yes_no(turn, prompt, T.SWITCH_OPTIONS)], "change.switch"


def on_switch(turn: Turn, st: State) -> Result | None:
    sw = st.data.get("switch") or {}
    if is_yes(turn):
        res = services.switch_signup(turn.session, signup_id=int(sw["signup_id"]), volunteer_id=turn.volunteer.id,
                                     activity_id=int(sw["activity_id"]), now=turn.now)
        st.data.pop("switch", None)
        if res.old.promoted:
            turn.hooks.waitlist_promoted([s.id for s in res.old.promoted])
        new = res.new.signup
        if new.status == SignupStatus.PENDING:
            turn.hooks.signup_needs_review(new.id)
        act = turn.session.get(Activity, new.activity_id)
        assert act is not None
        status = T.status_name(new.status, res.new.waitlist_position)
        st.undo = {"kind": "signup", "signup_id": new.id, "at": turn.now.isoformat()}
        text = T.SWITCHED.format(new=_title(turn, act), status=status, old=res.old.signup.activity.title)
        from .family import copy_to_helpers  # 亲情助手: the parent's helpers get a copy

        copy_to_helpers(turn, turn.volunteer, text, f"switch:{new.id}")
        return [Text(text + booked_note(turn) + exits(turn))], None
    if is_no(turn):
        st.data.pop("switch", None)
        return with_menu(turn, T.NOT_SWITCHED + booked_note(turn)), "help.menu"
    return None


# -- corrections and regret from anywhere -----------------------------------------------------------
def _fresh_undo(turn: Turn, st: State) -> dict[str, Any] | None:
    u = st.undo
    if not u or u.get("kind") != "signup":
        return None
    try:
        at = datetime.fromisoformat(str(u["at"]))
    except (KeyError, ValueError):
        return None
    if turn.now - at > timedelta(minutes=turn.settings.undo_minutes):
        return None
    return u


def _pointed(turn: Turn, st: State, ups: list[Signup]) -> Signup | None:
    """The sign-up the words (or the screen) point at, or the only one."""
    if len(ups) == 1:
        return ups[0]
    hit = name_match(turn.text, {s.id: activity_names(s.activity) for s in ups})
    if hit is not None:
        return next(s for s in ups if s.id == hit)
    shown = st.data.get("activity_id")
    return next((s for s in ups if s.activity_id == shown), None)


def late(turn: Turn, st: State) -> Result | None:
    """What no screen took: a correction of the last action, a change of party size, leaving a sign-up."""
    text = plain(turn.text)
    if not text or len(text) > 40 or entity(turn, "time") is not None:
        return None
    u = _fresh_undo(turn, st)
    if regret(text) and u is not None:
        signup = turn.session.get(Signup, int(u["signup_id"]))
        if signup is not None and signup.status in (SignupStatus.CONFIRMED, SignupStatus.PENDING,
                                                    SignupStatus.WAITLISTED):
            prompt = T.CORRECT_ASK.format(title=_title(turn, signup.activity))
            return [yes_no(turn, prompt, T.CORRECT_OPTIONS)], "change.correct"
    changing = bool(_CHANGE.search(text)) and intent(turn) not in ("search_activities",)
    leaving = bool(_LEAVE.search(text) or (_WAITING.search(text) and intent(turn) in ("deny", "cancel_signup")))
    # The sign-ups are read only for words about changing or leaving one (most messages that come here are not).
    ups = services.upcoming_signups(turn.session, turn.volunteer.id, turn.now) if changing or leaving else []
    if ups and changing:
        current = _pointed(turn, st, ups)
        if current is not None:
            size = party(turn, current.party_size)
            if size is not None and not (_LEAVE.search(text) and size == current.party_size):
                return offer_party(turn, st, current.id, size)
    if ups and leaving:
        from .cancel import start as cancel_start

        return cancel_start(turn, st)
    if _NOTHING.match(text) or (regret(text) and len(text) <= 6):
        return with_menu(turn, T.NOTHING_CHANGED + booked_note(turn)), "help.menu"
    return None


def on_correct(turn: Turn, st: State) -> Result | None:
    if is_yes(turn):
        from .undo import undo

        return undo(turn, st)
    if is_no(turn):
        return with_menu(turn, T.NOTHING_CHANGED + booked_note(turn)), "help.menu"
    return None


FLOW = Flow(
    name="change",
    steps={"party": Step(on_party, expects=(QUESTION, YESNO)), "switch": Step(on_switch, expects=(QUESTION, YESNO)),
           "correct": Step(on_correct, expects=(YESNO,))},
    late=late,
)

