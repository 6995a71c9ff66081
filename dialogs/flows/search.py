"""Search and details: time/place/category from the parse, 4 per page, `更多`, never an empty answer."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from data import profiles
from data.models import Activity, ActivityStatus, Place, PlaceLevel, Signup, Volunteer
from data.services import SearchResult, activity_details, live_signup, search_activities
from data.timeutil import WEEKDAYS, to_local, to_utc

from .. import texts as T
from ..common import (
    booked_note,
    choice,
    entities,
    entity,
    intent,
    local_now,
    number,
    page_size,
    say,
    short,
    with_menu,
)
from ..registry import Flow, Result, Step
from ..replies import Choices, Reply, Text
from ..screen import (
    ITEM,
    NAME,
    NUMBER,
    PARTY,
    QUESTION,
    YESNO,
    bare_digit,
    listed_index,
    name_match,
    without_name,
)
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn


# -- building a query -----------------------------------------------------------------------------
def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="minutes")


def time_label(start_local: datetime, end_local: datetime) -> str:
    """Words for a local [start, end) window: `12月5日（星期六）上午`, `12月6日到12月7日`."""
    span = end_local - start_local
    head = f"{start_local.month}月{start_local.day}日（{WEEKDAYS[start_local.weekday()]}）"
    if span <= timedelta(days=1) and (end_local - timedelta(minutes=1)).date() == start_local.date():
        if start_local.hour == 0 and span >= timedelta(hours=23):
            return head
        part = "上午" if start_local.hour < 12 else ("下午" if start_local.hour < 18 else "晚上")
        return head + part
    last = end_local - timedelta(minutes=1)
    return f"{start_local.month}月{start_local.day}日到{last.month}月{last.day}日"


# Windows the NLU gives (local hours) and how people name them.
_PART_WORDS = {(5, 9): "早上", (5, 10): "早上", (5, 12): "上午", (11, 14): "中午", (12, 18): "下午",
               (17, 20): "傍晚", (18, 0): "晚上", (6, 18): "白天"}


def part_word(start_local: datetime, end_local: datetime) -> str:
    """`上午`, `晚上`, `上午9点`, `下午3点半` for a window inside one day."""
    if end_local - start_local <= timedelta(hours=1):
        h, m = start_local.hour, start_local.minute
        part = "上午" if h < 12 else ("下午" if h < 18 else "晚上")
        clock = f"{h if h <= 12 else h - 12}点" + ("半" if m == 30 else (f"{m}分" if m else ""))
        return part + clock
    known = _PART_WORDS.get((start_local.hour, end_local.hour))
    if known:
        return known
    return "上午" if start_local.hour < 12 else ("下午" if start_local.hour < 18 else "晚上")


def spans_label(spans: list[tuple[datetime, datetime]], now_local: datetime) -> str:
    """`这周末上午`, `下周末晚上`, or the one day left: `11月29日（星期日）上午`."""
    first, last = spans[0], spans[-1]
    part = part_word(*first)
    if len(spans) == 1:
        day = first[0]
        return f"{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）{part}"
    sat = first[0].date() - timedelta(days=first[0].weekday() - 5)
    this_sat = now_local.date() - timedelta(days=now_local.weekday() - 5)
    weeks = (sat - this_sat).days // 7
    word = {0: "这周末", 1: "下周末", 2: "下下周末"}.get(weeks)
    if word is None:
        sun = last[0].date()
        word = f"{sat.month}月{sat.day}日和{sun.month}月{sun.day}日"
    return word + part


def time_spans(value: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    """The windows of a time entity with `spans` (周末上午 → Saturday and Sunday mornings), local."""
    out: list[tuple[datetime, datetime]] = []
    for pair in value.get("spans") or ():
        try:
            a, b = datetime.fromisoformat(str(pair[0])), datetime.fromisoformat(str(pair[1]))
        except (TypeError, ValueError, IndexError):
            return []
        if a < b:
            out.append((a, b))
    return sorted(out)


def home_scope(session: Session, volunteer: Volunteer) -> Place | None:
    """The 旗/县/区 around the volunteer's home (a whole district finds enough to choose from)."""
    if not volunteer.home_place_id:
        return None
    home = session.get(Place, volunteer.home_place_id)
    if home is None:
        return None
    return profiles.ancestor_at(session, home, PlaceLevel.COUNTY) or home


