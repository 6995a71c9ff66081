"""Coordinator commands in the chat, for a volunteer linked to a coordinator (`Coordinator.volunteer_id`):

- `名单 <活动>`: the roster of a matching upcoming activity of their teams — counts, then names with masked
  phones, as many as fit the channel's budget, `更多` for the next page;
- `审核`: their teams' pending sign-ups one at a time, `1 通过 / 2 不通过 / 3 下一个`;
- `通知 <队名>：<内容>`: a preview with the recipient count, `1 发送 / 2 不发了`, then the push layer sends.

The NLU has no intents for these: the leading keyword of the raw text decides, and only for coordinators;
anyone else sending the same words gets the usual answer.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from data import services
from data.models import (
    Activity,
    ActivityStatus,
    Coordinator,
    Signup,
    SignupStatus,
    Team,
    TeamMember,
    Volunteer,
)
from data.records import coordinator_team_ids, roster
from data.review import decide, pending_signups
from data.timeutil import to_local

from .. import texts as T
from ..common import choice, entity, exits, intent, is_no, is_yes, say, short, with_menu, yes_no
from ..registry import Flow, Result, Step
from ..replies import Choices, Reply, Text
from ..state import State

if TYPE_CHECKING:
    from ..engine import Turn

KEYWORDS = ("名单", "审核", "通知")
NOTICE_MAX = 500
_PUNCT = re.compile(r"[\s,.，。、:：;；!！?？\"'“”‘’()（）《》<>【】\[\]-]+")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip()


def coordinator_of(turn: Turn) -> Coordinator | None:
    return turn.session.scalars(select(Coordinator).where(Coordinator.volunteer_id == turn.volunteer.id)
                                .order_by(Coordinator.id)).first()


def command(turn: Turn, st: State) -> Result | None:
    """The early check: a coordinator's `名单` / `审核` / `通知`; None for everything else."""
    text = _norm(turn.text)
    key = next((k for k in KEYWORDS if text.startswith(k)), None)
    if key is None:
        return None
    coord = coordinator_of(turn)
    if coord is None:
        return None
    teams = coordinator_team_ids(turn.session, coord.id)
    if not teams:
        return with_menu(turn, T.CO_NO_TEAMS), "help.menu"
    st.data.clear()
    st.data["coord_id"] = coord.id
    if key == "名单":
        return roster_start(turn, st, teams, text[len(key):])
    if key == "审核":
        st.data["co_skip"] = []
        return review_next(turn, st, teams)
    raw = (turn.text or "").strip()
    return notice_start(turn, st, teams, raw[raw.find("通知") + 2:] if "通知" in raw else "")


def _teams(turn: Turn, st: State) -> list[int] | None:
    """The coordinator's teams, re-checked on every step (the link may have been removed meanwhile)."""
    coord = turn.session.get(Coordinator, int(st.data.get("coord_id") or 0))
    if coord is None or coord.volunteer_id != turn.volunteer.id:
        return None
    return coordinator_team_ids(turn.session, coord.id)


# -- 名单 ------------------------------------------------------------------------------------------------


def _bigrams(s: str) -> set[str]:
    return {s[i:i + 2] for i in range(len(s) - 1)} if len(s) > 1 else ({s} if s else set())


def _time_range(turn: Turn) -> tuple[datetime, datetime] | None:
    te = entity(turn, "time")
    value = te.get("value") if te else None
    if not (isinstance(value, dict) and value.get("from")):
        return None
    try:
        start = datetime.fromisoformat(str(value["from"]))
        end = datetime.fromisoformat(str(value["to"])) if value.get("to") else start + timedelta(days=1)
    except ValueError:
        return None
    return start, end


