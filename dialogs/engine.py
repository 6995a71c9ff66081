"""The dialog entry point: one turn in, abstract replies out. (Minimal until the dialogs issue lands.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from data.kv import Store
from data.models import Volunteer

from .replies import Choices, Reply


class Hooks(Protocol):
    """What dialogs hand to the push layer. Calls are collected and run after the turn commits."""

    def waitlist_promoted(self, signup_ids: list[int]) -> None: ...

    def handoff_requested(self, volunteer_id: int, coordinator_id: int | None, transcript: list[str]) -> None: ...

    def signup_needs_review(self, signup_id: int) -> None: ...

    def send_bind_code(self, volunteer_id: int, phone: str, code: str) -> None: ...


@dataclass
class Settings:
    """Dialog settings (from config.yaml `dialogs:`)."""

    state_ttl_days: int = 14
    undo_minutes: int = 10
    page_size: int = 4
    search_days: int = 7
    budget_chars: int = 300


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


def respond(turn: Turn) -> list[Reply]:
    """Answer one turn. Placeholder: the main menu."""
    return [Choices("您好，我是银龄志愿助手。请回复数字：", ("找活动", "我的活动", "我的服务时长", "找人工"),
                    "回复0回主菜单，回复9找人工。")]
