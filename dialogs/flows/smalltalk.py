"""Small talk and out-of-scope: a kind one-liner and the menu."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import texts as T
from ..common import booked_note, exits, menu
from ..registry import Flow, Result
from ..replies import Text
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def greet(turn: Turn, st: State) -> Result:
    name = turn.volunteer.name
    hello = T.GREET.format(name=name) if name and len(name) <= 8 else T.GREET_ANON
    return [Text(hello), menu(turn)], "help.menu"


def thanks(turn: Turn, st: State) -> Result:
    return [Text(T.THANKS + exits(turn))], None


def goodbye(turn: Turn, st: State) -> Result:
    return [Text(T.GOODBYE + exits(turn))], None


def out_of_scope(turn: Turn, st: State) -> Result:
    return [Text(T.OUT_OF_SCOPE), menu(turn)], "help.menu"


def okay(turn: Turn, st: State) -> Result:
    """A yes or no with nothing pending."""
    return [Text(T.OK_NOTHING + booked_note(turn)), menu(turn)], "help.menu"


def acknowledged(turn: Turn, st: State) -> Result | None:
    """知道了, 收到 (after a notice): at the menu, what is booked; on a question, not an answer to it."""
    if st.at is not None and not st.at.startswith("help."):
        return None
    return okay(turn, st)


FLOW = Flow(
    name="smalltalk",
    entries={"greet": greet, "thanks": thanks, "goodbye": goodbye, "out_of_scope": out_of_scope,
             "affirm": okay, "deny": okay, "acknowledge": acknowledged},
)
