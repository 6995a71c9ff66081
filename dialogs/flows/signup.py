"""Sign-up: confirm first; capacity, waitlist position, overlap check, party size, review."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from data import profiles, services
from data.models import Activity, ActivityStatus, Signup, SignupStatus

from .. import texts as T
from ..common import booked_note, entity, exits, intent, is_no, is_yes, number, say, short, with_menu
from ..registry import Flow, Result, Step
from ..replies import Choices, Reply, Text
from ..screen import ITEM, NUMBER, PARTY, QUESTION, YESNO, listed_index, party
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


def _waiting(turn: Turn, activity_id: int) -> int:
    return int(turn.session.scalar(
        select(func.count()).select_from(Signup).where(
            Signup.activity_id == activity_id, Signup.status == SignupStatus.WAITLISTED)) or 0)


def needs_consent(turn: Turn, st: State, pending: dict[str, object]) -> Result | None:
    """Sign-ups store personal data: ask for the privacy consent first and come back afterwards."""
    if profiles.consent_state(turn.session, turn.volunteer.id, "privacy"):
        return None
    st.pending = pending
    text = T.NEED_CONSENT + ("" if short(turn) else "\n" + T.WELCOME.split("\n", 1)[-1])
    return [Choices(text, T.PRIVACY_OPTIONS, say(turn, T.PRIVACY_FOOTER, T.PRIVACY_FOOTER_SHORT))], \
        "onboarding.privacy"


def _people(turn: Turn, current: int) -> int | None:
    """How many come, from this message: `两个人`, `带孙子一起去` (2), `加一个人` (one more than now)."""
    r = turn.reading
    if r is not None and r.kind == PARTY:
        return int(r.value)
    return party(turn, current)


def start_for(turn: Turn, st: State, activity_id: int) -> Result:
    """Begin signing up for one activity: checks, then one confirmation question."""
    said = _people(turn, 1)  # 俩人 said with the sign-up: kept across the consent question
    gate = needs_consent(turn, st, {"kind": "signup", "activity_id": activity_id, **({"party": said} if said else {})})
    if gate is not None:
        return gate
    act = turn.session.get(Activity, activity_id)
    if act is None:
        return with_menu(turn, T.ERR_NOT_FOUND), "help.menu"
    if act.status != ActivityStatus.PUBLISHED or act.starts_at <= turn.now:
        return with_menu(turn, T.ERR_NOT_OPEN), "help.menu"
    st.data["activity_id"] = act.id
    live = services.live_signup(turn.session, turn.volunteer.id, act.id)
    if live is not None:
        status = T.status_name(live.status, services.waitlist_position(turn.session, live))
        return with_menu(turn, T.ALREADY_IN.format(status=status)), "help.menu"
    st.data["party"] = said or max(1, min(int(st.data.get("party") or 1), 10))
    st.data["allow_overlap"] = False
    other = services.find_overlap(turn.session, turn.volunteer.id, act)
    if other is not None:
        prompt = T.CONFIRM_OVERLAP.format(other=other.title, when=T.when(other.starts_at, short=short(turn)),
                                          title=act.title)
        live_other = services.live_signup(turn.session, turn.volunteer.id, other.id)
        st.data["switch"] = {"signup_id": live_other.id if live_other else 0, "activity_id": act.id}
        return [Choices(prompt, T.CONFIRM_OVERLAP_OPTIONS, say(turn, T.OVERLAP_FOOTER, T.OVERLAP_FOOTER_SHORT))], \
            "signup.overlap"
    return confirm(turn, st)


def start(turn: Turn, st: State) -> Result:
    """sign_up intent: the activity in view, item n of the last list, or ask them to find one."""
    n = number(turn)
    idx = listed_index(st, n) if n is not None and st.listed else None
    if idx is not None and st.list_kind in ("activity", "mine"):
        return start_for(turn, st, st.listed[idx])
    if st.data.get("activity_id") and st.at in ("search.detail", "signup.confirm", "signup.overlap"):
        return start_for(turn, st, int(st.data["activity_id"]))
    if any(entity(turn, e) for e in ("time", "category", "place")):
        # 我和老伴两个人想报名陪老人聊天: find those first, remembering the party size.
        from .search import start as search

        party = _people(turn, 1)
        replies, target = search(turn, st)
        if party:
            st.data["party"] = max(1, min(party, 10))
        return replies, target
    return [Text(say(turn, T.WHICH_ACTIVITY, T.WHICH_ACTIVITY_SHORT) + " " + exits(turn))], None


def confirm(turn: Turn, st: State) -> Result:
    act = turn.session.get(Activity, int(st.data["activity_id"]))
    assert act is not None
    party = int(st.data.get("party") or 1)
    left = services.places_left(turn.session, act)
    card = T.activity_card(act, left, short(turn), full=False)
    if left >= party:
        prompt = T.CONFIRM_SIGNUP.format(card=card, party=party)
        options = T.CONFIRM_SIGNUP_OPTIONS
    else:
        prompt = T.CONFIRM_WAITLIST.format(card=card, ahead=_waiting(turn, act.id))
        options = T.CONFIRM_WAITLIST_OPTIONS
    footer = say(turn, T.CONFIRM_FOOTER if party == 1 else T.CONFIRM_FOOTER_PARTY, T.CONFIRM_FOOTER_SHORT)
    return [Choices(prompt, options, footer)], "signup.confirm"


def on_confirm(turn: Turn, st: State) -> Result | None:
    r = turn.reading
    if r is not None and r.kind == NUMBER:  # 等等 我要第三个: not this one, that one
        from .search import pick_listed

        return pick_listed(turn, st, int(r.value))
    if r is None or r.kind == PARTY:
        size = _people(turn, int(st.data.get("party") or 1))
        if size is not None:
            st.data["party"] = size
            replies, target = confirm(turn, st)
            return [Text(T.PARTY_NOTE.format(party=st.data["party"])), *replies], target
    if is_yes(turn):
        return commit(turn, st)
    if is_no(turn) or intent(turn) == "cancel_signup":
        return with_menu(turn, T.NOT_SIGNED + booked_note(turn)), "help.menu"
    if intent(turn) == "sign_up":  # 我想去 again: still needs the explicit 1
        return confirm(turn, st)
    return None


def on_overlap(turn: Turn, st: State) -> Result | None:
    digit = re.match(r"^\s*3\s*$", turn.text or "")
    if (digit or _SWITCH.search(turn.text or "")) and (st.data.get("switch") or {}).get("signup_id"):
        # 换成这个: the new one instead of the one at the same time, without cancelling first.
        from ..screen import Reading
        from .change import on_switch

        turn.reading = Reading("yes")
        return on_switch(turn, st)
    if is_yes(turn):
        st.data["allow_overlap"] = True
        return confirm(turn, st)
    if is_no(turn) or intent(turn) == "cancel_signup":
        return with_menu(turn, T.NOT_SIGNED + booked_note(turn)), "help.menu"
    return None


_SWITCH = re.compile(r"换成|换这个|换掉|改成这个|改报|原来的不去")


def remind_text(turn: Turn) -> str:
    if turn.volunteer.notices_opt_out:
        return T.REMIND_NONE
    if turn.helper is not None:
        return T.REMIND_FAMILY  # the parent is reminded by her own channel (maybe SMS), the helper gets a copy
    return T.REMIND_SMS if short(turn) else T.REMIND_WECHAT


def commit(turn: Turn, st: State) -> Result:
    res = services.sign_up(
        turn.session, volunteer_id=turn.volunteer.id, activity_id=int(st.data["activity_id"]), now=turn.now,
        party_size=int(st.data.get("party") or 1), channel=turn.channel,
        allow_overlap=bool(st.data.get("allow_overlap")),
    )
    signup = res.signup
    act = turn.session.get(Activity, signup.activity_id)
    assert act is not None
    card = T.activity_card(act, res.places_left, short(turn), full=False)
    if signup.party_size > 1:  # the family said in the same breath is repeated back, not silently kept
        card += "\n" + T.PARTY_BOOKED.format(party=signup.party_size)
    st.undo = {"kind": "signup", "signup_id": signup.id, "at": turn.now.isoformat()}
    st.data.pop("party", None)
    if signup.status == SignupStatus.WAITLISTED:
        text = T.SIGNED_WAITLIST.format(card=card, pos=res.waitlist_position or 1)
    elif signup.status == SignupStatus.PENDING:
        turn.hooks.signup_needs_review(signup.id)
        coord = profiles.team_contact(turn.session, act.team_id)
        reviewer = f"{act.team.name}的{coord.name}" if coord else act.team.name
        text = T.SIGNED_PENDING.format(card=card, reviewer=reviewer)
    else:
        text = T.SIGNED_UP.format(card=card) + "\n" + remind_text(turn)
    from .family import copy_to_helpers  # 亲情助手: the parent's helpers get a copy

    copy_to_helpers(turn, turn.volunteer, text.split("\n", 1)[0], f"signed:{signup.id}")
    replies: list[Reply] = [Text(text), Text(say(turn, T.UNDO_HINT, T.UNDO_HINT_SHORT) + exits(turn))]
    return replies, None


FLOW = Flow(
    name="signup",
    steps={"confirm": Step(on_confirm, expects=(QUESTION, ITEM, PARTY, YESNO)),
           "overlap": Step(on_overlap, expects=(QUESTION, YESNO))},
    entries={"sign_up": start},
)
