"""亲情助手: a parent asks for a code, a family helper sends it from their own WeChat, the parent says yes;
then the helper can search, sign up and cancel for the parent through the usual flows (the same screens and
confirmations), the parent is told at once and can undo; either side can unlink.

While a helper acts, the turn runs through the ordinary dispatcher with the parent as `turn.volunteer` and
the helper as `turn.helper`; only the flows about activities are open to the helper (search, sign-up,
cancel, undo): never the parent's phone, hours, profile or conversation.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from data import family, profiles, services
from data.crypto import mask_phone, normalize_phone
from data.errors import InvalidInput
from data.models import Activity, Signup, Volunteer
from data.models_family import FamilyLink

from .. import state as states
from .. import texts as T
from ..common import entity, exits, intent, is_no, is_yes, menu, say, with_menu, yes_no
from ..dispatch import dispatch
from ..registry import Flow, Result, Step
from ..replies import Choices, Reply, Text, from_data, to_data, to_plain
from ..screen import NUMBER, YESNO, plain, question
from ..screen import yes_no as yes_no_words
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn

# Guessing codes: per person and for the whole deployment (a million codes, single use, 24 hours).
GUESS_WINDOW = 3600
GUESSES_PER_PERSON = 5
GLOBAL_WINDOW = 600
GUESSES_GLOBAL = 200

_CODE = re.compile(r"^\s*(?:家人|亲情|绑定)?\s*(?:码|号)?\s*[:：]?\s*(\d{6})[\s。.!！~～]*$")
_CODE_WORD = re.compile(r"家人|亲情|绑定")
_SIX = re.compile(r"(?<!\d)(\d{6})(?!\d)")
_CODE_CONTEXT = re.compile(r"码|给的|给我的|让我发|叫我发|发给|我妈|我爸|俺娘|俺爹|老妈|老爸|我娘|我爹|母亲|父亲|奶奶|姥姥|爷爷|姥爷")
# A question about the request on screen (这是干啥的, 他能看到我手机号吗, 是我儿子吗, 谁啊).
_ASKING = re.compile(r"[吗嘛么呢不没][?？]?$|[?？]|啥|什么|咋|怎么|谁|哪|能不能|是不是|干嘛")
# The parent says who it is and lets them (是我儿子, 对 是我家老大, 让他弄吧, 我同意我闺女帮我).
_WHO = r"他|她|孩子|儿子|闺女|女儿|姑娘|儿媳|女婿|孙子|孙女|外孙|老大|老二|老三|老小|家人"
_KNOWN = re.compile(rf"(?:是|对|让|叫|同意|可以|行|好)\S*?(?:{_WHO})|(?:{_WHO})\S*?(?:可以|行|帮吧|弄吧|来吧|管吧)")
# The parent does not know who asks (我不认识他, 不知道是谁, 不是我家的, 我没让谁帮): a no, with a word of caution.
_STRANGER = re.compile(r"不认识|不知道(?:是|这)?谁|不是我(?:家|的|儿|闺|女|孩)"
                       r"|我没(?:让|叫|找|要)|没有(?:儿子|女儿|闺女|孩子)|骗子|骗人|诈骗")
# What a helper may do for a parent: activities only.
_FOR_PARENT = {"search_activities", "sign_up", "cancel_signup", "my_signups", "choose", "more", "affirm", "deny",
               "activity_detail", "undo", "repeat", "nlu_fallback"}
# 我妈报了啥 is the parent's sign-ups (activities only: the list of `mine`, never hours or profile).
_START_FOR_PARENT = {"search_activities", "sign_up", "cancel_signup", "my_signups", "recommend"}
_FLOWS_FOR_PARENT = {"search", "signup", "cancel", "mine"}
# What only the parent sees or changes: a helper naming the parent gets told so.
_PARENT_ONLY = {"my_hours", "update_profile", "bind_phone", "unsubscribe", "subscribe"}
_PRIVATE = re.compile(r"时长|小时|手机|电话|号码|住址|地址|住哪|资料|身份证|名字")
WAITING = "family.for_parent"
# 帮老太太看看明天有啥 / 给老爷子报上: old people in general (助老) for others, the parent for a helper.
_OLD_ONE = re.compile(r"^(?:你)?(?:帮|给|替)(?:咱|俺|我)?(?:家)?(老太太|老爷子)")  # a question asked for the parent (您想报哪个活动？) waits for its answer
# The helper's own business in the middle of acting for a parent: 我自己这周末有啥活动.
_SELF = re.compile(r"我自己|给我自己|我本人|俺自己|咱自己|我个人|我也想|我也要|我也去|我自个")


def _digest(turn: Turn) -> family.Digest:
    vault = turn.vault
    if vault is None:
        return family.plain_digest
    return lambda code: vault.keyed_hash("family-code", code)


def _helper_words(link: FamilyLink, helper: Volunteer | None) -> str:
    """How the parent hears of the helper: 您的儿子（李明）, 您的家人."""
    rel = link.relation if link.relation and link.relation not in ("家人", "孩子") else "家人"
    name = (helper.name if helper is not None else None) or link.helper_name
    return f"您的{rel}（{name}）" if name else f"您的{rel}"


def _parent_words(parent: Volunteer, link: FamilyLink | None = None) -> str:
    """How the helper hears of the parent: 您母亲张桂兰 (the helper's own word once they have used one)."""
    return f"您{family.parent_title(parent, link)}{parent.name or ''}"


def _tell(turn: Turn, ids: list[int], title: str, body: str, key: str) -> None:
    if ids:
        turn.hooks.tell_family(ids, title, body, key)


# -- the parent asks for a code ---------------------------------------------------------------------
_WIDE_DIGITS = {0xFF10 + i: str(i) for i in range(10)}
_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s\-—_·.,，、]+(?=\d)")


