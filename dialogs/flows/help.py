"""Main menu, help and hand-off to a named coordinator (with the conversation attached)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from data import profiles
from data.models import Activity

from .. import texts as T
from ..common import choice, exits, menu, say, with_menu
from ..registry import Flow, Result, Step
from ..replies import Text
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


def handoff(turn: Turn, st: State) -> Result:
    """9 / 找人工: name and phone of the responsible coordinator; they get the last messages."""
    activity = None
    if st.data.get("activity_id"):
        activity = turn.session.get(Activity, int(st.data["activity_id"]))
    coord, _team = profiles.coordinator_for(turn.session, turn.volunteer, activity)
    transcript = profiles.recent_transcript(turn.session, turn.volunteer.id)
    turn.hooks.handoff_requested(turn.volunteer.id, coord.id if coord else None, transcript)
    if coord is None:
        text = T.HANDOFF_NOBODY
    else:
        text = say(turn, T.HANDOFF, T.HANDOFF_SHORT, name=coord.name, phone=coord.contact_phone)
    return [Text(text + " " + exits(turn))], None


FLOW = Flow(
    name="help",
    steps={"menu": Step(menu_choice)},
    entries={"help": help_text, "choose": menu_choice},
    anywhere={"menu": show_menu, "human_handoff": handoff},
)
