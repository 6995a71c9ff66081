"""The routing of one turn through the registered flows (the flows fill dialogs.registry when the
`dialogs.flows` package is imported; this module reads the registry and never imports a flow).

Order of a turn: channel events and non-text kinds → a step that captures raw input (codes, phone
numbers) → first contact (9 and 退订 work even before the privacy question) → the flows' early checks
(an answer to a reminder, a coordinator command, a fear of fraud) → the fixed exits (0 menu, 9 human) →
what the screen on display reads (its declared expectations) → 再说一遍 and the intents answered
anywhere → the current step → the flows' late checks (a correction, a party-size change, a question
about one's own sign-up) → the flow the intent starts → a misunderstanding (twice in a row: menu and a
person).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from data.errors import AlreadySignedUp, InvalidInput, NotFound, NotOpen, Overlap, YinlingError

from . import texts as T
from .common import intent, menu, say, with_menu
from .registry import ANYWHERE, CHECKS, EARLY, ENTRIES, LATE, READERS, SPECIAL, Result, step_of
from .replies import Choices, Reply, Text, from_data
from .screen import QUESTION
from .state import State

if TYPE_CHECKING:
    from .engine import Turn


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
        return SPECIAL["event"](turn, st)
    if turn.kind == "image":
        return SPECIAL["image"](turn, st)
    if turn.kind == "voice" and not (turn.text or "").strip():
        return SPECIAL["voice"](turn, st)
    if turn.kind == "location" and turn.location is not None:
        st.misses = 0
        return SPECIAL["location"](turn, st)
    step = step_of(st)
    if step is not None and step.capture is not None and step.capture(turn, st):
        out = step.handler(turn, st)
        if out is not None:
            st.misses = 0
            return out
    name = intent(turn)
    if CHECKS["needs_welcome"](turn, st):
        # 9 reaches a person, 退订/TD stops messages and 念给我听 reads the question even before the privacy answer.
        if name in ("human_handoff", "unsubscribe", "read_aloud"):
            st.misses = 0
            return ANYWHERE.get(name, ENTRIES.get(name))(turn, st)  # type: ignore[misc]
        return SPECIAL["welcome"](turn, st)
    if CHECKS["wants_forget"](turn, st):
        return SPECIAL["forget"](turn, st)
    if turn.kind in ("text", "voice") and turn.helper is None:  # a family helper acting: activities only
        for early in EARLY:
            out = early(turn, st)
            if out is not None:
                st.misses = 0
                return out
    if name in ("menu", "human_handoff") and name in ANYWHERE:
        st.misses = 0
        return ANYWHERE[name](turn, st)
    if step is not None and step.expects:
        reading = READERS["screen"](turn, st, step.expects)
        if reading is not None:
            turn.reading = reading
            out = SPECIAL["question"](turn, st) if reading.kind == QUESTION else step.handler(turn, st)
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