_SAID_DIGITS = {ord(c): str(i) for i, c in enumerate("零一二三四五六七八九")} | {ord("〇"): "0", ord("幺"): "1"}
_SAID_CODE = re.compile(r"(?:[零〇一二三四五六七八九幺][\s，,、]*){5}[零〇一二三四五六七八九幺]")


def _digits(text: str) -> str:
    """The message with its digits as people copy a code: full-width ones made plain, a code said aloud
    (家人幺二三四五六, from a voice message) in digits, 123 456 and 12-34-56 joined (a phone number joined
    stays 11 digits, never a code)."""
    text = _SAID_CODE.sub(lambda m: m.group(0).translate(_SAID_DIGITS), (text or "").translate(_WIDE_DIGITS))
    return _BETWEEN_DIGITS.sub("", text)


def start_link(turn: Turn, st: State) -> Result:
    text = _digits(turn.text)
    m = _CODE.match(text) or re.search(r"(?<!\d)(\d{6})(?!\d)", text)
    if m is not None:
        return claim_code(turn, st, m.group(1))
    from .signup import needs_consent

    gate = needs_consent(turn, st, {"kind": "parse", "parse": turn.parse, "text": turn.text})
    if gate is not None:
        return gate
    phone = _phone(turn)
    if phone is not None:
        return by_phone(turn, st, phone)
    rel = entity(turn, "relation", "younger")
    relation = str(rel["value"]) if rel else None
    try:
        _link, code = family.issue_code(turn.session, turn.volunteer.id, turn.now, _digest(turn), relation)
    except family.TooManyHelpers:
        return with_menu(turn, T.FAMILY_TOO_MANY), "help.menu"
    who = relation if relation and relation != "家人" else "家人"
    if turn.channel == "wechat":
        turn.hooks.offer_family_qr(turn.volunteer.id, scene(code))  # for a helper sitting beside them
    return [Text(say(turn, T.FAMILY_CODE, T.FAMILY_CODE_SHORT, who=who, code=code) + exits(turn))], None


# -- a helper names a parent with a basic phone -----------------------------------------------------
PHONE_WINDOW = 86400
PHONE_PER_HELPER = 3
PHONE_PER_NUMBER = 3


def _phone(turn: Turn) -> str | None:
    pe = entity(turn, "phone")
    if pe is None or not pe.get("value"):
        return None
    try:
        return normalize_phone(str(pe["value"]))
    except InvalidInput:
        return None


