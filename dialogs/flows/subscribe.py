"""Subscribe / unsubscribe to notices (T, TD, N, R, 退订); unsubscribed users still get answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from data import profiles

from .. import texts as T
from ..common import exits, say
from ..registry import Flow, Result
from ..replies import Text
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def unsubscribe(turn: Turn, st: State) -> Result:
    profiles.set_notices(turn.session, turn.volunteer, turn.channel, False, turn.now)
    return [Text(say(turn, T.UNSUBSCRIBED, T.UNSUBSCRIBED_SHORT) + exits(turn))], None


def subscribe(turn: Turn, st: State) -> Result:
    profiles.set_notices(turn.session, turn.volunteer, turn.channel, True, turn.now)
    return [Text(say(turn, T.SUBSCRIBED, T.SUBSCRIBED_SHORT) + exits(turn))], None


FLOW = Flow(name="subscribe", entries={"subscribe": subscribe, "unsubscribe": unsubscribe})
