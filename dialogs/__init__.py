"""The conversation: per-user state, declared flows, handlers returning abstract replies."""

from . import flows as _flows  # noqa: F401 - fills the registry the engine reads
from .engine import Hooks, RecordedHooks, Settings, Turn, respond
from .flows.reminder import might_answer as might_answer_reminder
from .replies import Choices, Reply, Text, to_plain

__all__ = ["Choices", "Hooks", "RecordedHooks", "Reply", "Settings", "Text", "Turn", "might_answer_reminder",
           "respond", "to_plain"]
