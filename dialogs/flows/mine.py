"""My activities: upcoming sign-ups with their status; a number shows details (1 there = cancel)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from data import services

from .. import texts as T
from ..common import choice, intent, number, say, short, with_menu
from ..registry import Flow, Result, Step
from ..replies import Choices, Text
from ..screen import NAME, NUMBER
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


_MORE = re.compile(r"更多|下一页|下页|还有")


def start(turn: Turn, st: State) -> Result:
    st.offset = 0
    return page(turn, st)


def page(turn: Turn, st: State, turn_page: bool = False) -> Result:
    """One page of upcoming sign-ups (4, or 2 by SMS) from `st.offset`; `turn_page` moves to the next one."""
    ups = services.upcoming_lines(turn.session, turn.volunteer.id, turn.now)  # one statement, plain columns
    if not ups:
        return with_menu(turn, T.NO_SIGNUPS), "help.menu"
    size = 2 if short(turn) else 4
    if turn_page:
        if st.offset + size >= len(ups):
            return [Text(say(turn, T.NO_MORE, T.NO_MORE_SHORT))], "mine.list"
        st.offset += size
    if st.offset >= len(ups):
        st.offset = 0
    shown = ups[st.offset : st.offset + size]
    st.listed, st.list_kind = [s.activity_id for s in shown], "mine"
    st.data["first"] = st.offset + 1
    head = T.MINE_HEAD.format(total=len(ups))
    if st.offset + size < len(ups):
        footer = say(turn, T.MINE_FOOTER_MORE, T.MINE_FOOTER_MORE_SHORT)
    else:
        footer = say(turn, T.MINE_FOOTER, T.MINE_FOOTER_SHORT)
    lines = tuple(T.activity_line(u.activity, 0, short(turn), status=T.status_name(u.status, u.waitlist_position))
                  for u in shown)  # as cancel.signup_lines words them
    return [Choices(head, lines, footer, st.offset + 1)], "mine.list"


def on_list(turn: Turn, st: State) -> Result | None:
    from .search import pick_listed, show_detail

    r = turn.reading
    if r is not None and r.kind == NAME:
        return show_detail(turn, st, int(r.value))
    if r is not None and r.kind == NUMBER:
        return pick_listed(turn, st, int(r.value))
    if intent(turn) == "more" or _MORE.search(turn.text or ""):
        return page(turn, st, turn_page=True)
    if intent(turn) in ("choose", "activity_detail") or choice(turn) is not None:
        return pick_listed(turn, st, number(turn))
    return None


FLOW = Flow(name="mine", steps={"list": Step(on_list, expects=(NUMBER, NAME))}, entries={"my_signups": start})
