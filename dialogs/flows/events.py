"""Channel events and non-text messages: follow/unfollow, menu clicks, voice, images, locations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from data import profiles
from data.models import Activity
from data.services import promote_waitlist

from .. import texts as T
from ..common import menu, say
from ..dispatch import route
from ..registry import Result
from ..replies import Text
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn

# WeChat custom-menu CLICK keys → the intent they stand for.
MENU_KEYS = {"MENU_FIND": "search_activities", "MENU_MINE": "my_signups", "MENU_HUMAN": "human_handoff",
             "MENU_HOURS": "my_hours", "MENU_RECOMMEND": "recommend", "MENU_HELP": "help",
             "MENU_READ": "read_aloud"}


def handle(turn: Turn, st: State) -> Result:
    event = (turn.event or "").lower()
    if event in ("subscribe", "scan"):
        from .family import scanned

        return scanned(turn, st) or followed(turn, st)
    if event == "unsubscribe":
        return unfollowed(turn, st)
    if event == "click" and turn.event_key in MENU_KEYS:
        turn.parse = {"intent": {"name": MENU_KEYS[turn.event_key]}, "entities": []}
        turn.text = ""
        out = route(turn, st)
        if out is not None:
            return out
    return [menu(turn)], "help.menu"


def followed(turn: Turn, st: State) -> Result:
    from .onboarding import scene, welcome

    notes = scene(turn)
    consent = profiles.consent_state(turn.session, turn.volunteer.id, "privacy")
    if not consent:
        st.welcomed = False
        return welcome(turn, st, notes)
    if turn.volunteer.notices_opt_out and (turn.event or "").lower() == "subscribe":
        profiles.set_notices(turn.session, turn.volunteer, turn.channel, True, turn.now)
    return [Text(T.WELCOME_BACK + "".join(notes)), menu(turn)], "help.menu"


def unfollowed(turn: Turn, st: State) -> Result:
    """Stop notices and delete personal data; free the places of upcoming sign-ups."""
    from .family import tell_forgotten

    tell_forgotten(turn)  # the other side of each family link, before the links go
    cancelled = profiles.forget_volunteer(turn.session, turn.volunteer, turn.channel, turn.now)
    promoted: list[int] = []
    for activity_id in sorted({s.activity_id for s in cancelled}):
        act = turn.session.get(Activity, activity_id)
        if act is not None:
            promoted += [s.id for s in promote_waitlist(turn.session, act, turn.now)]
    if promoted:
        turn.hooks.waitlist_promoted(promoted)
    st.data["forget"] = True
    return [Text(T.FORGOTTEN)], None


def voice(turn: Turn, st: State) -> Result:
    return [menu(turn, say(turn, T.VOICE_NOT_UNDERSTOOD, T.VOICE_NOT_UNDERSTOOD_SHORT))], "help.menu"


def image(turn: Turn, st: State) -> Result:
    return [menu(turn, say(turn, T.IMAGE, T.IMAGE_SHORT))], "help.menu"