def by_phone(turn: Turn, st: State, phone: str) -> Result:
    """绑定我妈 13912345678: the parent is asked by SMS (the push layer's route for an SMS-only person)
    and replies 1. Counted per helper and per number (by its keyed hash), like verification codes."""
    word = _relation(turn)
    rel = word or "家人"
    masked = mask_phone(phone)
    digest = turn.vault.lookup_hash(phone) if turn.vault is not None else masked
    mine = turn.store.incr(f"family:phone:by:{turn.volunteer.id}", PHONE_WINDOW)
    theirs = turn.store.incr(f"family:phone:to:{digest}", PHONE_WINDOW)
    if mine > PHONE_PER_HELPER or theirs > PHONE_PER_NUMBER:
        return with_menu(turn, T.FAMILY_PHONE_LIMIT), "help.menu"
    # Every hash the number may be stored under (during a key rotation, the previous key's too).
    parent = (profiles.volunteer_by_phone_hash(turn.session, turn.vault.lookup_hashes(phone))
              if turn.vault is not None else None)
    # The same answer whether the number is known, full or not: nobody learns who uses the service.
    sent = [Text(T.FAMILY_PHONE_SENT.format(masked=masked, rel=rel)), menu(turn)], "help.menu"
    if parent is None or parent.deleted_at is not None:
        return sent
    got = family.request_by_phone(turn.session, parent, turn.volunteer.id, turn.now, word)
    if got.problem == "self":
        return with_menu(turn, T.FAMILY_CODE_SELF), "help.menu"
    if got.problem == "already":
        return with_menu(turn, T.FAMILY_ALREADY.format(parent=_parent_words(parent))), "help.menu"
    if got.link is not None:
        _ask_parent(turn, got.link)
    return sent


# -- the helper sends it ----------------------------------------------------------------------------
def _guess_allowed(turn: Turn) -> bool:
    """Every code sent counts, right or wrong: per person, and for everyone together."""
    mine = turn.store.incr(f"family:guess:by:{turn.volunteer.id}", GUESS_WINDOW)
    window = int(turn.now.timestamp()) // GLOBAL_WINDOW
    everyone = turn.store.incr(f"family:guess:all:{window}", GLOBAL_WINDOW * 2)
    return mine <= GUESSES_PER_PERSON and everyone <= GUESSES_GLOBAL


def claim_code(turn: Turn, st: State, code: str, counted: bool = False) -> Result:
    from .signup import needs_consent

    gate = needs_consent(turn, st, {"kind": "parse", "parse": {"intent": {"name": "family_link"}, "entities": []},
                                    "text": f"家人{code}"})
    if gate is not None:
        return gate
    if not counted and not _guess_allowed(turn):
        return with_menu(turn, T.FAMILY_CODE_LIMIT), "help.menu"
    got = family.claim(turn.session, code, turn.volunteer.id, turn.now, _digest(turn))
    if got.link is None:
        text = {"self": T.FAMILY_CODE_SELF}.get(got.problem or "", T.FAMILY_CODE_WRONG)
        if got.problem == "already":
            link = next((x for x in family.parents_of(turn.session, turn.volunteer.id)), None)
            parent = link.parent if link is not None else None
            text = T.FAMILY_ALREADY.format(parent=_parent_words(parent, link) if parent else "家人")
        return with_menu(turn, text), "help.menu"
    link = got.link
    _ask_parent(turn, link)
    return with_menu(turn, T.FAMILY_CLAIMED.format(parent=_parent_words(link.parent))), "help.menu"


def _bare_code(turn: Turn, st: State, code: str) -> Result | None:
    """Six digits alone: a family code when one matches (counted like any code), else not for this flow
    (a late phone verification code, a number typed by mistake)."""
    if not profiles.consent_state(turn.session, turn.volunteer.id, "privacy"):
        return None
    if not _guess_allowed(turn):
        return with_menu(turn, T.FAMILY_CODE_LIMIT), "help.menu"
    link = family.find_code(turn.session, code, turn.now, _digest(turn))
    if link is None:
        return None
    return claim_code(turn, st, code, counted=True)