_DAY_WORD = re.compile(r"今|明|昨|后天|前天|周|星期|礼拜|号|日|天|月")


def _every_day_part(turn: Turn) -> tuple[list[tuple[datetime, datetime]], str] | None:
    """`晚上`, `上午`, `这几天晚上`, `下周下午`: that part of every day of the period (the next days when no
    period is named), instead of today's only. None when the part of day belongs to one named day."""
    times = [e for e in entities(turn, "time") if isinstance(e.get("value"), dict)]
    part = next((e for e in times if e["value"].get("grain") == "part_of_day"), None)
    if part is None or part["value"].get("spans"):
        return None
    said = (turn.text or "")[int(part.get("start") or 0):int(part.get("end") or 0)]
    if _DAY_WORD.search(said):
        return None
    try:
        p_from = datetime.fromisoformat(str(part["value"]["from"]))
        p_to = datetime.fromisoformat(str(part["value"]["to"]))
    except (KeyError, ValueError):
        return None
    now = local_now(turn)
    period = next((e for e in times if e is not part), None)
    if period is not None:
        try:
            start = datetime.fromisoformat(str(period["value"]["from"]))
            end = datetime.fromisoformat(str(period["value"]["to"]))
        except (KeyError, ValueError):
            return None
        words = (turn.text or "")[int(period.get("start") or 0):int(period.get("end") or 0)]
    else:
        start, end = now, now + timedelta(days=turn.settings.search_days)
        words = f"最近{turn.settings.search_days}天"
    length = p_to - p_from
    spans: list[tuple[datetime, datetime]] = []
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end:
        a = day.replace(hour=p_from.hour, minute=p_from.minute)
        b = a + length
        if b > now and a < end and b > start:
            spans.append((max(a, start), b))
        day += timedelta(days=1)
    if not spans:
        return None
    return spans, words + part_word(p_from, p_to)


def build_query(turn: Turn) -> tuple[dict[str, Any], list[str]]:
    """A search query (JSON-ready, kept in the state for paging) and notes to tell the user first."""
    q: dict[str, Any] = {"mode": "search"}
    notes: list[str] = []
    te = entity(turn, "time")
    value = te.get("value") if te else None
    daily = _every_day_part(turn)
    if daily is not None:
        spans, label = daily
        q["from"], q["to"] = _iso(to_utc(spans[0][0])), _iso(to_utc(spans[-1][1]))
        q["spans"] = [[_iso(to_utc(a)), _iso(to_utc(b))] for a, b in spans]
        q["time_label"] = label
        value = None
    if isinstance(value, dict) and value.get("from"):
        try:
            start = datetime.fromisoformat(str(value["from"]))
            end = datetime.fromisoformat(str(value["to"])) if value.get("to") else start + timedelta(days=1)
            q["from"], q["to"] = _iso(to_utc(start)), _iso(to_utc(end))
            q["time_label"] = time_label(start, end)
            spans = time_spans(value)
            if spans:
                q["spans"] = [[_iso(to_utc(a)), _iso(to_utc(b))] for a, b in spans]
                q["time_label"] = spans_label(spans, local_now(turn))
        except ValueError:
            pass
    ce = entity(turn, "category")
    if ce and ce.get("value"):
        q["category"] = str(ce["value"])
    pe = entity(turn, "place")
    session, volunteer = turn.session, turn.volunteer
    if pe is not None:
        pvalue, role = str(pe.get("value") or ""), pe.get("role")
        if role == "relative" or pvalue in ("nearby", "home"):
            if pvalue == "home" and volunteer.home_place_id:
                home = session.get(Place, volunteer.home_place_id)
                if home is not None:
                    q["place_id"], q["place_label"] = home.id, home.name
            elif volunteer.last_lat is not None and volunteer.last_lon is not None:
                q["near"] = [volunteer.last_lat, volunteer.last_lon]
                q["place_label"] = T.SCOPE_NEAR_POINT
        elif role == "unknown":
            notes.append(T.PLACE_UNKNOWN.format(name=pvalue or turn.text[pe.get("start", 0):pe.get("end", 0)]))
            q["no_auto_place"] = True
        else:
            place = profiles.find_place(session, pvalue)
            if place is not None:
                q["place_id"], q["place_label"] = place.id, place.name
            else:
                notes.append(T.PLACE_UNKNOWN.format(name=pvalue))
                q["no_auto_place"] = True
    if "place_id" not in q and "near" not in q and not q.get("no_auto_place"):
        scope = home_scope(session, volunteer)
        if scope is not None:
            q["place_id"], q["place_label"], q["auto_place"] = scope.id, T.PLACE_NEAR_HOME.format(
                place=scope.name), True
    return q, notes


