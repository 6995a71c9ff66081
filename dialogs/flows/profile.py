"""Profile: home place, interests, free times, physical limits from plain sentences, each confirmed;
binding a phone number with a code (and merging a record that already had that number)."""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from data import profiles
from data.crypto import mask_phone, normalize_phone
from data.errors import InvalidInput
from data.models import CATEGORIES, ChannelIdentity, Place

from .. import texts as T
from ..common import choice, entities, entity, exits, is_no, is_skip, is_yes, say, with_menu, yes_no
from ..registry import Flow, Result, Step
from ..replies import Choices, Text
from ..state import State
from ..understand import availability, physical_load

if TYPE_CHECKING:
    from ..engine import Turn

log = logging.getLogger("yinling.dialogs")

PROFILE_FIELDS = ("home_place_id", "categories", "availability", "max_load")
ASK = {
    "home_place_id": T.PROFILE_ASK_PLACE,
    "categories": T.PROFILE_ASK_LIKE,
    "availability": T.PROFILE_ASK_TIME,
    "max_load": T.PROFILE_ASK_BODY,
}
BIND_TTL = 600
BIND_LIMIT_WINDOW = 3600  # verification codes: at most 3 per number and 5 per asking user an hour
BIND_PER_NUMBER = 3
BIND_PER_USER = 5
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
_CODE = re.compile(r"^\s*(\d{6})\s*$")
_MINE = r"(?:我的|俺的|我|俺)(?:全部|所有|个人)?的?(?:信息|资料|账号|帐号|账户|数据|档案)"
_FORGET = re.compile(
    rf"(?:删|清除|清空|抹掉|销毁)(?:除|掉|了|光)?掉?{_MINE}"  # 删掉我的资料
    rf"|{_MINE}(?:都|全|全部)?(?:给我|帮我)?(?:删|清除|清空|注销|销毁)"  # 把我的信息删了
    r"|注销|销户|删号|把我删了|不想用了"
)
_NEGATED = re.compile(r"[不别甭没]")


def forget_said(text: str) -> bool:
    """`把我的信息删了`, `注销`, `不想用了把我资料删掉` — but not `别删我的资料`."""
    m = _FORGET.search(text)
    return m is not None and not _NEGATED.search(text[max(0, m.start() - 3) : m.start()])


def understand(turn: Turn, only: str | None = None) -> dict[str, Any] | None:
    """A profile change read from the message: {field, value, shown}, or None."""
    text = turn.text or ""
    wanted = [only] if only else list(PROFILE_FIELDS)
    for field in wanted:
        if field == "home_place_id":
            pe = entity(turn, "place")
            if pe and pe.get("role") not in ("relative", "unknown"):
                place = profiles.find_place(turn.session, str(pe.get("value")))
                if place is not None:
                    return {"field": field, "value": place.id, "shown": place.name, "label": T.FIELD_PLACE}
        elif field == "categories":
            cats = [str(e["value"]) for e in entities(turn, "category") if e.get("value") in CATEGORIES]
            cats += [c for c in CATEGORIES if c in text and c not in cats]
            if cats:
                cats = list(dict.fromkeys(cats))
                return {"field": field, "value": cats, "shown": "、".join(cats), "label": T.FIELD_LIKE}
        elif field == "availability":
            mask = availability(text)
            if mask is not None:
                return {"field": field, "value": mask, "shown": T.slots_text(mask), "label": T.FIELD_TIME}
        elif field == "max_load":
            load = physical_load(text)
            if load is not None:
                return {"field": field, "value": load, "shown": T.body_text(load), "label": T.FIELD_BODY}
    return None


def unknown_place(turn: Turn) -> str | None:
    pe = entity(turn, "place")
    if pe and pe.get("role") == "unknown":
        return str(pe.get("value") or "")
    return None


def wants_forget(turn: Turn, st: State) -> bool:
    return st.at != "profile.forget" and forget_said(turn.text or "")


def ask_forget(turn: Turn, st: State) -> Result:
    return [yes_no(turn, T.FORGET_CONFIRM, T.FORGET_OPTIONS)], "profile.forget"


def start(turn: Turn, st: State) -> Result:
    if forget_said(turn.text or ""):
        return ask_forget(turn, st)
    change = understand(turn)
    if change is not None:
        return confirm(turn, st, change)
    name = unknown_place(turn)
    if name:
        return [Text(T.Q_PLACE_UNKNOWN.format(name=name) + exits(turn))], None
    return [Choices(T.PROFILE_WHAT, T.PROFILE_OPTIONS, say(turn, T.PICK_FOOTER, T.PICK_FOOTER_SHORT))], "profile.what"


