"""My activities: upcoming sign-ups with their status; a number shows details (1 there = cancel)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from data import services

from .. import texts as T
from ..common import choice, intent, number, say, short, with_menu
from ..registry import Flow, Result, Step
from ..replies import Choices
from ..state import State
from .cancel import signup_lines

if TYPE_CHECKING:
    from ..engine import Turn


def start(turn: Turn, st: State) -> Result:
    ups = services.upcoming_signups(turn.session, turn.volunteer.id, turn.now)
    if not ups:
        return with_menu(turn, T.NO_SIGNUPS), "help.menu"
    shown = ups[:4 if not short(turn) else 2]
    st.listed, st.list_kind = [s.activity_id for s in shown], "mine"
    head = T.MINE_HEAD.format(total=len(ups))
    return [Choices(head, signup_lines(turn, shown), say(turn, T.MINE_FOOTER, T.MINE_FOOTER_SHORT))], "mine.list"


def on_list(turn: Turn, st: State) -> Result | None:
    from .search import pick_listed

    if intent(turn) in ("choose", "activity_detail") or choice(turn) is not None:
        return pick_listed(turn, st, number(turn))
    return None


FLOW = Flow(name="mine", steps={"list": Step(on_list)}, entries={"my_signups": start})
