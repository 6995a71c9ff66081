"""All flows, registered in one place, and the routing of one turn through them.

Adding a flow: write `flows/<name>.py` with a `FLOW = Flow(...)` and add it to `_MODULES` below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from data.errors import AlreadySignedUp, InvalidInput, NotFound, NotOpen, Overlap, YinlingError

from .. import texts as T
from ..common import intent, menu, say, with_menu
from ..registry import ANYWHERE, EARLY, ENTRIES, FLOWS, LATE, Result, register, step_of
from ..replies import Choices, Reply, Text, from_data
from ..screen import QUESTION
from ..state import State
from . import (
    cancel,
    change,
    coordinator,
    events,
    help,
    hours,
    location,
    mine,
    onboarding,
    profile,
    recommend,
    reminder,
    search,
    signup,
    smalltalk,
    subscribe,
    undo,
)
from .answers import answer_on_screen, screen_reading

if TYPE_CHECKING:
    from ..engine import Turn

_MODULES = (help, search, signup, cancel, change, mine, hours, profile, onboarding, recommend, subscribe,
            smalltalk, undo, coordinator, reminder, location)
for _m in _MODULES:
    if _m.FLOW.name not in FLOWS:
        register(_m.FLOW)


def route(turn: Turn, st: State) -> Result | None:
    """Start the flow the message's intent names (None when no flow takes it)."""
    handler = ANYWHERE.get(intent(turn))
    if handler is not None:
        return handler(turn, st)
    for late in LATE:
        out = late(turn, st)
        if out is not None:
            return out
    handler = ENTRIES.get(intent(turn))
    return handler(turn, st) if handler is not None else None


def dispatch(turn: Turn, st: State) -> Result:
    """One turn through the layers; see engine's module docstring for the order."""
    if turn.kind == "event":
        return events.handle(turn, st)
    if turn.kind == "image":
        return events.image(turn, st)
    if turn.kind == "voice" and not (turn.text or "").strip():
        return events.voice(turn, st)
    if turn.kind == "location" and turn.location is not None:
        st.misses = 0
        return location.near_point(turn, st)
    step = step_of(st)
    if step is not None and step.capture is not None and step.capture(turn, st):
        out = step.handler(turn, st)
        if out is not None:
            st.misses = 0
            return out
    name = intent(turn)
    if onboarding.needs_welcome(turn, st):
        # 9 reaches a person and 退订/TD stops messages even before the privacy question.
        if name in ("human_handoff", "unsubscribe"):
            st.misses = 0
            return ANYWHERE.get(name, ENTRIES.get(name))(turn, st)  # type: ignore[misc]
        return onboarding.welcome(turn, st)
    if profile.wants_forget(turn, st):
        return profile.ask_forget(turn, st)
    if turn.kind in ("text", "voice"):
        for early in EARLY:
            out = early(turn, st)
            if out is not None:
                st.misses = 0
                return out
    if name in ("menu", "human_handoff") and name in ANYWHERE:
        st.misses = 0
        return ANYWHERE[name](turn, st)
    if step is not None and step.expects:
        reading = screen_reading(turn, st, step.expects)
        if reading is not None:
            turn.reading = reading
            out = answer_on_screen(turn, st) if reading.kind == QUESTION else step.handler(turn, st)
            if out is not None:
                st.misses = 0
                return out
            turn.reading = None
    if name == "repeat":
        return repeat(turn, st)
    if name in ANYWHERE:
        st.misses = 0
        return ANYWHERE[name](turn, st)
    if step is not None:
        out = step.handler(turn, st)
        if out is not None:
            st.misses = 0
            return out
    for late in LATE:
        out = late(turn, st)
        if out is not None:
            st.misses = 0
            return out
    if name in ENTRIES:
        out = ENTRIES[name](turn, st)
        if out is not None:
            st.misses = 0
            return out
    return misunderstood(turn, st)


def repeat(turn: Turn, st: State) -> Result:
    last = from_data(st.last)
    if not last:
        return with_menu(turn, T.NOTHING_TO_REPEAT), "help.menu"
    return last, st.at


def misunderstood(turn: Turn, st: State) -> Result:
    """First time: sorry, and the question again. Second time in a row: the menu and a person."""
    turn.understood = False
    st.misses += 1
    if st.misses >= 2:
        return [Text(say(turn, T.MISS_TWICE, T.MISS_TWICE_SHORT)), menu(turn)], "help.menu"
    question = [r for r in from_data(st.last) if isinstance(r, Choices)]
    replies: list[Reply] = [Text(say(turn, T.MISS_ONCE, T.MISS_ONCE_SHORT))]
    if question and st.at is not None:
        replies.append(question[-1])
        return replies, st.at
    replies.append(menu(turn))
    return replies, "help.menu"


_ERRORS: dict[type[YinlingError], str] = {
    NotOpen: T.ERR_NOT_OPEN,
    AlreadySignedUp: T.ERR_ALREADY,
    NotFound: T.ERR_NOT_FOUND,
    Overlap: T.ERR_OVERLAP,
    InvalidInput: T.ERR_INVALID,
}


def domain_error(turn: Turn, st: State, exc: YinlingError) -> list[Reply]:
    """The one place where a domain failure becomes a polite answer with the menu."""
    text = next((t for cls, t in _ERRORS.items() if isinstance(exc, cls)), T.ERR_GENERIC)
    return [Text(text), menu(turn)]
