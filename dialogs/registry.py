"""The flow registry: each flow declares its steps and the intents that start it; one line adds a flow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .replies import Reply
from .state import State

if TYPE_CHECKING:
    from .engine import Turn

# A handler answers one turn: replies plus the next `flow.step` (None = idle), or None = "not for me"
# (the engine then routes the message by its intent).
Result = tuple[list[Reply], str | None]
Handler = Callable[["Turn", State], Result | None]
Capture = Callable[["Turn", State], bool]


@dataclass(frozen=True)
class Step:
    """One state of a flow. `capture` lets the step see a message before the global exits
    (a 6-digit code must not be read as a menu choice). `expects` lists what the screen reads first,
    in order (dialogs.screen: NUMBER, NAME, YESNO, PARTY, QUESTION): a message one of them places goes
    to the handler with `turn.reading` set, before any global intent may take it."""

    handler: Handler
    capture: Capture | None = None
    expects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Flow:
    """A declared conversation: its states, the intents that start it, and intents it answers anywhere.

    `early` is a global check that sees every text message before the exits and the current step and
    answers only when the message is clearly for it (an answer to a reminder, a coordinator command);
    otherwise it returns None and the turn goes on as usual. `late` sees what neither the screen nor
    the current step took, before the intents that start flows (a correction, a change of party size).
    """

    name: str
    steps: dict[str, Step] = field(default_factory=dict)
    entries: dict[str, Handler] = field(default_factory=dict)
    anywhere: dict[str, Handler] = field(default_factory=dict)
    early: Handler | None = None
    late: Handler | None = None


FLOWS: dict[str, Flow] = {}
ENTRIES: dict[str, Handler] = {}
ANYWHERE: dict[str, Handler] = {}
EARLY: list[Handler] = []
LATE: list[Handler] = []
# Stages of a turn that one flow answers (channel events, first contact, a question on screen ...),
# filled by dialogs.flows; the dispatcher reads them and never imports a flow.
SPECIAL: dict[str, Handler] = {}
CHECKS: dict[str, Callable[[Turn, State], bool]] = {}
READERS: dict[str, Callable[..., Any]] = {}


def register(flow: Flow) -> Flow:
    """Add a flow; an intent may start only one flow, so a clash fails at import time."""
    if flow.name in FLOWS:
        raise ValueError(f"flow {flow.name} registered twice")
    for table, name in ((ENTRIES, "entries"), (ANYWHERE, "anywhere")):
        for intent, handler in getattr(flow, name).items():
            if intent in ENTRIES or intent in ANYWHERE:
                raise ValueError(f"intent {intent} already handled before flow {flow.name}")
            table[intent] = handler
    if flow.early is not None:
        EARLY.append(flow.early)
    if flow.late is not None:
        LATE.append(flow.late)
    FLOWS[flow.name] = flow
    return flow


def step_of(state: State) -> Step | None:
    flow = FLOWS.get(state.flow or "")
    if flow is None:
        return None
    return flow.steps.get(state.step or "")
