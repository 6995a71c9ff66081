"""The dialog entry point: one turn in, abstract replies out (the order of a turn: dialogs.dispatch).

The engine reads the flow registry (dialogs.registry), which the `dialogs.flows` package fills when
`dialogs` is imported; it never imports a flow, so no import runs back from the flows to the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from data.crypto import PhoneVault
from data.errors import YinlingError
from data.kv import Store
from data.models import Volunteer

from . import state as states
from .common import menu
from .dispatch import dispatch, domain_error
from .registry import CHECKS, SPECIAL
from .replies import Reply, fit, from_data, to_data

log = logging.getLogger("yinling.dialogs")


class Hooks(Protocol):
    """What dialogs hand to the push layer. Calls are collected and run after the turn commits."""

    def waitlist_promoted(self, signup_ids: list[int]) -> None: ...

    def handoff_requested(self, volunteer_id: int, coordinator_id: int | None, transcript: list[str],
                          handoff_id: int | None = None) -> None: ...

    def signup_needs_review(self, signup_id: int) -> None: ...

    def send_bind_code(self, volunteer_id: int, phone: str, code: str) -> None: ...

    def signup_reviewed(self, signup_id: int, approved: bool) -> None: ...

    def send_team_notice(self, coordinator_id: int, team_id: int, text: str) -> None: ...

    def tell_family(self, volunteer_ids: list[int], title: str, body: str, key: str) -> None: ...

    def offer_family_qr(self, volunteer_id: int, scene: str) -> None: ...


class RecordedHooks:
    """The Hooks protocol as a record of calls `(name, args)`: the pipeline hands them on after the commit,
    the conversation evaluator and the tests read them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for n, args in self.calls if n == name]

    def waitlist_promoted(self, signup_ids: list[int]) -> None:
        self.calls.append(("waitlist_promoted", (signup_ids,)))

    def handoff_requested(self, volunteer_id: int, coordinator_id: int | None, transcript: list[str],
                          handoff_id: int | None = None) -> None:
        self.calls.append(("handoff_requested", (volunteer_id, coordinator_id, transcript, handoff_id)))

    def signup_needs_review(self, signup_id: int) -> None:
        self.calls.append(("signup_needs_review", (signup_id,)))

    def send_bind_code(self, volunteer_id: int, phone: str, code: str) -> None:
        self.calls.append(("send_bind_code", (volunteer_id, phone, code)))

    def signup_reviewed(self, signup_id: int, approved: bool) -> None:
        self.calls.append(("signup_reviewed", (signup_id, approved)))

    def send_team_notice(self, coordinator_id: int, team_id: int, text: str) -> None:
        self.calls.append(("send_team_notice", (coordinator_id, team_id, text)))

    def tell_family(self, volunteer_ids: list[int], title: str, body: str, key: str) -> None:
        self.calls.append(("tell_family", (volunteer_ids, title, body, key)))

    def offer_family_qr(self, volunteer_id: int, scene: str) -> None:
        self.calls.append(("offer_family_qr", (volunteer_id, scene)))


@dataclass
class Settings:
    """Dialog settings: config.yaml's `dialogs:` section (bot.config builds this type, unknown keys refused)."""

    state_ttl_days: int = 14
    undo_minutes: int = 10
    page_size: int = 4
    search_days: int = 7
    wechat_budget_chars: int = 300
    sms_budget_chars: int = 140
    # Whether a text message can reach a coordinator's mobile. Not a config.yaml key: bot.config sets it
    # from the SMS section (no provider, or the console one in production, reaches nobody).
    sms_out: bool = True

    def budget(self, channel: str) -> int:
        """Characters one reply may use on this channel (SMS: two 70-character segments)."""
        if channel == "sms":
            return min(self.wechat_budget_chars, self.sms_budget_chars)
        return self.wechat_budget_chars