def on_what(turn: Turn, st: State) -> Result | None:
    n = choice(turn)
    if n is None:
        change = understand(turn)
        return confirm(turn, st, change) if change else None
    if not 1 <= n <= len(PROFILE_FIELDS):
        return [Text(T.NOT_IN_LIST.format(n=n, m=len(PROFILE_FIELDS)))], st.at
    field = PROFILE_FIELDS[n - 1]
    st.data["ask"] = field
    return [Text(ASK[field] + exits(turn))], "profile.answer"


def on_answer(turn: Turn, st: State) -> Result | None:
    field = st.data.get("ask")
    change = understand(turn, only=field if field in PROFILE_FIELDS else None)
    if change is not None:
        return confirm(turn, st, change)
    if field == "home_place_id" and unknown_place(turn):
        return [Text(T.Q_PLACE_UNKNOWN.format(name=unknown_place(turn)) + exits(turn))], None
    if is_skip(turn):
        return with_menu(turn, T.PROFILE_NOT_SAVED), "help.menu"
    return None


def confirm(turn: Turn, st: State, change: dict[str, Any]) -> Result:
    st.data["change"] = change
    prompt = T.PROFILE_CONFIRM.format(field=change["label"], value=change["shown"])
    return [yes_no(turn, prompt, T.PROFILE_CONFIRM_OPTIONS)], "profile.confirm"


def apply(turn: Turn, st: State, change: dict[str, Any]) -> None:
    """Set one profile field, remembering the old value for 撤销."""
    field = change["field"]
    if field not in PROFILE_FIELDS:
        return
    old = getattr(turn.volunteer, field)
    st.undo = {"kind": "profile", "old": {field: list(old) if isinstance(old, list) else old},
               "at": turn.now.isoformat()}
    if field == "home_place_id" and turn.session.get(Place, change["value"]) is None:
        return
    setattr(turn.volunteer, field, change["value"])
    turn.session.flush()


def on_confirm(turn: Turn, st: State) -> Result | None:
    change = st.data.get("change")
    if not change:
        return None
    if is_yes(turn):
        apply(turn, st, change)
        st.data.pop("change", None)
        return [Text(T.PROFILE_SAVED + say(turn, T.UNDO_HINT, T.UNDO_HINT_SHORT) + exits(turn))], None
    if is_no(turn):
        st.data.pop("change", None)
        return with_menu(turn, T.PROFILE_NOT_SAVED), "help.menu"
    other = understand(turn)
    if other is not None:
        return confirm(turn, st, other)
    return None


def on_forget(turn: Turn, st: State) -> Result | None:
    if is_yes(turn):
        from .events import unfollowed

        return unfollowed(turn, st)
    if is_no(turn):
        return with_menu(turn, T.PROFILE_NOT_SAVED), "help.menu"
    return None


# -- phone binding --------------------------------------------------------------------------------
def _phone_in(turn: Turn) -> str | None:
    pe = entity(turn, "phone")
    raw = str(pe["value"]) if pe and pe.get("value") else None
    if raw is None:
        m = _PHONE.search(re.sub(r"[\s\-]", "", turn.text or ""))
        raw = m.group(1) if m else None
    if raw is None:
        return None
    try:
        return normalize_phone(raw)
    except InvalidInput:
        return None


def bind_start(turn: Turn, st: State) -> Result:
    phone = _phone_in(turn)
    if phone is None:
        return [Text(T.BIND_ASK + exits(turn))], "profile.bind_phone"
    return send_code(turn, st, phone)


def code_allowed(turn: Turn, phone: str) -> bool:
    """Verification codes per target number and per asking user are limited (no SMS bombing of a stranger).

    Counted by the number's keyed hash (never the number itself); every request counts, sent or not.
    """
    target = turn.vault.lookup_hash(phone) if turn.vault is not None else mask_phone(phone)
    per_number = turn.store.incr(f"bind:sent:to:{target}", BIND_LIMIT_WINDOW)
    per_user = turn.store.incr(f"bind:sent:by:{turn.volunteer.id}", BIND_LIMIT_WINDOW)
    return per_number <= BIND_PER_NUMBER and per_user <= BIND_PER_USER


def _sealed(turn: Turn, phone: str) -> dict[str, str]:
    """The pending number as kept in the store: encrypted when a vault is configured, never in clear."""
    if turn.vault is None:
        return {"masked": mask_phone(phone)}
    return {"phone_enc": turn.vault.encrypt(phone), "masked": mask_phone(phone)}