def scope_words(turn: Turn, q: dict[str, Any]) -> str:
    """`12月5日（星期六）新城区的助老` — what the user asked for, in their terms."""
    when = q.get("time_label") or f"最近{turn.settings.search_days}天"
    text = when + (q.get("place_label") or "")
    if not text.endswith("的"):
        text += "的"
    return text + (q.get("category") or "")


def run(turn: Turn, q: dict[str, Any], offset: int, limit: int, light: bool = True,
        count_past_end: bool = True) -> Any:
    """One page of the query. `light`: the hits hold list-line rows (what the list shows), not the activities
    themselves; with False the Activity objects stay in the session for the rest of the turn.
    `count_past_end`: False when only the page matters (past the end: no hits, total 0)."""
    time_from = datetime.fromisoformat(q["from"]) if q.get("from") else None
    if q.get("to"):
        time_to: datetime | None = datetime.fromisoformat(q["to"])
    elif time_from is None and not q.get("open_end"):
        time_to = turn.now + timedelta(days=turn.settings.search_days)
    else:
        time_to = None
    near = tuple(q["near"]) if q.get("near") else None
    if q.get("spans"):
        return _run_spans(turn, q, near, offset, limit, light)
    return search_activities(
        turn.session, now=turn.now, time_from=time_from, time_to=time_to, place_id=q.get("place_id"),
        category=q.get("category"), near=near, offset=offset, limit=limit, light=light,  # type: ignore[arg-type]
        count_past_end=count_past_end,
    )


def _run_spans(turn: Turn, q: dict[str, Any], near: Any, offset: int, limit: int, light: bool) -> SearchResult[Any]:
    """Only activities starting inside one of the windows (周末上午: Saturday or Sunday morning), merged in
    the order one search gives (start time, or distance then start)."""
    hits = []
    total, more_than = 0, False
    for a, b in q["spans"]:
        res = search_activities(
            turn.session, now=turn.now, time_from=datetime.fromisoformat(a), time_to=datetime.fromisoformat(b),
            place_id=q.get("place_id"), category=q.get("category"), near=near, offset=0, limit=offset + limit,
            light=light,
        )
        hits += res.hits
        total += res.total
        more_than = more_than or res.more_than
    if near is not None:
        hits.sort(key=lambda h: (h.distance_km if h.distance_km is not None else 1e9, h.activity.starts_at))
    else:
        hits.sort(key=lambda h: (h.activity.starts_at, h.activity.id))
    return SearchResult(hits[offset : offset + limit], total, more_than)


# -- showing a list -------------------------------------------------------------------------------
def list_reply(turn: Turn, st: State, rows: list[tuple[Activity, int, str]], total: int, head: str,
               notes: list[str]) -> Result:
    """Numbered activities; remembers their ids so that `2` works in the next message."""
    st.listed = [a.id for a, _, _ in rows]
    st.list_kind = "activity"
    st.data.pop("activity_id", None)
    st.data["first"] = st.offset + 1
    options = tuple(T.activity_line(a, left, short(turn), extra) for a, left, extra in rows)
    more = st.offset + len(rows) < total
    if short(turn):
        footer = T.LIST_FOOTER_SHORT if more else T.LIST_FOOTER_SHORT_LAST
    else:
        footer = T.LIST_FOOTER if more else T.LIST_FOOTER_LAST
    replies: list[Reply] = [Text(n) for n in notes]
    replies.append(Choices(head, options, footer, st.offset + 1))
    return replies, "search.list"


