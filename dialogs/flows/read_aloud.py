"""Replies read aloud (念给我听): once, always (以后都念给我听), or no more (不用念了). The channel speaks them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import texts as T
from ..common import say, with_menu
from ..registry import Flow, Result
from ..replies import Reply, Text, from_data
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn

SPEAKING_CHANNELS = ("wechat",)  # channels that can send a voice message


def _last(st: State) -> list[Reply]:
    """The last reply without our own "语音马上发过来" line (asked twice, it is not read again)."""
    notes = {T.READ_ALOUD_COMING, T.READ_ALOUD_ON, T.READ_ALOUD_ALREADY_ON, T.READ_ALOUD_OFF,
             T.READ_ALOUD_ALREADY_OFF}
    return [r for r in from_data(st.last) if not (isinstance(r, Text) and r.text in notes)]


def _then(turn: Turn, st: State, note: str) -> Result:
    """`note`, then the reply on screen again (the person stays where they were), or the menu."""
    last = _last(st)
    if not last:
        return with_menu(turn, note), "help.menu"
    return [Text(note), *last], st.at


def _no_voice(turn: Turn, st: State) -> Result:
    return [Text(say(turn, T.READ_ALOUD_SMS, T.READ_ALOUD_SMS_SHORT))], st.at


def read_once(turn: Turn, st: State) -> Result:
    """念给我听: the last reply again as text, and the channel sends it as a voice message too."""
    if turn.channel not in SPEAKING_CHANNELS:
        return _no_voice(turn, st)
    last = _last(st)
    if not last:
        replies = with_menu(turn, T.READ_ALOUD_NOTHING)
        turn.speak = replies
        return replies, "help.menu"
    turn.speak = last
    return [Text(T.READ_ALOUD_COMING), *last], st.at


def always_on(turn: Turn, st: State) -> Result:
    """以后都念给我听: saved on the volunteer; from this reply on, every reply is spoken too."""
    if turn.channel not in SPEAKING_CHANNELS:
        return _no_voice(turn, st)
    if turn.volunteer.read_aloud:
        return _then(turn, st, T.READ_ALOUD_ALREADY_ON)
    turn.volunteer.read_aloud = True
    return _then(turn, st, T.READ_ALOUD_ON)


def always_off(turn: Turn, st: State) -> Result:
    """不用念了: text only again."""
    if not turn.volunteer.read_aloud:
        return _then(turn, st, T.READ_ALOUD_ALREADY_OFF)
    turn.volunteer.read_aloud = False
    return _then(turn, st, T.READ_ALOUD_OFF)


FLOW = Flow(
    name="read_aloud",
    anywhere={"read_aloud": read_once, "read_aloud_on": always_on, "read_aloud_off": always_off},
)
