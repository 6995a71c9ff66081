"""Per-volunteer dialog state, kept as JSON in the Store under `dlg:{volunteer_id}` for days."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from typing import Any

from data.kv import Store

log = logging.getLogger("yinling.dialogs")

DAY = 86400
MIN_TTL_DAYS = 7


@dataclass
class State:
    """Where a volunteer is in the conversation.

    flow/step: the current declared step (None = idle at the main menu).
    data: the flow's own values (selected activity, party size, pending profile change ...).
    listed/list_kind: ids shown in the last numbered list, so `2` or `第二个` works later.
    query/offset: the last search, for `更多`.
    last: the last reply (for 再说一遍). misses: misunderstandings in a row.
    undo: the last commitment, undoable for a few minutes. pending: a request waiting for consent.
    seen: when the last reply went out (ISO, naive UTC), so a later push message (a reminder) can be
    told apart from the conversation the user had before it.
    """

    flow: str | None = None
    step: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    listed: list[int] = field(default_factory=list)
    list_kind: str = ""
    query: dict[str, Any] | None = None
    offset: int = 0
    last: list[dict[str, Any]] = field(default_factory=list)
    misses: int = 0
    undo: dict[str, Any] | None = None
    pending: dict[str, Any] | None = None
    welcomed: bool = False
    seen: str = ""

    @property
    def at(self) -> str | None:
        """`flow.step` or None."""
        return f"{self.flow}.{self.step}" if self.flow and self.step else None

    def go(self, target: str | None) -> None:
        """Move to `flow.step` (None = idle)."""
        if target is None:
            self.flow = self.step = None
            return
        self.flow, _, self.step = target.partition(".")

    def to_json(self) -> str:
        # The fields are JSON values already: no deep copy (asdict) needed to write them out.
        return json.dumps({name: getattr(self, name) for name in _FIELDS}, ensure_ascii=False,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> State:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})


_FIELDS = tuple(f.name for f in fields(State))


def key(volunteer_id: int) -> str:
    return f"dlg:{volunteer_id}"


def load(store: Store, volunteer_id: int) -> State:
    return parse(store.get(key(volunteer_id)), volunteer_id)


def parse(raw: str | None, volunteer_id: int) -> State:
    """A state as stored (None or empty: a fresh one)."""
    if not raw:
        return State()
    try:
        return State.from_json(raw)
    except (ValueError, TypeError):
        log.warning("unreadable dialog state for volunteer %s; starting over", volunteer_id)
        return State()


def ttl_seconds(ttl_days: int) -> int:
    """How long a state is kept: `ttl_days`, at least a week."""
    return max(ttl_days, MIN_TTL_DAYS) * DAY


def save(store: Store, volunteer_id: int, state: State, ttl_days: int) -> None:
    store.set(key(volunteer_id), state.to_json(), ttl=ttl_seconds(ttl_days))


def forget(store: Store, volunteer_id: int) -> None:
    store.delete(key(volunteer_id))
