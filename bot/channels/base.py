"""The small interface every outbound channel implements, and what a send reports back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from dialogs import Reply


@dataclass
class SendResult:
    """Outcome of one send.

    status: `sent`; `unreachable` (this channel cannot reach the person now: opted out, outside WeChat's
    48-hour window, quota used; the push layer falls back to the next channel); `retry` (transient:
    rate limit, 5xx, timeout; try again after `retry_after` seconds); `failed` (permanent, with reason).
    """

    status: str
    reason: str = ""
    provider_id: str | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "sent"


class Outbound(Protocol):
    """A channel that can send a free-text conversation reply or a notice to one address."""

    name: str

    def send_replies(self, address: str, replies: list[Reply]) -> SendResult: ...

    def send_notice(self, address: str, title: str, body: str) -> SendResult: ...
