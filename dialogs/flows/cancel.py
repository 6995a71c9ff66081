"""Cancel: pick among upcoming sign-ups, confirm, free the place and promote the waitlist."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from data import services
from data.models import Signup, SignupStatus

from .. import texts as T
from ..common import booked_note, choice, exits, is_no, is_yes, number, say, short, with_menu, yes_no
from ..registry import Flow, Result, Step
from ..replies import Choices, Text
from ..screen import NAME, NUMBER, YESNO, activity_names, name_match, plain
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def signup_lines(turn: Turn, signups: list[Signup]) -> tuple[str, ...]:
    """Upcoming sign-ups as list lines with their status (已报上, 等审核, 候补第2位)."""
    return tuple(
        T.activity_line(s.activity, 0, short(turn),
                        status=T.status_name(s.status, services.waitlist_position(turn.session, s)))
        for s in signups
    )


_WAITING = re.compile(r"候补|排队|排號|排号|不等|等着|等了")


def start(turn: Turn, st: State) -> Result:
    ups = services.upcoming_signups(turn.session, turn.volunteer.id, turn.now)
    if not ups:
        return with_menu(turn, T.NO_SIGNUPS), "help.menu"
    n = number(turn)
    if n is not None and st.list_kind == "mine" and 1 <= n <= len(st.listed):
        live = services.live_signup(turn.session, turn.volunteer.id, st.listed[n - 1])
        if live is not None:
            return confirm_for(turn, st, live.id)
    # 扫雪那个我不去了, 排队那个不等了: the sign-up the words point at.
    if _WAITING.search(plain(turn.text)):
        waiting = [s for s in ups if s.status == SignupStatus.WAITLISTED]
        ups = waiting or ups
    named = name_match(turn.text, {s.id: activity_names(s.activity) for s in ups}) if len(ups) > 1 else None
    if named is not None:
        return confirm_for(turn, st, named)
    if len(ups) == 1:
        return confirm_for(turn, st, ups[0].id)
    shown = ups[:4 if not short(turn) else 3]
    st.listed, st.list_kind = [s.id for s in shown], "signup"
    st.data["first"] = 1
    footer = say(turn, T.PICK_FOOTER, T.PICK_FOOTER_SHORT)
    return [Choices(T.PICK_CANCEL, signup_lines(turn, shown), footer)], "cancel.pick"


def on_pick(turn: Turn, st: State) -> Result | None:
    r = turn.reading
    if r is not None and r.kind == NAME:
        return confirm_for(turn, st, int(r.value))
    if r is not None and r.kind == "no":
        return with_menu(turn, T.NOT_CANCELLED_ANY + booked_note(turn)), "help.menu"
    n = int(r.value) if r is not None and r.kind == NUMBER else choice(turn)
    if n is None or st.list_kind != "signup":
        return None
    if not 1 <= n <= len(st.listed):
        return [Text(T.NOT_IN_LIST.format(n=n, m=len(st.listed)))], st.at
    return confirm_for(turn, st, st.listed[n - 1])


def confirm_for(turn: Turn, st: State, signup_id: int) -> Result:
    signup = turn.session.get(Signup, signup_id)
    if signup is None or signup.volunteer_id != turn.volunteer.id:
        return with_menu(turn, T.NO_SIGNUPS), "help.menu"
    st.data["signup_id"] = signup.id
    st.data["activity_id"] = signup.activity_id
    act = signup.activity
    card = T.activity_card(act, services.places_left(turn.session, act), short(turn), full=False)
    return [yes_no(turn, T.CONFIRM_CANCEL.format(card=card), T.CONFIRM_CANCEL_OPTIONS)], "cancel.confirm"


def on_confirm(turn: Turn, st: State) -> Result | None:
    if is_yes(turn):
        res = services.cancel_signup(turn.session, signup_id=int(st.data["signup_id"]),
                                     volunteer_id=turn.volunteer.id, now=turn.now)
        if res.promoted:
            turn.hooks.waitlist_promoted([s.id for s in res.promoted])
        st.undo = {"kind": "cancel", "signup_id": res.signup.id, "at": turn.now.isoformat()}
        act = res.signup.activity
        text = T.CANCELLED.format(title=act.title, when=T.when(act.starts_at, short=short(turn)))
        from .family import copy_to_helpers  # 亲情助手: the parent's helpers get a copy

        copy_to_helpers(turn, turn.volunteer, text, f"cancelled:{res.signup.id}:{turn.now:%Y%m%d%H%M%S}")
        return [Text(text + booked_note(turn) + say(turn, T.UNDO_HINT, T.UNDO_HINT_SHORT) + exits(turn))], None
    if is_no(turn):
        return with_menu(turn, T.NOT_CANCELLED + booked_note(turn)), "help.menu"
    return None


FLOW = Flow(
    name="cancel",
    steps={"pick": Step(on_pick, expects=(NUMBER, NAME, YESNO)), "confirm": Step(on_confirm, expects=(YESNO,))},
    entries={"cancel_signup": start},
)
