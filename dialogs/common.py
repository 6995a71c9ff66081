"""Small helpers every flow uses: reading the parse, channel variants, the menu and the exits."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from data.timeutil import to_local

from . import texts as T
from .replies import Choices, Reply, Text

if TYPE_CHECKING:
    from .engine import Turn

_DIGITS = re.compile(r"^\s*(\d{1,2})\s*[.。、]?\s*$")
_SKIP = re.compile(r"跳过|不想说|不想答|不说了|不知道|下一个|算了|略过|不用了|没有")


def intent(turn: Turn) -> str:
    name = (turn.parse.get("intent") or {}).get("name")
    return str(name) if name else "nlu_fallback"


def entities(turn: Turn, name: str) -> list[dict[str, Any]]:
    return [e for e in turn.parse.get("entities") or [] if e.get("entity") == name]


def entity(turn: Turn, name: str, role: str | None = None) -> dict[str, Any] | None:
    for e in entities(turn, name):
        if role is None or e.get("role") == role:
            return e
    return None


def number(turn: Turn) -> int | None:
    """An option number from the parse (not a party size), or a bare digit typed by the user."""
    for e in entities(turn, "number"):
        if e.get("role") in (None, "", "index", "choice"):
            try:
                return int(e["value"])
            except (TypeError, ValueError):
                continue
    m = _DIGITS.match(turn.text or "")
    return int(m.group(1)) if m else None


def choice(turn: Turn) -> int | None:
    """The option picked: `2`, `第二个`, `２` (intent choose, or a bare digit)."""
    if intent(turn) == "choose":
        return number(turn)
    m = _DIGITS.match(turn.text or "")
    return int(m.group(1)) if m else None


def party_size(turn: Turn) -> int | None:
    e = entity(turn, "number", "party_size")
    if e is None:
        return None
    try:
        return int(e["value"])
    except (TypeError, ValueError):
        return None


def _said(turn: Turn) -> str | None:
    """`yes`/`no` as the screen read it, else as the words say it."""
    r = turn.reading
    if r is not None and getattr(r, "kind", None) in ("yes", "no"):
        return str(r.kind)
    if r is not None:
        return None
    from .screen import yes_no as words

    return words(turn)


def is_yes(turn: Turn) -> bool:
    said = _said(turn)
    if said is not None:
        return said == "yes"
    return choice(turn) == 1


def is_no(turn: Turn) -> bool:
    said = _said(turn)
    if said is not None:
        return said == "no"
    return choice(turn) == 2


def booked_note(turn: Turn) -> str:
    """What is still booked, for every acknowledgement: `您报名的活动：送棉衣（12月2日上午）。`"""
    from data.services import upcoming_signups, waitlist_position

    ups = upcoming_signups(turn.session, turn.volunteer.id, turn.now)
    if not ups:
        return T.BOOKED_NONE
    items = []
    for s in ups[:3]:
        status = T.status_name(s.status, waitlist_position(turn.session, s))
        party = f"，{s.party_size}人" if s.party_size > 1 else ""
        items.append(f"{s.activity.title}（{T.day(s.activity.starts_at, short(turn))}，{status}{party}）")
    more = T.BOOKED_MORE.format(n=len(ups)) if len(ups) > 3 else ""
    return T.BOOKED_NOW.format(items="、".join(items)) + more


def is_skip(turn: Turn) -> bool:
    return bool(_SKIP.search(turn.text or "")) or intent(turn) == "deny"


def short(turn: Turn) -> bool:
    """SMS gets the short wording."""
    return turn.channel == "sms"


def elder(turn: Turn) -> bool:
    return bool(turn.volunteer.elder_mode)


def say(turn: Turn, long: str, brief: str | None = None, **kw: Any) -> str:
    """Pick the SMS variant when there is one, then fill in the values."""
    text = brief if (brief is not None and short(turn)) else long
    return text.format(**kw) if kw else text


def page_size(turn: Turn) -> int:
    if short(turn):
        return 2
    if elder(turn):
        return min(3, turn.settings.page_size)
    return max(1, min(4, turn.settings.page_size))


def local_now(turn: Turn) -> datetime:
    return to_local(turn.now).replace(tzinfo=None)


def exits(turn: Turn) -> str:
    return T.EXITS_SHORT if short(turn) else T.EXITS


def yes_no(turn: Turn, prompt: str, options: tuple[str, str]) -> Choices:
    return Choices(prompt, options, say(turn, T.YESNO_FOOTER, T.YESNO_FOOTER_SHORT))


def menu(turn: Turn, prompt: str | None = None) -> Choices:
    """The main menu (four choices); its wording follows the channel and 长辈版."""
    if short(turn):
        return Choices(prompt or T.MENU_PROMPT_SHORT, T.MENU_OPTIONS_SHORT, T.MENU_FOOTER_SHORT)
    if elder(turn):
        return Choices(prompt or T.MENU_PROMPT_ELDER, T.MENU_OPTIONS_ELDER, T.MENU_FOOTER_ELDER)
    return Choices(prompt or T.MENU_PROMPT, T.MENU_OPTIONS, T.MENU_FOOTER)


def with_menu(turn: Turn, text: str) -> list[Reply]:
    return [Text(text), menu(turn)] if text else [menu(turn)]
