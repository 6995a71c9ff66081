"""Replies read aloud (念给我听): once, always (以后都念给我听), or no more (不用念了). The channel speaks them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .. import texts as T
from ..common import entity, intent, say, with_menu
from ..registry import Flow, Result
from ..replies import Reply, Text, from_data
from ..screen import plain
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn

SPEAKING_CHANNELS = ("wechat",)  # channels that can send a voice message


# Asking to hear: 念 (not 纪念, 想念), 读 with a word that makes it reading out (never 读报 alone), louder,
# slower, by voice.
_HEAR = re.compile(r"(?<![纪怀想思悼挂惦])念(?!叨|书)|朗读|读(?:一下|一遍|一次|给(?!老人|孩子|小孩)|出来|出声|读(?!报|书)|慢|大声)|(?:大声|大点声|慢点|慢些)读"
                   r"|说给我听|给我说说|发语音|用语音|语音(?:念|读|说)|听语音|大点声|大声点|声音大")
# Not seeing the words: 眼睛不好, 眼花了看不清, 不识字. Alone (nothing else said), a request to hear.
_EYES = re.compile(r"眼睛不好使?|眼神儿?不好|眼神不济|眼花了?|老花眼?|看不清楚?|看不见|看不了|瞅不清|瞧不清|不识字|不认字|字太小")
_EYES_REST = set("我俺的了啊呀哎唉嘛字都太这上面你些楼有点")
# Intents such a request resembles, none of which acts on anything here (字太小 is elder_mode, 我眼睛不好
# update_profile, 看不清 repeat); the screen's own answers and every other intent keep their message.
_NEIGHBOURS = frozenset({"elder_mode", "repeat", "update_profile", "nlu_fallback", "greet", "thanks", "chitchat"})


def _eyes_only(s: str) -> bool:
    rest = _EYES.sub("", s)
    return rest != s and all(c in _EYES_REST for c in rest)


_STOP = re.compile(r"[不别甭没](?:用|要|必|想)?(?:再)?(?:念|读|朗读|发语音)|关(?:掉|闭)?(?:朗读|语音)")


def wants_to_hear(turn: Turn, st: State) -> bool:
    """The message asks in so many words for the reply to be read out, also when it asks for something else
    in the same breath (第二个念给我听, 读一下第二个), on a channel that can send voice; never 不用念了."""
    if turn.channel not in SPEAKING_CHANNELS or turn.kind not in ("text", "voice"):
        return False
    s = plain(turn.text)
    return bool(s) and bool(_HEAR.search(s)) and not _STOP.search(s) \
        and intent(turn) not in ("read_aloud_off", "read_aloud_on")


def early(turn: Turn, st: State) -> Result | None:
    """A request to hear that the intents took for a neighbour (大点声念 as 长辈版, 我眼睛不好 as a profile
    change): read the reply on screen. In the profile and onboarding, eyes are a health answer."""
    if intent(turn) not in _NEIGHBOURS or st.flow in ("profile", "onboarding") or entity(turn, "number"):
        return None
    s = plain(turn.text)
    if not s or len(s) > 14 or _STOP.search(s):
        return None
    if _HEAR.search(s):
        return read_once(turn, st)
    if _eyes_only(s):
        return read_once(turn, st, T.READ_ALOUD_EYES)
    return None


def _last(st: State) -> list[Reply]:
    """The last reply without our own "语音马上发过来" line (asked twice, it is not read again)."""
    notes = {T.READ_ALOUD_COMING, T.READ_ALOUD_EYES, T.READ_ALOUD_ON, T.READ_ALOUD_ALREADY_ON, T.READ_ALOUD_OFF,
             T.READ_ALOUD_ALREADY_OFF}
    return [r for r in from_data(st.last) if not (isinstance(r, Text) and r.text in notes)]


def _then(turn: Turn, st: State, note: str) -> Result:
    """`note`, then the reply on screen again (the person stays where they were), or the menu."""
    last = _last(st)
    if not last:
        return with_menu(turn, note), "help.menu"
    return [Text(note), *last], st.at


def _no_voice(turn: Turn, st: State) -> Result:
    if turn.channel != "sms":  # the terminal chat, and any other channel without voice
        return [Text(T.READ_ALOUD_HERE)], st.at
    return [Text(say(turn, T.READ_ALOUD_SMS, T.READ_ALOUD_SMS_SHORT))], st.at


def read_once(turn: Turn, st: State, note: str = T.READ_ALOUD_COMING) -> Result:
    """念给我听: the last reply again as text, and the channel sends it as a voice message too."""
    if turn.channel not in SPEAKING_CHANNELS:
        return _no_voice(turn, st)
    last = _last(st)
    if not last:
        replies = with_menu(turn, T.READ_ALOUD_NOTHING)
        turn.speak = replies
        return replies, "help.menu"
    turn.speak = last
    return [Text(note), *last], st.at


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
    early=early,
)