def _ask_parent(turn: Turn, link: FamilyLink) -> None:
    """The one yes/no question to the parent: sent now, and the parent's screen, so `1` answers it."""
    question = Choices(T.FAMILY_ASK.format(helper=_helper_words(link, turn.volunteer)), T.FAMILY_ASK_OPTIONS,
                       T.YESNO_FOOTER)
    pst = states.load(turn.store, link.parent_id)
    pst.go("family.consent")
    pst.data = {"link_id": link.id}
    pst.last = to_data([question])
    pst.misses = 0
    states.save(turn.store, link.parent_id, pst, turn.settings.state_ttl_days)
    _tell(turn, [link.parent_id], T.FAMILY_ASK_TITLE, to_plain([question]), f"ask:{link.id}")


_SCENE = re.compile(r"(?:qrscene_)?family_(\d{6})")


def scene(code: str) -> str:
    """The QR-code scene (scene_str of a temporary WeChat QR code) that sends `code` for whoever scans it."""
    return f"family_{code}"


def scanned(turn: Turn, st: State) -> Result | None:
    """A family code's QR scene, scanned by the helper sitting beside the parent (follow or scan event)."""
    m = _SCENE.fullmatch(turn.event_key or "")
    if m is None:
        return None
    if not profiles.consent_state(turn.session, turn.volunteer.id, "privacy"):
        from .onboarding import welcome

        replies, target = welcome(turn, st)
        st.pending = {"kind": "parse", "parse": {"intent": {"name": "family_link"}, "entities": []},
                      "text": f"家人{m.group(1)}"}
        return replies, target
    return claim_code(turn, st, m.group(1))


# -- the parent answers -----------------------------------------------------------------------------
def on_consent(turn: Turn, st: State) -> Result | None:
    link_id = st.data.get("link_id")
    link = turn.session.get(FamilyLink, int(link_id)) if link_id else family.awaiting(turn.session, turn.volunteer.id)
    if link is None or link.parent_id != turn.volunteer.id or link.helper_id is None:
        return None
    said = plain(turn.text)
    stranger = bool(_STRANGER.search(said))
    if stranger:
        yes = False
    elif is_yes(turn):
        yes = True
    elif is_no(turn):
        yes = False
    elif _KNOWN.search(said) and not re.search(r"[不别没甭]|吗|么$|[?？]", said + (turn.text or "")):
        yes = True  # 是我儿子, 让他弄吧, 我同意我闺女帮我: she knows who asks and lets them
    else:
        return None
    helper = link.helper
    words = _helper_words(link, helper)
    try:
        family.decide(turn.session, link.id, turn.volunteer.id, yes, turn.channel, turn.now)
    except family.TooManyHelpers:
        return with_menu(turn, T.FAMILY_TOO_MANY), "help.menu"
    except family.NotFound:
        return with_menu(turn, T.FAMILY_NONE), "help.menu"
    parent = _parent_words(turn.volunteer)
    if yes:
        _tell(turn, [link.helper_id], T.FAMILY_ASK_TITLE,
              T.FAMILY_LINKED_HELPER.format(parent=parent, title=family.parent_title(turn.volunteer)),
              f"linked:{link.id}")
        st.data["link_id"] = link.id
        return [Text(T.FAMILY_LINKED.format(helper=words)),
                yes_no(turn, T.FAMILY_RING_ASK.format(helper=words.removeprefix("您的")), T.FAMILY_RING_OPTIONS)], \
            "family.ring"
    _tell(turn, [link.helper_id], T.FAMILY_ASK_TITLE, T.FAMILY_DECLINED_HELPER.format(parent=parent),
          f"declined:{link.id}")
    return with_menu(turn, (T.FAMILY_DECLINED_STRANGER if stranger else T.FAMILY_DECLINED).format(helper=words)), \
        "help.menu"


def on_ring(turn: Turn, st: State) -> Result | None:
    """Whether a hand-off (`9`) also tells the helper just linked."""
    if is_yes(turn):
        on = True
    elif is_no(turn):
        on = False
    else:
        return None
    try:
        link = family.set_ring(turn.session, int(st.data.get("link_id") or 0), turn.volunteer.id, on)
    except family.NotFound:
        return with_menu(turn, T.FAMILY_NONE), "help.menu"
    text = T.FAMILY_RING_ON.format(helper=_helper_words(link, link.helper).removeprefix("您的")) if on \
        else T.FAMILY_RING_OFF
    return with_menu(turn, text), "help.menu"