@dataclass
class Turn:
    """One inbound message with everything a handler may use. `now` is naive UTC."""

    parse: dict[str, Any]
    text: str
    volunteer: Volunteer
    session: Session
    store: Store
    now: datetime
    channel: str
    hooks: Hooks
    settings: Settings = field(default_factory=Settings)
    kind: str = "text"  # text | voice | location | image | event
    event: str | None = None
    event_key: str | None = None
    location: tuple[float, float] | None = None
    new_user: bool = False
    vault: PhoneVault | None = None
    # Set to False when the turn ended in "not understood" (for the conversation tests' count).
    understood: bool = True
    # What the screen on display read from the message (dialogs.screen.Reading), set before its step runs.
    reading: Any = None
    # A reply that may use three SMS segments (activity details: what you do and where exactly).
    long_reply: bool = False
    # Replies the channel should also send as voice (念给我听); every reply when the volunteer asked for
    # it always (volunteers.read_aloud). A channel that cannot send voice ignores it.
    speak: list[Reply] | None = None
    # 亲情助手: the family helper acting for `volunteer` (the parent) in this turn (dialogs.flows.family).
    helper: Volunteer | None = None
    # Whether an activity reminder waits for an answer, when the caller already asked (data.records.
    # reminder_waiting, for a message `might_answer_reminder`); None: not asked, the dialogs read it themselves.
    reminder_waiting: bool | None = None
    # The volunteer's dialog state as the caller already read it: (volunteer id, stored JSON or None). None:
    # not read, `respond` reads it from the store.
    state_preloaded: tuple[int, str | None] | None = None
    # Where `respond` leaves the state to be written (volunteer id, JSON, or None to forget it) when the caller
    # writes it itself after its commit (bot.pipeline: with the turn lock's release, one round trip). None:
    # `respond` writes it to the store.
    state_out: list[tuple[int, str | None]] | None = None


# Channel events no person typed (WeChat's periodic location report, a click on a link in the menu):
# they change nothing in the conversation and get no answer.
SILENT_EVENTS = frozenset({"location", "view"})
# Three concatenated SMS segments of 67 characters each (activity details by SMS).
SMS_THREE_SEGMENTS = 201


def respond(turn: Turn) -> list[Reply]:
    """Answer one turn, within the channel's budget; empty only for a silent event. Does not commit."""
    if turn.kind == "event" and (turn.event or "").lower() in SILENT_EVENTS:
        SPECIAL["reported"](turn, states.State())
        return []
    pre = turn.state_preloaded
    if pre is not None and pre[0] == turn.volunteer.id:
        st = states.parse(pre[1], turn.volunteer.id)
    else:
        st = states.load(turn.store, turn.volunteer.id)
    forget = False
    try:
        replies, target = dispatch(turn, st)
        forget = bool(st.data.get("forget"))
        st.go(target)
        if target is None or target.startswith("help."):
            st.data.clear()  # back at the menu: nothing of the finished task may leak into the next one
    except YinlingError as exc:
        log.info("domain error %s for volunteer %s", exc.code, turn.volunteer.id)
        replies = domain_error(turn, st, exc)
        st.go(None)
    if not replies:
        replies = [menu(turn)]
    budget = turn.settings.budget(turn.channel)
    if turn.long_reply and turn.channel == "sms":
        budget = max(budget, min(turn.settings.wechat_budget_chars, SMS_THREE_SEGMENTS))
    replies = fit(replies, budget)
    if turn.speak is None and turn.volunteer.deleted_at is None and (
            turn.volunteer.read_aloud or ("wants_to_hear" in CHECKS and CHECKS["wants_to_hear"](turn, st))):
        turn.speak = replies  # always, or asked in the same breath as something else (第二个念给我听)
    st.last = to_data(replies)
    st.seen = turn.now.isoformat()
    if turn.state_out is not None:
        turn.state_out.append((turn.volunteer.id, None if forget else st.to_json()))
    elif forget:
        states.forget(turn.store, turn.volunteer.id)  # personal data deleted: no state kept either
    else:
        states.save(turn.store, turn.volunteer.id, st, turn.settings.state_ttl_days)
    return replies


def last_reply(st: states.State) -> list[Reply]:
    return from_data(st.last)