def _unsealed(turn: Turn, pending: dict[str, Any]) -> str | None:
    if "phone" in pending:  # a state written before numbers were sealed
        return str(pending["phone"])
    if turn.vault is None or not pending.get("phone_enc"):
        return None
    try:
        return turn.vault.decrypt(str(pending["phone_enc"]))
    except InvalidInput:
        return None


def send_code(turn: Turn, st: State, phone: str) -> Result:
    if not code_allowed(turn, phone):
        return [Text(T.BIND_TOO_MANY + exits(turn))], None
    code = f"{secrets.randbelow(10**6):06d}"
    turn.store.set(f"bind:{turn.volunteer.id}", json.dumps({**_sealed(turn, phone), "code": code, "tries": 0}),
                   BIND_TTL)
    turn.hooks.send_bind_code(turn.volunteer.id, phone, code)
    return [Text(say(turn, T.BIND_SENT, T.BIND_SENT_SHORT, masked=mask_phone(phone)) + exits(turn))], \
        "profile.bind_code"


def on_bind_phone(turn: Turn, st: State) -> Result | None:
    phone = _phone_in(turn)
    if phone is not None:
        return send_code(turn, st, phone)
    if re.search(r"\d{7,}", turn.text or ""):
        return [Text(T.BIND_BAD_PHONE + exits(turn))], st.at
    return None


def on_bind_code(turn: Turn, st: State) -> Result | None:
    m = _CODE.match(turn.text or "")
    if m is None:
        return None
    key = f"bind:{turn.volunteer.id}"
    raw = turn.store.get(key)
    if raw is None:
        return with_menu(turn, T.BIND_EXPIRED), "help.menu"
    pending = json.loads(raw)
    if not secrets.compare_digest(m.group(1), str(pending["code"])):
        pending["tries"] = int(pending.get("tries", 0)) + 1
        if pending["tries"] >= 3:
            turn.store.delete(key)
            return with_menu(turn, T.BIND_EXPIRED), "help.menu"
        turn.store.set(key, json.dumps(pending), BIND_TTL)
        return [Text(T.BIND_BAD_CODE + exits(turn))], st.at
    turn.store.delete(key)
    phone = _unsealed(turn, pending)
    if phone is None:
        return with_menu(turn, T.BIND_EXPIRED), "help.menu"
    merged = link_phone(turn, phone)
    text = (T.BIND_MERGED if merged else T.BIND_DONE).format(masked=mask_phone(phone))
    return with_menu(turn, text), "help.menu"


def link_phone(turn: Turn, phone: str) -> bool:
    """Store the phone on this volunteer; a record that already had it is merged into this one."""
    vault = turn.vault
    if vault is None:
        raise InvalidInput("no phone vault configured")
    me = turn.volunteer
    digest = vault.lookup_hash(phone)
    known = vault.lookup_hashes(phone)  # the current key's first; the old key's too during a key rotation
    other = profiles.volunteer_by_phone_hash(turn.session, known)
    merged = False
    if other is not None and other.id != me.id:
        profiles.merge_volunteers(turn.session, me, other, turn.now)
        merged = True
    me.phone_hash = digest
    me.phone_enc = vault.encrypt(phone)
    me.phone_masked = mask_phone(phone)
    turn.session.flush()
    has_sms = turn.session.scalars(select(ChannelIdentity).where(
        ChannelIdentity.channel == "sms", ChannelIdentity.external_id.in_(known))).first()
    if has_sms is None:
        turn.session.add(ChannelIdentity(volunteer_id=me.id, channel="sms", external_id=digest,
                                         address_enc=vault.encrypt(phone), created_at=turn.now))
    elif has_sms.volunteer_id != me.id:
        has_sms.volunteer_id = me.id
    turn.session.flush()
    return merged


def _code_capture(turn: Turn, st: State) -> bool:
    return bool(_CODE.match(turn.text or ""))


def _phone_capture(turn: Turn, st: State) -> bool:
    return bool(re.search(r"\d{7,}", turn.text or ""))


FLOW = Flow(
    name="profile",
    steps={
        "what": Step(on_what),
        "answer": Step(on_answer),
        "confirm": Step(on_confirm),
        "forget": Step(on_forget),
        "bind_phone": Step(on_bind_phone, capture=_phone_capture),
        "bind_code": Step(on_bind_code, capture=_code_capture),
    },
    entries={"update_profile": start, "bind_phone": bind_start},
)