# -- unlinking, from either side ------------------------------------------------------------------
def _other(turn: Turn, link: FamilyLink) -> str:
    if link.parent_id == turn.volunteer.id:
        return _helper_words(link, link.helper).removeprefix("您的")
    return _parent_words(link.parent, link)


def start_unlink(turn: Turn, st: State) -> Result:
    links = family.links_of(turn.session, turn.volunteer.id)
    rel = entity(turn, "relation", "elder")
    if rel is not None and len(links) > 1:
        named = [x for x in links if x.helper_id == turn.volunteer.id
                 and family.parent_title(x.parent, x) == rel["value"]]
        links = named or links
    young = entity(turn, "relation", "younger")
    if young is not None and young["value"] not in ("家人", "孩子") and len(links) > 1:
        # 不让我儿子帮我了: the parent names the helper by the word given when the code was asked
        named = [x for x in links if x.parent_id == turn.volunteer.id and x.relation == young["value"]]
        links = named or links
    if not links:
        return with_menu(turn, T.FAMILY_NONE), "help.menu"
    if len(links) == 1:
        return _confirm_unlink(turn, st, links[0])
    shown = links[:4]
    st.listed, st.list_kind = [x.id for x in shown], "family"
    labels = [_other(turn, x) for x in shown]
    # two helpers both called 家人 (nobody gave a name): tell them apart by the order they were linked
    labels = [T.FAMILY_NTH.format(who=w, n=i) if labels.count(w) > 1 else w for i, w in enumerate(labels, 1)]
    return [Choices(T.FAMILY_UNLINK_PICK, tuple(labels),
                    say(turn, T.PICK_FOOTER, T.PICK_FOOTER_SHORT))], "family.unlink_pick"


def _confirm_unlink(turn: Turn, st: State, link: FamilyLink) -> Result:
    st.data["link_id"] = link.id
    other = _other(turn, link)
    side = T.FAMILY_UNLINK_PARENT_SIDE if link.parent_id == turn.volunteer.id \
        else T.FAMILY_UNLINK_HELPER_SIDE.format(other=other)
    return [yes_no(turn, T.FAMILY_UNLINK_ASK.format(other=other, other_side=side), T.FAMILY_UNLINK_OPTIONS)], \
        "family.unlink_confirm"


def on_unlink_pick(turn: Turn, st: State) -> Result | None:
    r = turn.reading
    if r is None or r.kind != NUMBER or st.list_kind != "family":
        return None
    n = int(r.value)
    if not 1 <= n <= len(st.listed):
        return [Text(T.NOT_IN_LIST.format(n=n, m=len(st.listed)))], st.at
    link = turn.session.get(FamilyLink, st.listed[n - 1])
    if link is None:
        return with_menu(turn, T.FAMILY_NONE), "help.menu"
    return _confirm_unlink(turn, st, link)


def on_unlink_confirm(turn: Turn, st: State) -> Result | None:
    link = turn.session.get(FamilyLink, int(st.data.get("link_id") or 0))
    if link is None:
        return with_menu(turn, T.FAMILY_NONE), "help.menu"
    other = _other(turn, link)
    if is_no(turn):
        return with_menu(turn, T.FAMILY_UNLINK_KEPT.format(other=other)), "help.menu"
    if not is_yes(turn):
        return None
    try:
        family.unlink(turn.session, link.id, turn.volunteer.id, turn.now)
    except family.NotFound:
        return with_menu(turn, T.FAMILY_NONE), "help.menu"
    me_for_them = (_parent_words(turn.volunteer) if link.parent_id == turn.volunteer.id
                   else _helper_words(link, turn.volunteer).removeprefix("您的"))
    other_id = link.helper_id if link.parent_id == turn.volunteer.id else link.parent_id
    if other_id is not None:
        _tell(turn, [other_id], T.FAMILY_ASK_TITLE, T.FAMILY_UNLINKED_OTHER.format(other=me_for_them),
              f"unlinked:{link.id}")
    return with_menu(turn, T.FAMILY_UNLINKED.format(other=other)), "help.menu"


