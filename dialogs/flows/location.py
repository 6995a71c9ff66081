"""A shared location: activities nearest to it, and the person's say over whether it is remembered.

The last location is kept only after the person asks for it (回复“记住位置”, consent kind `location`)
and dropped when they say 忘掉位置. WeChat's automatic location reports (the LOCATION event) update
it only under the same consent, and never touch the conversation.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from data import profiles

from .. import texts as T
from ..common import exits
from ..registry import Flow, Result
from ..replies import Text
from ..state import State
from . import search

if TYPE_CHECKING:
    from ..engine import Turn

_REMEMBER = re.compile(r"^\s*(请|麻烦)?(你)?(记住|记下|保存|存下)(我的|这个|我这个)?(位置|地址|定位)\s*[。！!.]?\s*$")
_FORGET = re.compile(r"^\s*(请|麻烦)?(你)?(忘掉|忘了|删掉|删除|清除|别记|不要记|不用记)(我的|这个)?(位置|定位)\s*[。！!.]?\s*$")


def _keep(turn: Turn) -> bool | None:
    """Remember the turn's point when the person agreed; returns their decision (None: never asked)."""
    consent = profiles.consent_state(turn.session, turn.volunteer.id, "location")
    if consent and turn.location is not None:
        turn.volunteer.last_lat, turn.volunteer.last_lon = turn.location
    return consent


def near_point(turn: Turn, st: State) -> Result:
    """Activities nearest to the shared point; offers to remember it when the person never decided."""
    assert turn.location is not None
    consent = _keep(turn)
    replies, target = search.near(turn, st, *turn.location)
    if consent is None:
        replies = [Text(T.LOCATION_REMEMBER_HINT), *replies]
    return replies, target


def reported(turn: Turn) -> None:
    """WeChat's LOCATION event: kept only with the location consent; the conversation is untouched."""
    _keep(turn)


def reported_turn(turn: Turn, st: State) -> Result:
    reported(turn)
    return [], None


def early(turn: Turn, st: State) -> Result | None:
    text = turn.text or ""
    if len(text) > 16:
        return None
    if _REMEMBER.match(text):
        profiles.record_consent(turn.session, turn.volunteer.id, "location", True, turn.channel, turn.now)
        near = (st.query or {}).get("near")
        if near and len(near) == 2:
            turn.volunteer.last_lat, turn.volunteer.last_lon = float(near[0]), float(near[1])
            return [Text(T.LOCATION_SAVED + "\n" + exits(turn))], st.at
        return [Text(T.LOCATION_WILL_SAVE + "\n" + exits(turn))], st.at
    if _FORGET.match(text):
        profiles.record_consent(turn.session, turn.volunteer.id, "location", False, turn.channel, turn.now)
        turn.volunteer.last_lat = turn.volunteer.last_lon = None
        return [Text(T.LOCATION_FORGOTTEN + "\n" + exits(turn))], st.at
    return None


FLOW = Flow(name="location", early=early)
