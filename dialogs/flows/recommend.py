"""Recommend: activities matching home place, free times, interests and physical load, with a reason.

`不要推荐` switches to plain time-ordered lists (users may refuse personalised recommendations).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from data import profiles
from data.models import Activity, Place
from data.services import haversine_km, places_left, search_activities

from .. import texts as T
from ..common import page_size, say, short, with_menu
from ..registry import Flow, Result
from ..replies import Text
from ..state import State
from .search import list_reply, start_default

if TYPE_CHECKING:
    from ..engine import Turn

HORIZON_DAYS = 14
NEAR_KM = 5.0
_RESUME = re.compile(r"恢复|打开|重新推荐|还要推荐")


def _score(turn: Turn, act: Activity, home: Place | None) -> tuple[int, str]:
    v = turn.volunteer
    score, reasons = 0, []
    if act.category in (v.categories or []):
        score += 3
        reasons.append(T.REASON_LIKE.format(cat=act.category))
    day, part = T.slot_of(act.starts_at)
    if v.availability and v.availability >> (day * 3 + part) & 1:
        score += 2
        reasons.append(T.REASON_FREE.format(slot=T.slot_name(day, part)))
    if home is not None and act.place is not None:
        if act.place.path.startswith(home.path) or (
            home.lat is not None and act.place.lat is not None
            and haversine_km(home.lat, home.lon or 0.0, act.place.lat, act.place.lon or 0.0) <= NEAR_KM
        ):
            score += 2
            reasons.append(T.REASON_NEAR)
    reason = T.REASON_JOIN + reasons[0] if reasons else ""
    return score, reason


def start(turn: Turn, st: State) -> Result:
    v = turn.volunteer
    if v.recommend_opt_out:
        if _RESUME.search(turn.text or ""):
            v.recommend_opt_out = False
            profiles.record_consent(turn.session, v.id, "recommendations", True, turn.channel, turn.now)
        else:
            replies, target = start_default(turn, st)
            return [Text(T.RECOMMEND_PLAIN), *replies], target
    home = turn.session.get(Place, v.home_place_id) if v.home_place_id else None
    found = search_activities(turn.session, now=turn.now, time_to=turn.now + timedelta(days=HORIZON_DAYS),
                              max_load=v.max_load or None, limit=500)
    scored: list[tuple[int, Any, str]] = []
    for hit in found.hits:
        score, reason = _score(turn, hit.activity, home)
        if score > 0:
            scored.append((score, hit.activity, reason))
    scored.sort(key=lambda x: (-x[0], x[1].starts_at, x[1].id))
    if not scored:
        replies, target = start_default(turn, st)
        return [Text(T.RECOMMEND_NONE), *replies], target
    top = scored[:12]
    st.query = {"mode": "recommend", "ids": [a.id for _, a, _ in top],
                "reasons": {str(a.id): r for _, a, r in top}}
    st.offset = 0
    return show_page(turn, st, [])


def show_page(turn: Turn, st: State, notes: list[str]) -> Result:
    q = st.query or {}
    ids: list[int] = list(q.get("ids") or [])
    size = min(page_size(turn), 3)
    if st.offset >= len(ids):
        st.offset = max(0, (len(ids) - 1) // size * size)
    rows = []
    for aid in ids[st.offset: st.offset + size]:
        act = turn.session.get(Activity, aid)
        if act is None:
            continue
        reason = "" if short(turn) else (q.get("reasons") or {}).get(str(aid), "")
        rows.append((act, places_left(turn.session, act), reason))
    if not rows:
        return with_menu(turn, T.RECOMMEND_NONE), "help.menu"
    head = say(turn, T.RECOMMEND_HEAD, T.RECOMMEND_HEAD_SHORT, n=len(ids))
    return list_reply(turn, st, rows, len(ids), head, notes)


_REFUSE = re.compile(r"不要|不用|别|关|停|取消|不想")


def opt_out(turn: Turn, st: State) -> Result:
    if not _REFUSE.search(turn.text or "") and not _RESUME.search(turn.text or ""):
        return start(turn, st)  # 给我推荐 is sometimes read as no_recommend: no refusal word, no refusal
    if _RESUME.search(turn.text or ""):  # 恢复推荐 is sometimes read as no_recommend
        turn.volunteer.recommend_opt_out = False
        profiles.record_consent(turn.session, turn.volunteer.id, "recommendations", True, turn.channel, turn.now)
        return with_menu(turn, T.RECOMMEND_ON), "help.menu"
    turn.volunteer.recommend_opt_out = True
    profiles.record_consent(turn.session, turn.volunteer.id, "recommendations", False, turn.channel, turn.now)
    if st.query and st.query.get("mode") == "recommend":
        st.query = None
    return with_menu(turn, T.RECOMMEND_OFF), "help.menu"


FLOW = Flow(name="recommend", entries={"recommend": start}, anywhere={"no_recommend": opt_out})