# -- the helper acts for the parent ---------------------------------------------------------------
def _relation(turn: Turn) -> str | None:
    """The elder the message names (我妈, 老爷子): the NLU's entity, or the same words found here (Rasa)."""
    rel = entity(turn, "relation", "elder")
    if rel is not None:
        return str(rel["value"])
    if entity(turn, "number", "party_size") is not None:
        return None  # 我和我妈两个人报名: she comes along, nobody acts for her
    from nlu.relations import find  # the package's parser (jieba) is not loaded by importing dialogs

    found = [r for r in find(turn.text or "", strict=True) if r.role == "elder"]
    if found:
        return found[0].value
    m = _OLD_ONE.search(turn.text or "")
    if m is not None and family.parents_of(turn.session, turn.volunteer.id):
        return "母亲" if m.group(1) == "老太太" else "父亲"  # 帮老太太看看: from a helper, the parent helped
    return None


def _parent_for(turn: Turn, relation: str) -> FamilyLink | None:
    """The linked parent the helper names: by the same word, else one the word does not contradict (帮我爸 is
    never the mother linked, whose gender or earlier word says 女); None when nobody fits."""
    from nlu.relations import gender

    links = family.parents_of(turn.session, turn.volunteer.id)
    named = [x for x in links if family.parent_title(x.parent, x) == relation]
    if named:
        return named[0]
    want = gender(relation)

    def fits(link: FamilyLink) -> bool:
        said = gender(link.elder_word) if link.elder_word else None
        have = said or (link.parent.gender if link.parent.gender in ("女", "男") else None)
        return want is None or have is None or have == want

    fit = [x for x in links if fits(x)]
    return fit[0] if fit else None


def act(turn: Turn, st: State, parent_id: int, word: str | None = None) -> Result:
    """One turn of the usual flows with the parent as the volunteer; what it commits is the parent's.
    `word` is how the helper named the parent in this message (母亲), remembered for the copies."""
    helper = turn.volunteer
    link = family.between(turn.session, helper.id, parent_id)
    if link is None:  # unlinked meanwhile
        st.data.pop("family_for", None)
        return with_menu(turn, T.FAMILY_NONE), "help.menu"
    if word and word != link.elder_word:
        link.elder_word = word
    parent = link.parent
    if not profiles.consent_state(turn.session, parent.id, "privacy"):
        return with_menu(turn, T.FAMILY_PARENT_NO_CONSENT.format(parent=_parent_words(parent, link))), "help.menu"
    inner = replace(turn, volunteer=parent, helper=helper)
    before = st.undo
    replies, target = dispatch(inner, st)
    turn.understood, turn.long_reply = inner.understood, inner.long_reply
    who = _parent_words(parent, link)
    out: list[Reply] = [Text(T.FAMILY_FOR.format(parent=who)), *replies]
    done = st.undo if st.undo is not None and st.undo != before and not st.undo.get("family_for") else None
    if done is not None and done.get("kind") in ("signup", "cancel"):
        _made_for_parent(turn, st, parent, helper, done)
        out.append(Text(T.FAMILY_TOLD.format(parent=who)))
    if target is None and intent(turn) in _START_FOR_PARENT:
        target = WAITING  # 帮我妈报个名 → 您想报哪个活动？: the answer (明天的) is still for her
    if target is not None and (target.split(".", 1)[0] in _FLOWS_FOR_PARENT or target == WAITING):
        st.data["family_for"] = parent_id
    return out, target