def show_page(turn: Turn, st: State, notes: list[str] | None = None, entities: bool = False,
              found: SearchResult[Any] | None = None) -> Result:
    """The page at `st.offset`. `entities`: read the listed activities as Activity objects (kept in the session
    for what the turn does next with one of them), not as list-line rows. `found`: that page, already read."""
    q = st.query or {"mode": "search"}
    if q.get("mode") == "recommend":
        from .recommend import show_page as recommend_page

        return recommend_page(turn, st, notes or [])
    notes = list(notes or [])
    size = page_size(turn)
    light = not entities
    res = found if found is not None else run(turn, q, st.offset, size, light)
    if res.total == 0 and st.offset == 0 and q.get("auto_place"):
        # Nothing near home: look everywhere before saying there is nothing.
        for k in ("place_id", "place_label", "auto_place"):
            q.pop(k, None)
        res = run(turn, q, 0, size, light)
    if res.total == 0:
        return no_results(turn, st, notes)
    if st.offset >= res.total:
        st.offset = max(0, (res.total - 1) // size * size)
        res = run(turn, q, st.offset, size, light)
    rows = [(h.activity, h.places_left, f"约{h.distance_km:.1f}公里" if h.distance_km is not None and not
             short(turn) else "") for h in res.hits]
    scope = scope_words(turn, q)
    # A region has too many to count on every message: past the cap the search says "more than".
    total = T.TOTAL_OVER.format(n=res.total // 100 * 100 or res.total) if res.more_than else res.total
    if short(turn):
        head = T.LIST_HEAD_SHORT.format(scope=scope, total=total)
    elif st.offset == 0:
        head = T.LIST_HEAD.format(scope=scope, total=total)
    else:
        head = T.LIST_HEAD_PAGE.format(scope=scope, a=st.offset + 1, b=st.offset + len(rows), total=total)
    return list_reply(turn, st, rows, res.total, head, notes)


def no_results(turn: Turn, st: State, notes: list[str]) -> Result:
    """Say so, and offer the nearest date, other categories or other places that do have activities."""
    q = dict(st.query or {})
    scope = scope_words(turn, q)
    alts: list[tuple[str, dict[str, Any]]] = []
    base = {k: v for k, v in q.items() if k not in ("from", "to", "time_label", "spans")}
    later = run(turn, {**base, "open_end": True}, 0, 1)
    if later.hits and (q.get("from") or q.get("to")):
        first = to_local(later.hits[0].activity.starts_at)
        start = first.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        label = T.day(later.hits[0].activity.starts_at, short(turn))
        alts.append((T.ALT_DATE.format(day=label), {**base, "from": _iso(to_utc(start)),
                                                    "to": _iso(to_utc(start + timedelta(days=1))),
                                                    "time_label": label}))
    if q.get("category"):
        other = {k: v for k, v in q.items() if k != "category"}
        if run(turn, other, 0, 1).total:
            alts.append((T.ALT_ANY_CATEGORY, other))
    if q.get("place_id") or q.get("near"):
        other = {k: v for k, v in q.items() if k not in ("place_id", "place_label", "near", "auto_place")}
        other["no_auto_place"] = True
        if run(turn, other, 0, 1).total:
            alts.append((T.ALT_ANY_PLACE, other))
    if not alts:
        anything = run(turn, {"mode": "search", "no_auto_place": True}, 0, 1)
        if anything.total:
            alts.append((T.ALT_ANY_PLACE if q.get("place_id") else T.ALT_ANY_CATEGORY,
                         {"mode": "search", "no_auto_place": True}))
    replies: list[Reply] = [Text(n) for n in notes]
    if not alts:
        replies += with_menu(turn, T.NONE_AT_ALL)
        return replies, "help.menu"
    st.data["alts"] = [a for _, a in alts[:3]]
    replies.append(Choices(T.NONE_FOUND_ALT.format(scope=scope), tuple(label for label, _ in alts[:3]),
                           T.ALT_FOOTER))
    return replies, "search.alts"


# -- details --------------------------------------------------------------------------------------
def show_detail(turn: Turn, st: State, activity_id: int) -> Result:
    """Everything about one activity, with `回复1报名` (or, when already signed up, 1 = cancel)."""
    # One statement: the activity with its place's name, places left, and the volunteer's own sign-up.
    view = activity_details(turn.session, activity_id, turn.volunteer.id)
    if view is None or view.activity.status != ActivityStatus.PUBLISHED or view.activity.starts_at <= turn.now:
        return with_menu(turn, T.ERR_NOT_FOUND if view is None else T.ERR_NOT_OPEN), "help.menu"
    act = view.activity
    st.data["activity_id"] = act.id
    card = T.activity_card(act, view.places_left, short(turn), detail=True)
    turn.long_reply = True
    if view.signup_status is not None:
        status = T.status_name(view.signup_status, view.waitlist_position)
        card += "\n" + T.ALREADY_IN.format(status=status)
        footer = say(turn, T.DETAIL_FOOTER_MINE, T.DETAIL_FOOTER_MINE_SHORT)
    else:
        footer = say(turn, T.DETAIL_FOOTER, T.DETAIL_FOOTER_SHORT)
    return [Choices(card, (), footer)], "search.detail"


def listed_id(turn: Turn, st: State, n: int) -> int | None:
    """The activity numbered `n` in the last list: on the page shown, or (the list said 共4个, the short SMS
    page showed two, the person asks for 第三个) on the page of the same search that holds it, which then
    becomes the page on screen. A bare number is a choice among the numbers shown (a 5 under 1 and 2 is a
    slip of the finger: the person is told which to reply); only words that count along the list (第三个,
    第3个咋样) reach past the page. None when there is no such item."""
    idx = listed_index(st, n)
    if idx is not None:
        return st.listed[idx]
    q = st.query
    if st.list_kind != "activity" or not q or q.get("mode") == "recommend" or not 1 <= n <= MAX_PICK \
            or bare_digit(turn.text) is not None:
        return None
    size = page_size(turn)
    offset = (n - 1) // size * size
    res = run(turn, q, offset, size, count_past_end=False)
    if len(res.hits) <= n - 1 - offset:
        return None
    st.offset = offset
    st.listed = [h.activity.id for h in res.hits]
    st.data["first"] = offset + 1
    return st.listed[n - 1 - offset]


MAX_PICK = 200  # 第几个 beyond this is no item of a list anyone read


def pick_listed(turn: Turn, st: State, n: int | None) -> Result | None:
    """Details of item n of the last list, or a polite range reminder."""
    if n is None or st.list_kind not in ("activity", "mine") or not st.listed:
        return None
    activity_id = listed_id(turn, st, n)
    if activity_id is None:
        first = int(st.data.get("first") or 1)
        if first == 1:
            return [Text(T.NOT_IN_LIST.format(n=n, m=len(st.listed)) + " " + say(turn, T.EXITS, T.EXITS_SHORT))], st.at
        return [Text(T.NOT_IN_RANGE.format(n=n, a=first, b=first + len(st.listed) - 1) + " "
                     + say(turn, T.EXITS, T.EXITS_SHORT))], st.at
    return show_detail(turn, st, activity_id)


# -- handlers -------------------------------------------------------------------------------------
def start(turn: Turn, st: State) -> Result:
    """search_activities: a new query from the message."""
    q, notes = build_query(turn)
    st.query, st.offset = q, 0
    pe = entity(turn, "place")
    v = turn.volunteer
    if pe is not None and pe.get("role") == "relative" and "place_id" not in q and "near" not in q \
            and not v.home_place_id:
        # 附近 from someone whose place we do not know: ask, keeping the rest of the question.
        return [Text(say(turn, T.WHERE_ASK, T.WHERE_ASK_SHORT))], "search.where"
    pointing = entity(turn, "category") is None and (
        intent(turn) == "sign_up" or _SIGN.search(turn.text or "") is not None
        or _POINT.search(turn.text or "") is not None)
    # A message that may name one of the activities found reads them whole: the next step uses one.
    replies, target = show_page(turn, st, notes, entities=pointing)
    if target == "search.list" and pointing:
        # 明天下午那个读报的我想报个名: the one item whose title the words name goes straight to the
        # confirmation (a kind of work, 陪老人聊天, is a category: the list is shown). The 报 of the name
        # itself is no wish to sign up: 明天读报那个 shows that one.
        titles = {a: act.title for a in st.listed if (act := turn.session.get(Activity, a)) is not None}
        hit = name_match(turn.text, {a: [t] for a, t in titles.items()})
        if hit is not None:
            rest = without_name(turn.text, titles[hit])
            if _SIGN.search(rest):
                from .signup import start_for

                return start_for(turn, st, hit)
            if _POINT.search(rest):
                return show_detail(turn, st, hit)
    return replies, target


def on_where(turn: Turn, st: State) -> Result | None:
    """The answer to 您在哪个社区: a place name narrows the search that was waiting for it."""
    pe = entity(turn, "place")
    if pe is None or pe.get("role") in ("relative",):
        return None
    q = dict(st.query or {"mode": "search"})
    notes: list[str] = []
    place = profiles.find_place(turn.session, str(pe.get("value"))) if pe.get("role") != "unknown" else None
    if place is None:
        notes.append(T.PLACE_UNKNOWN.format(name=pe.get("value") or ""))
        q["no_auto_place"] = True
    else:
        q["place_id"], q["place_label"] = place.id, place.name
    st.query, st.offset = q, 0
    return show_page(turn, st, notes)


def start_default(turn: Turn, st: State) -> Result:
    """The menu's 找活动: the next days near home."""
    turn.parse = {"intent": {"name": "search_activities"}, "entities": []}
    return start(turn, st)


def more(turn: Turn, st: State) -> Result:
    if not st.query:
        return [Text(say(turn, T.NO_LIST, T.NO_LIST_SHORT))], None
    size = page_size(turn)
    q = st.query
    found = None
    if q.get("mode") == "recommend":
        last = st.offset + size >= len(q.get("ids") or [])
    else:
        # The next page itself says whether there is one (and is then shown as it is, not read again).
        found = run(turn, q, st.offset + size, size, count_past_end=False)
        last = not found.hits
    if last:
        return [Text(say(turn, T.NO_MORE, T.NO_MORE_SHORT))], st.at if st.flow == "search" else "search.list"
    st.offset += size
    return show_page(turn, st, found=found)


def detail_entry(turn: Turn, st: State) -> Result | None:
    """activity_detail outside a list step: `第二个是干啥的`, or the activity being discussed."""
    n = number(turn)
    if n is not None:
        out = pick_listed(turn, st, n)
        if out is not None:
            return out
    if st.data.get("activity_id"):
        return show_detail(turn, st, int(st.data["activity_id"]))
    return [Text(say(turn, T.NO_LIST, T.NO_LIST_SHORT))], None


def on_list(turn: Turn, st: State) -> Result | None:
    name = intent(turn)
    r = turn.reading
    if r is not None and r.kind in (NUMBER, NAME):
        if r.kind == NUMBER:
            found_id = listed_id(turn, st, int(r.value))
            if found_id is None:
                return pick_listed(turn, st, int(r.value))
            activity_id = found_id
        else:
            activity_id = int(r.value)
        said = turn.text or ""
        if r.kind == NAME:  # the name itself may hold 报 or 参加 (读报, 参加培训): look at the rest
            act = turn.session.get(Activity, activity_id)
            said = without_name(said, act.title) if act is not None else said
        if name == "sign_up" and said == (turn.text or "") or _SIGN.search(said) or st.data.pop("sign_next", False):
            from .signup import start_for

            return start_for(turn, st, activity_id)
        return show_detail(turn, st, activity_id)
    asked = bool(st.data.get("sign_next"))  # 第几个 was asked: a yes to it still means "sign me up"
    if r is not None and r.kind == PARTY or (name == "sign_up" and not turn.parse.get("entities")) or (
            asked and r is not None and r.kind == "yes"):
        # 带老伴一起去 / 我要报名 with the list on screen: keep the list, remember who comes, ask which one;
        # with only one on the list there is nothing to ask (the confirmation question still comes).
        if r is not None and r.kind == PARTY:
            st.data["party"] = int(r.value)
        if len(st.listed) == 1 and st.list_kind == "activity":
            from .signup import start_for

            st.data.pop("sign_next", None)
            return start_for(turn, st, st.listed[0])
        st.data["sign_next"] = True
        if r is not None and r.kind == PARTY:
            return [Text(T.WHICH_ON_LIST_PARTY.format(party=int(r.value)))], "search.list"
        return [Text(T.WHICH_ON_LIST)], "search.list"
    if r is not None and r.kind == "no":
        return with_menu(turn, T.NOTHING_CHOSEN + booked_note(turn)), "help.menu"
    if name in ("choose", "activity_detail") or (name == "nlu_fallback" and choice(turn) is not None):
        return pick_listed(turn, st, number(turn))
    if name == "more":
        return more(turn, st)
    return None


_SIGN = re.compile(r"报名|报个名|报上|报这个|报那个|^报|我要去|我去|想去|参加")
_POINT = re.compile(r"那个|这个|那场|这场|那次|那项")


def on_detail(turn: Turn, st: State) -> Result | None:
    activity_id = int(st.data.get("activity_id") or 0)
    name = intent(turn)
    r = turn.reading
    looked: list[Signup | None] = []

    def own() -> Signup | None:
        """The volunteer's live sign-up on this activity, read when a step needs it (`2` goes back without)."""
        if not looked:
            looked.append(live_signup(turn.session, turn.volunteer.id, activity_id) if activity_id else None)
        return looked[0]

    if r is not None and r.kind == NAME and int(r.value) != activity_id:
        return show_detail(turn, st, int(r.value))
    if r is not None and r.kind == NUMBER:  # 换第二个吧: another item of the list behind this screen
        return pick_listed(turn, st, int(r.value))
    if _SWITCH.search(turn.text or "") and own() is None:
        from .change import offer_switch

        out = offer_switch(turn, st, activity_id)
        if out is not None:
            return out
    n = bare_digit(turn.text)  # 1, １ or a voice transcript's 一。
    digit = n is not None and n < 10
    if r is not None and r.kind == "no" or n == 2:
        if st.listed and st.query and st.list_kind == "activity":
            replies, target = show_page(turn, st)
            return [Text(T.NOT_SIGNED_BACK), *replies], target
        if st.list_kind == "mine":
            from .mine import start as mine_start

            return mine_start(turn, st)
        return with_menu(turn, T.NOT_SIGNED + booked_note(turn)), "help.menu"
    wants = (r is not None and r.kind in ("yes", PARTY, NAME)) or n == 1 or name in ("affirm", "sign_up")
    if wants:
        live = own()
        if live is not None:
            if r is not None and r.kind == PARTY:
                from .change import offer_party

                return offer_party(turn, st, live.id, int(r.value))
            from .cancel import confirm_for

            return confirm_for(turn, st, live.id)
        from .signup import start_for

        return start_for(turn, st, activity_id)
    if name == "cancel_signup" and (live := own()) is not None:
        from .cancel import confirm_for

        return confirm_for(turn, st, live.id)
    if name in ("choose", "activity_detail") and number(turn) is not None and not digit:
        return pick_listed(turn, st, number(turn))
    if name == "activity_detail":
        return detail_entry(turn, st)
    if name == "more":
        return more(turn, st)
    return None


_SWITCH = re.compile(r"换成|换这个|换到|改成这个|改报|换一个|改这个|换那个")


def on_alts(turn: Turn, st: State) -> Result | None:
    n = choice(turn)
    alts = st.data.get("alts") or []
    if n is None:
        return None
    if not 1 <= n <= len(alts):
        return [Text(T.NOT_IN_LIST.format(n=n, m=len(alts)))], st.at
    st.query, st.offset = dict(alts[n - 1]), 0
    return show_page(turn, st)


def near(turn: Turn, st: State, lat: float, lon: float) -> Result:
    """Activities nearest to a point, nearest first."""
    st.query = {"mode": "search", "near": [lat, lon], "place_label": T.SCOPE_NEAR_POINT, "max_km": None}
    st.offset = 0
    return show_page(turn, st)


_ASKS_WHAT_ON = re.compile(r"活|有啥|有什么|有没有|能干|能做|可以做|参加|想报|要报|想去")
_MINE_WORDS = re.compile(r"我报了|报了啥|报了什么|报了哪|我的|我报的|报过")


def late(turn: Turn, st: State) -> Result | None:
    """A message with a time that asks what is on (我想问一下这个礼拜六有没有什么活动可以参加的), whatever
    intent it was given: a search."""
    if entity(turn, "time") is None or intent(turn) in ("search_activities", "cancel_signup", "my_hours"):
        return None
    text = turn.text or ""
    if not _ASKS_WHAT_ON.search(text) or _MINE_WORDS.search(text):
        return None
    return start(turn, st)


FLOW = Flow(
    name="search",
    late=late,
    steps={"list": Step(on_list, expects=(NUMBER, NAME, YESNO, PARTY)),
           "detail": Step(on_detail, expects=(QUESTION, ITEM, NAME, PARTY, YESNO)),
           "alts": Step(on_alts), "where": Step(on_where)},
    entries={"search_activities": start, "more": more, "activity_detail": detail_entry},
)
