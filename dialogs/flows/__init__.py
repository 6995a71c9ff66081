"""All flows, registered in one place: importing this package fills dialogs.registry.

Adding a flow: write `flows/<name>.py` with a `FLOW = Flow(...)` and add it to `_MODULES` below. The
engine never imports a flow: it reads the registry (dialogs.dispatch).
"""

from __future__ import annotations

from ..registry import CHECKS, FLOWS, READERS, SPECIAL, register
from . import (
    answers,
    cancel,
    change,
    coordinator,
    events,
    family,
    help,
    hours,
    location,
    mine,
    onboarding,
    profile,
    read_aloud,
    recommend,
    reminder,
    search,
    signup,
    smalltalk,
    subscribe,
    undo,
)

_MODULES = (help, search, signup, cancel, change, mine, hours, profile, onboarding, recommend, subscribe,
            smalltalk, undo, coordinator, reminder, location, read_aloud, family)
for _m in _MODULES:
    if _m.FLOW.name not in FLOWS:
        register(_m.FLOW)

# The turn's fixed stages that belong to one flow each (channel events, first contact, forgetting).
SPECIAL.update(event=events.handle, image=events.image, voice=events.voice, location=location.near_point,
               welcome=onboarding.welcome, forget=profile.ask_forget, question=answers.answer_on_screen,
               reported=location.reported_turn)
CHECKS.update(needs_welcome=onboarding.needs_welcome, wants_forget=profile.wants_forget,
              wants_to_hear=read_aloud.wants_to_hear)
READERS.update(screen=answers.screen_reading)