def _made_for_parent(turn: Turn, st: State, parent: Volunteer, helper: Volunteer, done: dict[str, object]) -> None:
    """家人代报: mark the sign-up, let the parent undo it (10 minutes), tell the parent at once."""
    signup = turn.session.get(Signup, int(str(done["signup_id"])))
    if signup is None:
        return
    link = family.between(turn.session, helper.id, parent.id)
    words = _helper_words(link, helper) if link is not None else "您的家人"
    act_ = turn.session.get(Activity, signup.activity_id)
    assert act_ is not None
    if done["kind"] == "signup":
        family.mark_made_by(turn.session, signup.id, helper.id, parent.id)
        card = T.activity_card(act_, services.places_left(turn.session, act_), False, full=False)
        body = T.FAMILY_MADE.format(helper=words, card=card)
    else:
        body = T.FAMILY_CANCELLED.format(helper=words, title=act_.title, when=T.when(act_.starts_at))
    st.undo = {**done, "family_for": parent.id}
    pst = states.load(turn.store, parent.id)
    pst.undo = {**done, "helper_id": helper.id}
    if pst.flow == "family":
        pst.go(None)  # a family yes/no left on her screen (找人工时也告诉家人吗) must not take her 不去
    states.save(turn.store, parent.id, pst, turn.settings.state_ttl_days)
    _tell(turn, [parent.id], T.FAMILY_MADE_TITLE, body, f"{done['kind']}:{signup.id}:{turn.now:%Y%m%d%H%M%S}")
    others = [x.helper_id for x in family.helpers_of(turn.session, parent.id)
              if x.helper_id is not None and x.helper_id != helper.id]
    copy_to_helpers(turn, parent, body.split("\n", 1)[0], f"copy:{done['kind']}:{signup.id}", others)


def copy_to_helpers(turn: Turn, parent: Volunteer, text: str, key: str, ids: list[int] | None = None) -> None:
    """A copy of something the parent was told, to the parent's helpers, naming the parent."""
    if turn.helper is not None and ids is None:
        return  # made by a helper: act() tells the parent and the other helpers
    if ids is not None and not ids:
        return
    for link in family.helpers_of(turn.session, parent.id):  # one query, whoever is told
        if link.helper_id is not None and (ids is None or link.helper_id in ids):
            body = T.FAMILY_COPY.format(title=family.parent_title(parent, link), name=parent.name or "", text=text)
            _tell(turn, [link.helper_id], T.FAMILY_COPY_TITLE, body, f"{key}:{link.helper_id}")


def _parent_undo(turn: Turn, st: State) -> Result:
    """The parent takes back what a helper did; the helper is told."""
    from .undo import undo

    u = dict(st.undo or {})
    signup = turn.session.get(Signup, int(u.get("signup_id") or 0))
    title = signup.activity.title if signup is not None else ""
    replies, target = undo(turn, st)
    helper_id = int(u.get("helper_id") or 0)
    if signup is not None and helper_id and st.undo is None:
        words = T.FAMILY_UNDONE_HELPER if u.get("kind") == "signup" else T.FAMILY_RESTORED_HELPER
        _tell(turn, [helper_id], T.FAMILY_MADE_TITLE, words.format(parent=_parent_words(turn.volunteer), title=title),
              f"undone:{signup.id}:{turn.now:%Y%m%d%H%M%S}")
    return replies, target


def _declines_what_was_made(turn: Turn, st: State) -> bool:
    """The parent, told a helper just signed her up, says she will not go (in the undo window, naming no
    other activity or day)."""
    u = st.undo or {}
    if not u.get("helper_id") or u.get("kind") != "signup" or not u.get("at"):
        return False
    if turn.now - datetime.fromisoformat(str(u["at"])) > timedelta(minutes=turn.settings.undo_minutes):
        return False
    if any(entity(turn, e) for e in ("time", "number", "category", "place")):
        return False
    return intent(turn) == "cancel_signup" or yes_no_words(turn) == "no"


def tell_forgotten(turn: Turn) -> None:
    """删除我的信息 / unfollowing: the other side of each active link is told (the links go with the data)."""
    me = turn.volunteer
    for link in family.links_of(turn.session, me.id):
        if link.parent_id == me.id and link.helper_id is not None:
            _tell(turn, [link.helper_id], T.FAMILY_ASK_TITLE,
                  T.FAMILY_FORGOTTEN.format(other=_parent_words(me, link)), f"forgotten:{link.id}")
        elif link.helper_id == me.id:
            _tell(turn, [link.parent_id], T.FAMILY_ASK_TITLE,
                  T.FAMILY_FORGOTTEN.format(other=_helper_words(link, me).removeprefix("您的")),
                  f"forgotten:{link.id}")