def match_activities(turn: Turn, teams: list[int], words: str) -> list[Activity]:
    """Upcoming activities of the teams that the words (and a time, if the NLU found one) point at."""
    acts = list(turn.session.scalars(
        select(Activity).where(Activity.team_id.in_(teams), Activity.status == ActivityStatus.PUBLISHED,
                               Activity.ends_at > turn.now).order_by(Activity.starts_at, Activity.id).limit(60)))
    span = _time_range(turn)
    if span is not None:
        acts = [a for a in acts if span[0] <= to_local(a.starts_at).replace(tzinfo=None) < span[1]]
    words = _PUNCT.sub("", words)
    if not words:
        return acts
    exact = [a for a in acts if words in a.title]
    if exact:
        return exact
    grams = _bigrams(words)

    def score(a: Activity) -> int:
        hay = a.title + (a.place.name if a.place else "") + (a.address or "") + a.category
        return sum(1 for g in grams if g in hay)

    best = max((score(a) for a in acts), default=0)
    if best > 0:
        return [a for a in acts if score(a) == best]
    return acts if span is not None else []


def roster_start(turn: Turn, st: State, teams: list[int], words: str) -> Result:
    acts = match_activities(turn, teams, words)
    if not acts:
        what = f"“{_PUNCT.sub('', words)}”" if _PUNCT.sub("", words) else ""
        return with_menu(turn, T.CO_NO_ACTIVITY.format(what=what)), "help.menu"
    if len(acts) == 1:
        return roster_page(turn, st, acts[0].id, 0)
    shown = acts[:3 if short(turn) else 4]
    st.data["co_acts"] = [a.id for a in shown]
    lines = tuple(T.activity_line(a, services.places_left(turn.session, a), short(turn)) for a in shown)
    return [Choices(T.CO_PICK_ACTIVITY, lines, say(turn, T.PICK_FOOTER, T.PICK_FOOTER_SHORT))], \
        "coordinator.pick"


def on_pick(turn: Turn, st: State) -> Result | None:
    n = choice(turn)
    ids = [int(i) for i in st.data.get("co_acts") or []]
    if n is None or not ids:
        return None
    if not 1 <= n <= len(ids):
        return [Text(T.NOT_IN_LIST.format(n=n, m=len(ids)))], st.at
    return roster_page(turn, st, ids[n - 1], 0)


def roster_page(turn: Turn, st: State, activity_id: int, offset: int) -> Result:
    """Counts, then as many names as fit the budget from `offset`; `更多` continues."""
    teams = _teams(turn, st)
    act = turn.session.get(Activity, activity_id)
    if teams is None or act is None or act.team_id not in teams:
        return with_menu(turn, T.ERR_NOT_FOUND), "help.menu"
    rows = [s for s, _ in roster(turn.session, act.id)]
    counts = {k: 0 for k in ("confirmed", "pending", "waitlisted")}
    lines: list[str] = []
    waiting = 0
    for i, s in enumerate(rows, 1):
        status = SignupStatus(s.status)
        if status in (SignupStatus.CONFIRMED, SignupStatus.ATTENDED):
            counts["confirmed"] += 1
        elif status == SignupStatus.PENDING:
            counts["pending"] += 1
        elif status == SignupStatus.WAITLISTED:
            counts["waitlisted"] += 1
            waiting += 1
        label = T.CO_STATUS.get(status, "") + (str(waiting) if status == SignupStatus.WAITLISTED else "")
        party = f"（{s.party_size}人）" if s.party_size > 1 else ""
        name = s.volunteer.name or "志愿者"
        lines.append(f"{i}. {name}{party} {s.volunteer.phone_masked or T.CO_NO_PHONE} {label}")
    head = T.CO_ROSTER_HEAD.format(title=act.title, when=T.when(act.starts_at, short=short(turn)), **counts)
    if not rows:
        return with_menu(turn, head + "\n" + T.CO_ROSTER_EMPTY), "help.menu"
    budget = turn.settings.budget(turn.channel)
    more = say(turn, T.CO_ROSTER_MORE, T.CO_ROSTER_MORE_SHORT)
    end_text = say(turn, T.CO_ROSTER_END, T.CO_ROSTER_END_SHORT)
    offset = max(0, min(offset, len(rows) - 1))
    page_head = T.CO_ROSTER_PAGE.format(a=offset + 1, b=len(rows), total=len(rows))
    fixed = len(head) + len(page_head) + max(len(more), len(end_text)) + 3
    end = offset
    used = fixed
    while end < len(rows) and (end == offset or used + len(lines[end]) + 1 <= budget):
        used += len(lines[end]) + 1
        end += 1
    page_head = T.CO_ROSTER_PAGE.format(a=offset + 1, b=end, total=len(rows))
    body = "\n".join([head, page_head, *lines[offset:end], more if end < len(rows) else end_text])
    if end < len(rows):
        st.data["co_roster"] = {"activity_id": act.id, "next": end}
        return [Text(body)], "coordinator.roster"
    return [Text(body)], None


