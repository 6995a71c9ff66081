"""What the screen on display knows: the names of what it lists, and answers about the activity it shows.

A question asked on a details or confirmation screen (管饭不, 在哪集合, 要审核是啥意思) is answered from
the activity's own fields and its contact, and the screen stays where it was: the pending sign-up is
kept, and the answer ends with what the person can reply next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from data import profiles
from data.models import Activity, Signup
from data.services import places_left

from .. import texts as T
from ..common import say, short
from ..registry import Result
from ..replies import Choices, Reply, Text, from_data
from ..screen import NAME, Reading, activity_names, read
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def listed_names(turn: Turn, st: State) -> dict[int, list[str]]:
    """Names of the items on screen, keyed by what `st.listed` holds (activity or sign-up ids): the items
    and their places read in one query."""
    out: dict[int, list[str]] = {}
    if not st.listed:
        return out
    if st.list_kind == "signup":
        signups = turn.session.scalars(
            select(Signup).options(joinedload(Signup.activity).joinedload(Activity.place))
            .where(Signup.id.in_(st.listed)))
        acts = {s.id: s.activity for s in signups}
    elif st.list_kind in ("activity", "mine"):
        acts = {a.id: a for a in turn.session.scalars(
            select(Activity).options(joinedload(Activity.place)).where(Activity.id.in_(st.listed)))}
    else:
        return out
    for item in st.listed:
        act = acts.get(item)
        if act is not None:
            out[item] = activity_names(act)
    return out


def screen_reading(turn: Turn, st: State, expects: tuple[str, ...]) -> Reading | None:
    names = (lambda: listed_names(turn, st)) if NAME in expects else None  # read only when a name may be said
    return read(turn, st, expects, names=names, current_party=int(st.data.get("party") or 1))


def contact_of(turn: Turn, act: Activity) -> tuple[str, str]:
    """(name, phone) of the person to call about an activity: its contact, else its team's coordinator."""
    if act.contact_name and act.contact_phone:
        return act.contact_name, act.contact_phone
    coord = profiles.team_contact(turn.session, act.team_id)
    if coord is not None:
        return coord.name, coord.contact_phone
    return act.team.name, ""


def answer_about(turn: Turn, act: Activity, kind: str) -> str:
    """One plain answer about an activity, from its fields; unknown things go to its contact."""
    name, phone = contact_of(turn, act)
    ask = T.ASK_CONTACT.format(name=name, phone=phone)
    sms = short(turn)
    if kind == "what":
        text = act.description or act.title
        if act.requirements:
            text += T.ANSWER_NEEDS.format(req=act.requirements)
        return T.ANSWER_WHAT.format(title=act.title, text=text)
    if kind == "where":
        return T.ANSWER_WHERE.format(where=T.where(act))
    if kind == "when":
        return T.ANSWER_WHEN.format(when=T.when(act.starts_at, act.ends_at, short=sms))
    if kind == "full":
        left = places_left(turn.session, act)
        return T.ANSWER_LEFT.format(left=T.left(left)) if left > 0 else T.ANSWER_FULL
    if kind == "review":
        text = T.ANSWER_REVIEW if act.needs_review else T.ANSWER_NO_REVIEW
        return text.format(team=act.team.name, name=name)
    if kind == "waitlist":
        return T.ANSWER_WAITLIST
    if kind == "contact":
        return T.ANSWER_CONTACT.format(team=act.team.name, name=name, phone=phone)
    if kind == "load":
        return T.ANSWER_LOAD.format(load=T.LOAD_WORDS.get(act.physical_load, T.LOAD_WORDS[2]),
                                    req=f"（{act.requirements}）" if act.requirements else "")
    if kind == "bring":
        if act.requirements:
            return T.ANSWER_BRING.format(req=act.requirements) + ask
        return T.ANSWER_BRING_NONE + ask
    if kind == "ride":
        where = T.where(act)
        if act.address and "坐车" in (act.address + (act.description or "")):
            return T.ANSWER_RIDE_YES.format(where=where) + ask
        return T.ANSWER_RIDE.format(where=where) + ask
    if kind == "meal":
        return T.ANSWER_MEAL + ask
    if kind == "id":
        return T.ANSWER_ID + ask
    return ask


def answer_on_screen(turn: Turn, st: State) -> Result | None:
    """A question about the activity on screen: the answer, then what to reply next; the screen stays."""
    activity_id = st.data.get("activity_id")
    if not activity_id:
        return None
    act = turn.session.get(Activity, int(activity_id))
    if act is None:
        return None
    text = answer_about(turn, act, str(turn.reading.value))
    last = [r for r in from_data(st.last) if isinstance(r, Choices)]
    replies: list[Reply] = [Text(text)]
    if last:
        footer = last[-1].footer or say(turn, T.YESNO_FOOTER, T.YESNO_FOOTER_SHORT)
        if last[-1].options:
            opts = "，".join(f"{i}{o}" for i, o in enumerate(last[-1].options, 1))
            footer = T.STILL_ASKING.format(opts=opts) + (" " + footer if footer else "")
        replies.append(Text(footer))
    return replies, st.at
