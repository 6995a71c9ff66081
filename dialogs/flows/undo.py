"""撤销: undo the last commitment (sign-up, cancel, profile change) within a few minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from data import services
from data.models import Activity, SignupStatus

from .. import texts as T
from ..common import booked_note, exits, with_menu
from ..registry import Flow, Result
from ..replies import Text
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def undo(turn: Turn, st: State) -> Result:
    u = st.undo
    if not u:
        if st.at in ("signup.confirm", "signup.overlap"):
            # Asked whether to sign up, nothing booked yet: taking it back is "don't sign me up".
            return with_menu(turn, T.NOT_SIGNED + booked_note(turn)), "help.menu"
        return [Text(T.UNDO_NOTHING + exits(turn))], st.at
    st.undo = None
    if turn.now - datetime.fromisoformat(u["at"]) > timedelta(minutes=turn.settings.undo_minutes):
        return with_menu(turn, T.UNDO_EXPIRED), "help.menu"
    if u["kind"] == "signup":
        res = services.cancel_signup(turn.session, signup_id=int(u["signup_id"]), volunteer_id=turn.volunteer.id,
                                     now=turn.now)
        if res.promoted:
            turn.hooks.waitlist_promoted([s.id for s in res.promoted])
        return with_menu(turn, T.UNDO_SIGNUP.format(title=res.signup.activity.title) + booked_note(turn)), "help.menu"
    if u["kind"] == "cancel":
        res2 = services.restore_signup(turn.session, signup_id=int(u["signup_id"]),
                                       volunteer_id=turn.volunteer.id, now=turn.now)
        signup = res2.signup
        if signup.status == SignupStatus.PENDING:
            turn.hooks.signup_needs_review(signup.id)
        act = turn.session.get(Activity, signup.activity_id)
        title = act.title if act else ""
        status = T.status_name(signup.status, res2.waitlist_position)
        return with_menu(turn, T.UNDO_CANCEL.format(title=title, status=status) + booked_note(turn)), "help.menu"
    if u["kind"] == "profile":
        from .profile import PROFILE_FIELDS

        for attr, value in (u.get("old") or {}).items():
            if attr in PROFILE_FIELDS:
                setattr(turn.volunteer, attr, value)
        turn.session.flush()
        return with_menu(turn, T.UNDO_PROFILE), "help.menu"
    return with_menu(turn, T.UNDO_NOTHING), "help.menu"


FLOW = Flow(name="undo", anywhere={"undo": undo})