def on_roster(turn: Turn, st: State) -> Result | None:
    ref = st.data.get("co_roster") or {}
    if not ref or not (intent(turn) == "more" or re.search(r"更多|下一页|还有", turn.text or "")):
        return None
    return roster_page(turn, st, int(ref["activity_id"]), int(ref["next"]))


# -- 审核 ------------------------------------------------------------------------------------------------


def review_next(turn: Turn, st: State, teams: list[int], prefix: str = "") -> Result:
    """Show the next pending sign-up (skipped ones last), or say there are none left."""
    pend = pending_signups(turn.session, teams, turn.now)
    skipped = [int(i) for i in st.data.get("co_skip") or []]
    queue = [s for s in pend if s.id not in skipped] or pend  # all skipped: start over
    if not queue:
        done = prefix + (T.CO_REVIEW_DONE if prefix else T.CO_REVIEW_NONE)
        return with_menu(turn, done), "help.menu"
    s = queue[0]
    st.data["co_review"] = s.id
    if not [x for x in pend if x.id not in skipped]:
        st.data["co_skip"] = []
    act = s.activity
    card = T.activity_card(act, services.places_left(turn.session, act), short(turn), full=False)
    party = f"{s.party_size}人" if s.party_size > 1 else ""
    prompt = prefix + T.CO_REVIEW_ITEM.format(left=len(pend), name=s.volunteer.name or "志愿者",
                                              phone=s.volunteer.phone_masked or T.CO_NO_PHONE, party=party,
                                              card=card)
    footer = say(turn, T.CO_REVIEW_FOOTER, T.CO_REVIEW_FOOTER_SHORT)
    return [Choices(prompt, T.CO_REVIEW_OPTIONS, footer)], "coordinator.review"


def _review_choice(turn: Turn) -> int | None:
    n = choice(turn)
    if n in (1, 2, 3):
        return n
    text = _norm(turn.text)
    if text.startswith("不通过") or text in ("不行", "拒绝", "不同意"):
        return 2
    if text.startswith("通过") or text in ("同意", "可以", "行"):
        return 1
    if text.startswith(("下一个", "跳过")):
        return 3
    return None


def on_review(turn: Turn, st: State) -> Result | None:
    n = _review_choice(turn)
    if n is None:
        return None
    teams = _teams(turn, st)
    if teams is None:
        return with_menu(turn, T.CO_NO_TEAMS), "help.menu"
    sid = int(st.data.get("co_review") or 0)
    if n == 3:
        st.data["co_skip"] = [*(st.data.get("co_skip") or []), sid]
        return review_next(turn, st, teams)
    signup = turn.session.get(Signup, sid)
    if signup is None or signup.status != SignupStatus.PENDING or signup.activity.team_id not in teams:
        return review_next(turn, st, teams, T.CO_REVIEW_GONE + "\n")
    approve = n == 1
    res = decide(turn.session, sid, approve, int(st.data["coord_id"]), turn.now)
    turn.hooks.signup_reviewed(sid, approve)
    note = (T.CO_APPROVED if approve else T.CO_DECLINED).format(name=signup.volunteer.name or "志愿者")
    if res.promoted:
        turn.hooks.waitlist_promoted([p.id for p in res.promoted])
        note += T.CO_PROMOTED.format(n=len(res.promoted))
    return review_next(turn, st, teams, note + "\n")


