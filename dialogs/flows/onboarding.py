"""First contact: welcome with a plain privacy notice and 回复1同意, then three skippable questions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from data import profiles

from .. import texts as T
from ..common import entities, entity, intent, is_no, is_skip, is_yes, menu, say, with_menu, yes_no
from ..dispatch import route
from ..registry import Flow, Result, Step
from ..replies import Choices, Reply, Text
from ..screen import YESNO
from ..state import State
from ..understand import availability

if TYPE_CHECKING:
    from ..engine import Turn

# Requests worth answering right after the consent question (the user asked for something real).
_KEEP = {"search_activities", "recommend", "activity_detail", "sign_up", "cancel_signup", "my_signups",
         "my_hours", "update_profile", "bind_phone", "subscribe", "help", "family_link"}
_ELDER = re.compile(r"长辈版|关怀版|亲情版|老年版|大字版|老人版")
_AGREE = re.compile(r"^\s*(同意|我同意|好的?|可以|行|中|要得|没问题)\s*[。！!]?\s*$")


def needs_welcome(turn: Turn, st: State) -> bool:
    """Never asked about privacy yet (and not already shown the welcome)."""
    if st.welcomed and not turn.new_user:
        return False
    if turn.new_user:
        return not st.welcomed
    if profiles.consent_state(turn.session, turn.volunteer.id, "privacy") is None:
        return True
    st.welcomed = True  # asked before (yes or no): later turns need not read the consents again
    return False


def welcome(turn: Turn, st: State, notes: list[str] | None = None) -> Result:
    st.welcomed = True
    if turn.text and _ELDER.search(turn.text):
        turn.volunteer.elder_mode = True
    name = intent(turn)
    about = _about_me(turn)
    if name in _KEEP and turn.kind in ("text", "voice") and not (about and name == "update_profile"):
        st.pending = {"kind": "parse", "parse": turn.parse, "text": turn.text}
    elif about:
        st.pending = {"kind": "about", **about}
    replies: list[Reply] = [Text(n) for n in notes or []]
    replies.append(Text(say(turn, T.WELCOME, T.WELCOME_SHORT)))
    replies.append(Choices("", T.PRIVACY_OPTIONS, say(turn, T.PRIVACY_FOOTER, T.PRIVACY_FOOTER_SHORT)))
    return replies, "onboarding.privacy"


def _about_me(turn: Turn) -> dict[str, object] | None:
    """Where someone lives and when they are free, told in a first message about themselves."""
    out: dict[str, object] = {}
    pe = entity(turn, "place")
    if pe is not None and pe.get("role") not in ("relative", "unknown"):
        place = profiles.find_place(turn.session, str(pe.get("value")))
        if place is not None:
            out["home"], out["home_name"] = place.id, place.name
    te = entity(turn, "time")
    if te is None or (te.get("value") or {}).get("grain") == "part_of_day":
        mask = availability(turn.text or "")
        if mask is not None and re.search(r"有空|有时间|闲|没事", turn.text or ""):
            out["availability"] = mask
    return out or None


def _read_back(turn: Turn, st: State, about: dict[str, object], lead: str) -> Result:
    """Say back what was understood about the person before anything is saved."""
    parts = []
    if about.get("home_name"):
        parts.append(T.ABOUT_HOME.format(place=about["home_name"]))
    if about.get("availability"):
        parts.append(T.ABOUT_FREE.format(slots=T.slots_text(int(about["availability"]))))  # type: ignore[call-overload]
    st.data["about"] = about
    prompt = lead + T.ABOUT_ASK.format(what="，".join(parts))
    return [yes_no(turn, prompt, T.ABOUT_OPTIONS)], "onboarding.about"


def on_about(turn: Turn, st: State) -> Result | None:
    about = st.data.get("about") or {}
    if is_yes(turn):
        v = turn.volunteer
        saved = []
        if about.get("home"):
            v.home_place_id = int(about["home"])
            saved.append(T.ABOUT_HOME.format(place=about.get("home_name")))
        if about.get("availability"):
            v.availability = int(about["availability"])
            saved.append(T.ABOUT_FREE.format(slots=T.slots_text(v.availability)))
        st.data.pop("about", None)
        lead = T.ABOUT_SAVED.format(what="，".join(saved))
        return _next(turn, lead, T.Q_LIKE, T.Q_LIKE_SHORT, "onboarding.q_like")
    if is_no(turn):
        st.data.pop("about", None)
        return _next(turn, T.ABOUT_NOT_SAVED, T.Q_PLACE, T.Q_PLACE_SHORT, "onboarding.q_place")
    return None


def _resume(turn: Turn, st: State, lead: str) -> Result | None:
    """Answer the request that was waiting for the consent question."""
    pending = st.pending
    st.pending = None
    if not pending:
        return None
    if pending.get("kind") == "about":
        return _read_back(turn, st, pending, lead)
    if pending.get("kind") == "signup":
        from .signup import start_for

        if pending.get("party"):
            st.data["party"] = int(pending["party"])  # 我们俩人报名 before the consent question
        replies, target = start_for(turn, st, int(pending["activity_id"]))
        return [Text(lead), *replies], target
    if pending.get("kind") == "parse":
        turn.parse, turn.text = pending["parse"], pending.get("text") or ""
        out = route(turn, st)
        if out is not None:
            return [Text(lead), *out[0]], out[1]
    return None


def on_privacy(turn: Turn, st: State) -> Result | None:
    if is_yes(turn) or _AGREE.match(turn.text or ""):
        for kind in ("privacy", "notices"):
            profiles.record_consent(turn.session, turn.volunteer.id, kind, True, turn.channel, turn.now)
        resumed = _resume(turn, st, T.PRIVACY_THANKS)
        if resumed is not None:
            return resumed
        return [Text(T.PRIVACY_THANKS + say(turn, T.Q_PLACE, T.Q_PLACE_SHORT))], "onboarding.q_place"
    if is_no(turn):
        profiles.record_consent(turn.session, turn.volunteer.id, "privacy", False, turn.channel, turn.now)
        lead = say(turn, T.PRIVACY_DECLINED, T.PRIVACY_DECLINED_SHORT)
        if st.pending and st.pending.get("kind") == "signup":
            st.pending = None
        resumed = _resume(turn, st, lead)
        if resumed is not None:
            return resumed
        return with_menu(turn, lead), "help.menu"
    return None


def _next(turn: Turn, lead: str, question: str | None, short_q: str | None, target: str | None) -> Result:
    if question is None:
        return [Text(lead + T.ONBOARD_DONE), menu(turn)], "help.menu"
    return [Text(lead + say(turn, question, short_q))], target


_REQUESTS = {"sign_up", "cancel_signup", "my_signups", "my_hours", "bind_phone", "recommend"}


def _a_request(turn: Turn) -> bool:
    """A real request in the middle of the profile questions (明天阳光社区有啥活动): answer it instead of
    saving a piece of it as an answer; the questions can wait."""
    name = intent(turn)
    conf = float((turn.parse.get("intent") or {}).get("confidence") or 0)
    if name == "search_activities" and entity(turn, "time") is not None:
        return True
    return name in _REQUESTS and conf >= 0.7


def on_place(turn: Turn, st: State) -> Result | None:
    if _a_request(turn):
        return None
    pe = entity(turn, "place")
    lead = ""
    if pe is not None and pe.get("role") not in ("relative",):
        place = profiles.find_place(turn.session, str(pe.get("value"))) if pe.get("role") != "unknown" else None
        if place is not None:
            turn.volunteer.home_place_id = place.id
            lead = T.Q_SAVED_PLACE.format(place=place.name)
        else:
            lead = T.Q_PLACE_UNKNOWN.format(name=pe.get("value") or "")
    elif is_skip(turn):
        lead = T.Q_SKIPPED
    else:
        return None
    return _next(turn, lead, T.Q_LIKE, T.Q_LIKE_SHORT, "onboarding.q_like")


def on_like(turn: Turn, st: State) -> Result | None:
    if _a_request(turn):
        return None
    cats = list(dict.fromkeys(str(e["value"]) for e in entities(turn, "category") if e.get("value")))
    if cats:
        turn.volunteer.categories = cats
        lead = T.Q_SAVED_LIKE.format(cats="、".join(cats))
    elif is_skip(turn):
        lead = T.Q_SKIPPED
    else:
        return None
    return _next(turn, lead, T.Q_TIME, T.Q_TIME_SHORT, "onboarding.q_time")


# Words that make a time phrase a question about activities (明天有啥活) rather than an answer (周末全天).
_ASKING = re.compile(r"活|有啥|有什么|有没有|报名|干点|能干")


def _just_free_time(turn: Turn) -> bool:
    """The time question reads its own answer first: a message of time words only is free time, whatever
    intent the classifier gives it; one that also asks about activities or names a kind or a place is not."""
    text = turn.text or ""
    return (availability(text) is not None and not _ASKING.search(text)
            and entity(turn, "category") is None and entity(turn, "place") is None)


def on_time(turn: Turn, st: State) -> Result | None:
    if not _just_free_time(turn) and _a_request(turn):
        return None
    mask = availability(turn.text or "")
    if mask is not None:
        st.data["free"] = mask
        prompt = T.Q_TIME_CHECK.format(slots=T.slots_text(mask))
        return [yes_no(turn, prompt, T.Q_TIME_CHECK_OPTIONS)], "onboarding.q_time_check"
    if is_skip(turn):
        lead = T.Q_SKIPPED
    else:
        return None
    return _next(turn, lead, None, None, None)


def on_time_check(turn: Turn, st: State) -> Result | None:
    mask = st.data.get("free")
    if is_yes(turn) and mask is not None:
        turn.volunteer.availability = int(mask)
        st.data.pop("free", None)
        return _next(turn, T.Q_SAVED_TIME.format(slots=T.slots_text(int(mask))), None, None, None)
    if is_no(turn):
        st.data.pop("free", None)
        return [Text(say(turn, T.Q_TIME_AGAIN, T.Q_TIME_SHORT))], "onboarding.q_time"
    return None


def elder_on(turn: Turn, st: State) -> Result:
    turn.volunteer.elder_mode = True
    return [Text(say(turn, T.ELDER_ON, T.ELDER_ON_SHORT)), menu(turn)], "help.menu"


def scene(turn: Turn) -> list[str]:
    """A QR-code scene (`qrscene_team_3`, `place_12`): join that team or community."""
    from data.models import Place, Team

    key = (turn.event_key or "").removeprefix("qrscene_")
    m = re.fullmatch(r"(team|place)_(\d+)", key)
    if not m:
        return []
    kind, ident = m.group(1), int(m.group(2))
    if kind == "team":
        team = turn.session.get(Team, ident)
        if team is not None and profiles.join_team(turn.session, turn.volunteer.id, ident, turn.now):
            return [T.JOINED_TEAM.format(team=team.name)]
        return []
    place = turn.session.get(Place, ident)
    if place is None:
        return []
    turn.volunteer.home_place_id = place.id
    return [T.JOINED_PLACE.format(place=place.name)]


FLOW = Flow(
    name="onboarding",
    steps={"privacy": Step(on_privacy, expects=(YESNO,)), "q_place": Step(on_place), "q_like": Step(on_like),
           "q_time": Step(on_time), "q_time_check": Step(on_time_check, expects=(YESNO,)),
           "about": Step(on_about, expects=(YESNO,))},
    anywhere={"elder_mode": elder_on},
)