# -- the early check: codes, the parent's answer, acting ------------------------------------------
def early(turn: Turn, st: State) -> Result | None:
    if turn.helper is not None:
        return None  # already acting for a parent
    name = intent(turn)
    text = _digits(turn.text)
    m = _CODE.match(text)
    if m is not None and _CODE_WORD.search(text):
        return claim_code(turn, st, m.group(1))
    if m is not None and (st.at is None or st.flow in ("help", "family")):
        return _bare_code(turn, st, m.group(1))
    six = _SIX.findall(text)
    if m is None and len(six) == 1 and len(text) <= 24 and _CODE_CONTEXT.search(text):
        out = _bare_code(turn, st, six[0])  # 码是123456, 123456 我妈给的: a live code in a sentence
        if out is not None:
            return out
    if st.at == "family.consent" and _ASKING.search(plain(turn.text) + (turn.text or "").strip()[-1:]) \
            and not _STRANGER.search(plain(turn.text)) and yes_no_words(turn) is None:
        # 这是干啥的, 他能看到我手机号吗: answered, and the one question stays on screen (not the general help)
        asked = [r for r in from_data(st.last) if isinstance(r, Choices)]
        if asked:
            return [Text(T.FAMILY_ASK_EXPLAIN), asked[-1]], st.at
    if st.at is None and yes_no_words(turn) is not None:
        link = family.awaiting(turn.session, turn.volunteer.id)
        if link is not None:
            st.data["link_id"] = link.id
            return on_consent(turn, st)
    if name in ("bind_phone", "family_link") and _phone(turn) is not None and _relation(turn) is not None:
        return start_link(turn, st)  # 绑定我妈 139…: the parent's number, not one's own
    if name == "undo" and st.undo and st.undo.get("helper_id"):
        return _parent_undo(turn, st)
    if _declines_what_was_made(turn, st):
        return _parent_undo(turn, st)  # 我不去, 那天有事去不了: the answer to "不想去，请回复撤销"
    if name == "undo" and st.undo and st.undo.get("family_for"):
        return act(turn, st, int(st.undo["family_for"]))
    if name in _PARENT_ONLY or (name == "nlu_fallback" and _PRIVATE.search(text)):
        # 我妈干了多少小时, 我妈手机号多少, 帮我妈改住址: hers alone, said so (not the helper's own answered)
        said = _relation(turn)
        link = _parent_for(turn, said) if said is not None else None
        if link is not None:
            st.data.pop("family_for", None)
            return with_menu(turn, T.FAMILY_PARENT_ONLY.format(parent=_parent_words(link.parent, link), rel=said)), \
                "help.menu"
    acting = st.data.get("family_for")
    # 我妈那个活动在哪: a question about one of the parent's sign-ups is answered from hers
    asks = name == "nlu_fallback" and question(turn) is not None
    rel = _relation(turn) if name in _START_FOR_PARENT or asks else None
    if acting and rel is None and name in _FOR_PARENT and (st.flow in _FLOWS_FOR_PARENT or st.at == WAITING) \
            and not _SELF.search(text):
        return act(turn, st, int(acting))
    st.data.pop("family_for", None)  # anything else is the helper's own business
    if rel is None:
        return None
    link = _parent_for(turn, rel)
    if link is None:
        return with_menu(turn, T.FAMILY_NOT_LINKED.format(rel=rel)), "help.menu"
    return act(turn, st, link.parent_id, rel)
    return None


FLOW = Flow(
    name="family",
    steps={"consent": Step(on_consent, expects=(YESNO,)),
           "ring": Step(on_ring, expects=(YESNO,)),
           "unlink_pick": Step(on_unlink_pick, expects=(NUMBER,)),
           "unlink_confirm": Step(on_unlink_confirm, expects=(YESNO,)),
           "for_parent": Step(lambda turn, st: None)},  # answered in `early` while acting (WAITING)
    entries={"family_link": start_link, "family_unlink": start_unlink},
    early=early,
)