# -- 通知 ------------------------------------------------------------------------------------------------


def _team_for(turn: Turn, teams: list[Team], name: str) -> Team | None:
    name = _PUNCT.sub("", name)
    if not name:
        return teams[0] if len(teams) == 1 else None
    for pick in (lambda t: t.name == name, lambda t: name in t.name, lambda t: t.name in name):
        found = [t for t in teams if pick(t)]
        if len(found) == 1:
            return found[0]
    grams = _bigrams(name)
    scored = sorted(((sum(1 for g in grams if g in t.name), t.id, t) for t in teams), reverse=True)
    if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return scored[0][2]
    return None


def notice_start(turn: Turn, st: State, team_ids: list[int], rest: str) -> Result:
    teams = list(turn.session.scalars(select(Team).where(Team.id.in_(team_ids)).order_by(Team.id)))
    m = re.search(r"[：:]", rest)
    name, body = (rest[:m.start()], rest[m.end():].strip()) if m else ("", "")
    if not body:
        return [Text(T.CO_NOTICE_HOW.format(team=teams[0].name) + exits(turn))], None
    team = _team_for(turn, teams, name)
    if team is None:
        shown = _PUNCT.sub("", name) or "队名"
        text = T.CO_NOTICE_WHICH.format(name=shown, teams="、".join(t.name for t in teams))
        return [Text(text + exits(turn))], None
    if len(body) > NOTICE_MAX:
        return [Text(T.CO_NOTICE_TOO_LONG.format(n=NOTICE_MAX) + exits(turn))], None
    members = (select(func.count()).select_from(Volunteer)
               .join(TeamMember, TeamMember.volunteer_id == Volunteer.id)
               .where(TeamMember.team_id == team.id, Volunteer.deleted_at.is_(None)))
    total = int(turn.session.scalar(members) or 0)
    opted = int(turn.session.scalar(members.where(Volunteer.notices_opt_out.is_(True))) or 0)
    st.data["co_notice"] = {"team_id": team.id, "text": body, "total": total - opted}
    shown_text = body if len(body) <= 80 else body[:79] + "…"
    prompt = T.CO_NOTICE_PREVIEW.format(team=team.name, total=total,
                                        opted=T.CO_NOTICE_OPTED.format(n=opted) if opted else "", text=shown_text)
    return [yes_no(turn, prompt, T.CO_NOTICE_OPTIONS)], "coordinator.notice"


def on_notice(turn: Turn, st: State) -> Result | None:
    ref = st.data.get("co_notice") or {}
    if is_yes(turn):
        teams = _teams(turn, st)
        if teams is None or int(ref.get("team_id") or 0) not in teams:
            return with_menu(turn, T.CO_NO_TEAMS), "help.menu"
        team = turn.session.get(Team, int(ref["team_id"]))
        turn.hooks.send_team_notice(int(st.data["coord_id"]), int(ref["team_id"]), str(ref["text"]))
        text = say(turn, T.CO_NOTICE_SENT, T.CO_NOTICE_SENT_SHORT, team=team.name if team else "",
                   n=int(ref.get("total") or 0))
        replies: list[Reply] = [Text(text + exits(turn))]
        return replies, None
    if is_no(turn):
        return with_menu(turn, T.CO_NOTICE_NOT_SENT), "help.menu"
    return None


FLOW = Flow(
    name="coordinator",
    steps={"pick": Step(on_pick), "roster": Step(on_roster), "review": Step(on_review),
           "notice": Step(on_notice)},
    early=command,
)
