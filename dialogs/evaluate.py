"""Conversation tests: whole conversations as older people type them, judged by what ends up in the database.

A file (YAML) holds a fixed local `now` and a list of conversations::

    now: 2026-12-01 10:00          # local (Asia/Shanghai); the demo seed is loaded relative to it
    conversations:
      - name: 周末带老伴报名
        persona: 王阿姨
        channel: wechat             # wechat | sms
        who: 张桂兰                 # a demo volunteer by name, `new` (first contact, no consent yet) or
                                    # `returning` (agreed before; `home: 宝日图嘎查` sets where they live)
        has: [{title: 书法课, party: 1}]   # optional sign-ups made before the conversation
        say: [这周末有啥, 扫雪那个, 报名 带老伴, 1]
        expect:
          booked: {大扫除: 2}       # live sign-ups made or changed here: title piece → party (exactly these)
          cancelled: [书法课]       # sign-ups of `has` that must be gone
          kept: [书法课]            # sign-ups of `has` that must still be live (with their party, if given)
          opted_out: true           # notices switched off
          read_aloud: true          # 以后都念给我听 saved (volunteers.read_aloud)
          spoken: [2]               # messages (1-based) whose reply the channel also reads aloud
          not_spoken: [3]           # ... and those whose reply it does not
          handoff: true             # a hand-off was recorded; or the row it left, by pieces of names:
                                    # {team: 阳光社区, activity: 扫雪, route: waiting, callback: true}
          consent: true             # the privacy consent given (false: refused, none: never asked)
          home: 阳光社区            # the home place saved
          said: [管饭]              # pieces some reply of the conversation must contain
          last_said: [报好了]       # pieces the last reply must contain
          never_said: [好的。]      # pieces no reply may contain
          at: search.detail         # the screen the conversation ends on (null: idle)
          understood: true          # every message understood

A conversation between people (a parent and the family helper in their own WeChat) names them in `people`
and each message's speaker; `{code}` in a message stands for the last family code anybody was given
(`{code:spaced}` as 123 456, `{code:wide}` in full-width digits), and
`expect` holds one block per person, with `told` (pieces of what the push layer was asked to send them),
`made_by` (the helper who made each booked sign-up) and `helpers` (their active family helpers)::

      - name: 儿子帮妈报名
        people: {妈: 张桂兰, 儿子: returning}   # as `who`; or {who: returning, channel: sms, home: ...}
        say: [{妈: 叫我儿子帮我弄}, {儿子: "家人{code}"}, {妈: "1"}, {儿子: 帮我妈看看明天有啥活}]
        expect:
          妈: {booked: {棉衣: 1}, made_by: 儿子, told: [帮您报了名], helpers: [儿子]}
          儿子: {booked: {}, told: [同意了]}

The runner reports conversations that end right, messages not understood per 100 (a turn that ended in
"对不起，我没听明白" or a bare acknowledgement) and the median number of messages from the first question to
the sign-up. `python -m dialogs evaluate FILE.yml [--now "2026-12-05 09:00"] [--db URL] [-v]`.
"""

from __future__ import annotations

import re
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data import services
from data.crypto import PhoneVault
from data.db import make_engine, rolled_back
from data.kv import MemoryStore
from data.migrate import upgrade
from data.models import (
    LIVE_SIGNUP,
    Activity,
    ChannelIdentity,
    Consent,
    MessageLog,
    Place,
    Signup,
    Volunteer,
)
from data.models_family import FamilyLink, LinkState
from data.models_push import Handoff
from data.seed import is_empty, load_demo
from data.timeutil import to_local, to_utc

from .engine import RecordedHooks, Settings, Turn, respond
from .replies import Choices, Reply, to_plain

EVAL_SECRET = "dialogs-evaluate-secret-key-0001"
Parse = Callable[[str, datetime], dict[str, Any]]


@dataclass
class Exchange:
    said: str
    reply: str
    understood: bool
    at: str | None
    spoken: str | None = None  # what the channel also sends as voice (念给我听), if anything


@dataclass
class Result:
    name: str
    ok: bool
    problems: list[str]
    exchanges: list[Exchange]
    to_signup: int | None = None  # messages from the first question to the sign-up

    @property
    def missed(self) -> int:
        return sum(1 for e in self.exchanges if not e.understood)


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def right(self) -> int:
        return sum(1 for r in self.results if r.ok)

    @property
    def right_pct(self) -> float:
        return 100.0 * self.right / self.total if self.total else 0.0

    @property
    def messages(self) -> int:
        return sum(len(r.exchanges) for r in self.results)

    @property
    def missed_per_100(self) -> float:
        n = self.messages
        return 100.0 * sum(r.missed for r in self.results) / n if n else 0.0

    @property
    def median_to_signup(self) -> float | None:
        counts = [r.to_signup for r in self.results if r.to_signup is not None]
        return float(statistics.median(counts)) if counts else None

    def summary(self) -> str:
        med = self.median_to_signup
        return (f"conversations ending right: {self.right}/{self.total} ({self.right_pct:.1f}%)\n"
                f"messages not understood: {self.missed_per_100:.1f} per 100 ({self.messages} messages)\n"
                f"median messages from first question to signed up: "
                f"{'-' if med is None else f'{med:g}'} ({sum(1 for r in self.results if r.to_signup)} sign-ups)")


# -- the database ---------------------------------------------------------------------------------
def parse_now(value: Any) -> datetime:
    """A local time (`2026-12-01 10:00`, a datetime) → naive UTC."""
    dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return to_utc(dt)


def build_database(url: str, now: datetime, vault: PhoneVault) -> Engine:
    """Migrate an empty database and load the demo region relative to `now` (naive UTC)."""
    eng = make_engine(url)
    upgrade(eng)
    with Session(eng) as s, s.begin():
        if not is_empty(s):
            eng.dispose()
            raise ValueError("the database already holds activities: give an empty one")
        load_demo(s, now, vault)
    return eng


def default_parser() -> Parse:
    from nlu import Parser

    return Parser.load().parse  # type: ignore[no-any-return]  (it reads the demo places itself)


# -- one conversation -----------------------------------------------------------------------------
def _activity(session: Session, piece: str) -> Activity | None:
    return session.scalars(select(Activity).where(Activity.title.contains(piece)).order_by(Activity.id)).first()


def _volunteer(session: Session, conv: dict[str, Any], channel: str, now: datetime, vault: PhoneVault,
               n: int) -> tuple[Volunteer, bool]:
    who = str(conv.get("who") or "new")
    if who in ("new", "returning"):
        # `new`: first contact. `returning`: someone who agreed earlier, with `home` when given.
        v = Volunteer(created_at=now, skills=[], categories=[], availability=0, max_load=2)
        if conv.get("home"):
            v.home_place_id = session.scalars(select(Place.id).where(Place.name == conv["home"])).first()
        if channel == "sms":
            phone = f"1990000{n:04d}"
            v.phone_hash, v.phone_enc = vault.lookup_hash(phone), vault.encrypt(phone)
            v.phone_masked = phone[:3] + "****" + phone[-4:]
        session.add(v)
        session.flush()
        session.add(ChannelIdentity(volunteer_id=v.id, channel=channel,
                                    external_id=v.phone_hash if channel == "sms" else f"eval-{n}", created_at=now))
        session.flush()
        if who == "returning":
            session.add(Consent(volunteer_id=v.id, kind="privacy", granted=True, channel=channel,
                                at=now - timedelta(days=3)))
            session.flush()
            return v, False
        return v, True
    v = session.scalars(select(Volunteer).where(Volunteer.name == who).order_by(Volunteer.id)).first()
    if v is None:
        raise ValueError(f"no demo volunteer named {who}")
    return v, False


def _live(session: Session, volunteer_id: int) -> dict[int, Signup]:
    rows = session.scalars(select(Signup).where(Signup.volunteer_id == volunteer_id,
                                                Signup.status.in_(LIVE_SIGNUP)))
    return {s.activity_id: s for s in rows}


def run_conversation(engine: Engine, conv: dict[str, Any], now: datetime, parse: Parse, vault: PhoneVault,
                     n: int = 0, settings: Settings | None = None) -> Result:
    name = str(conv.get("name") or f"#{n}")
    channel = str(conv.get("channel") or "wechat")
    settings = settings or Settings()
    exchanges: list[Exchange] = []
    problems: list[str] = []
    with rolled_back(engine) as session:
        store = MemoryStore()
        hooks = RecordedHooks()
        volunteer, new_user = _volunteer(session, conv, channel, now, vault, n)
        clock = now
        for h in conv.get("has") or []:
            act = _activity(session, str(h["title"]))
            if act is None:
                raise ValueError(f"{name}: no activity like {h['title']}")
            old = _live(session, volunteer.id).get(act.id)
            if old is None:
                services.sign_up(session, volunteer_id=volunteer.id, activity_id=act.id, now=clock - timedelta(
                    hours=1), party_size=int(h.get("party") or 1), channel=channel, allow_overlap=True)
        before = {aid: (s.id, s.party_size, s.status) for aid, s in _live(session, volunteer.id).items()}
        first_question: int | None = None
        signed_at: int | None = None
        expect = conv.get("expect") or {}
        for i, text in enumerate(conv.get("say") or [], 1):
            text = str(text)
            local = to_local(clock).replace(tzinfo=None)
            kind, loc = "text", None
            if text.startswith("/位置 "):
                kind = "location"
                lat, lon = text.split()[1:3]
                loc = (float(lat), float(lon))
            p = parse(text, local) if kind == "text" else {"intent": {"name": "nlu_fallback"}, "entities": []}
            turn = Turn(parse=p, text=text if kind == "text" else "", volunteer=volunteer, session=session,
                        store=store, now=clock, channel=channel, hooks=hooks, settings=settings,
                        kind=kind, location=loc, new_user=new_user and i == 1, vault=vault)
            session.add(MessageLog(volunteer_id=volunteer.id, channel=channel, direction="in", text=text,
                                   created_at=clock))
            replies: list[Reply] = respond(turn)
            out = to_plain(replies)
            session.add(MessageLog(volunteer_id=volunteer.id, channel=channel, direction="out", text=out,
                                   created_at=clock))
            session.flush()
            from . import state as states

            st = states.load(store, volunteer.id)
            understood = turn.understood and not _bare_ack(replies)
            exchanges.append(Exchange(text, out, understood, st.at,
                                      to_plain(turn.speak) if turn.speak is not None else None))
            if first_question is None and ((p.get("intent") or {}).get("name") == "search_activities" or (
                    st.list_kind == "activity" and any(isinstance(r, Choices) and r.options for r in replies))):
                first_question = i
            if signed_at is None and expect.get("booked"):
                live = _live(session, volunteer.id)
                if any(aid not in before for aid in live):
                    signed_at = i
            clock += timedelta(seconds=30)
        problems += _check(session, volunteer, hooks, before, expect, exchanges)
        to_signup = None
        if signed_at is not None and first_question is not None and signed_at >= first_question:
            to_signup = signed_at - first_question + 1
    return Result(name, not problems, problems, exchanges, to_signup)


_CODE = re.compile(r"家人(\d{6})")


def _with_code(text: str, code: str) -> str:
    """`{code}` as given; `{code:spaced}` as people copy it (123 456); `{code:wide}` in full-width digits."""
    wide = code.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})
    return (text.replace("{code:spaced}", f"{code[:3]} {code[3:]}").replace("{code:wide}", wide)
            .replace("{code}", code))


def run_people(engine: Engine, conv: dict[str, Any], now: datetime, parse: Parse, vault: PhoneVault,
               n: int = 0, settings: Settings | None = None) -> Result:
    """A conversation of several people, each in their own chat, on one database and one store."""
    name = str(conv.get("name") or f"#{n}")
    settings = settings or Settings()
    exchanges: list[Exchange] = []
    problems: list[str] = []
    with rolled_back(engine) as session:
        store = MemoryStore()
        hooks = RecordedHooks()
        people: dict[str, tuple[Volunteer, str]] = {}
        fresh: dict[str, bool] = {}
        for i, (label, spec) in enumerate((conv.get("people") or {}).items(), 1):
            spec = spec if isinstance(spec, dict) else {"who": spec}
            channel = str(spec.get("channel") or "wechat")
            v, new_user = _volunteer(session, spec, channel, now, vault, n * 100 + i)
            people[str(label)], fresh[str(label)] = (v, channel), new_user
        befores = {label: {aid: (s.id, s.party_size, s.status) for aid, s in _live(session, v.id).items()}
                   for label, (v, _) in people.items()}
        mine: dict[str, list[Exchange]] = {label: [] for label in people}
        clock, code = now, ""
        for item in conv.get("say") or []:
            label, text = next(iter(item.items())) if isinstance(item, dict) else str(item).split(":", 1)
            label, text = str(label).strip(), _with_code(str(text).strip(), code)
            if label not in people:
                raise ValueError(f"{name}: nobody called {label}")
            v, channel = people[label]
            p = parse(text, to_local(clock).replace(tzinfo=None))
            turn = Turn(parse=p, text=text, volunteer=v, session=session, store=store, now=clock, channel=channel,
                        hooks=hooks, settings=settings, new_user=fresh[label], vault=vault)
            fresh[label] = False
            seen = len(hooks.calls)
            replies = respond(turn)
            out = to_plain(replies)
            session.add(MessageLog(volunteer_id=v.id, channel=channel, direction="in", text=text, created_at=clock))
            session.add(MessageLog(volunteer_id=v.id, channel=channel, direction="out", text=out, created_at=clock))
            session.flush()
            from . import state as states

            for said in [out] + [str(args[2]) for nm, args in hooks.calls[seen:] if nm == "tell_family"]:
                found = _CODE.search(said)
                code = found.group(1) if found else code
            ex = Exchange(f"{label}: {text}", out, turn.understood and not _bare_ack(replies),
                          states.load(store, v.id).at)
            exchanges.append(ex)
            mine[label].append(ex)
            clock += timedelta(seconds=30)
        ids = {label: v.id for label, (v, _) in people.items()}
        for label, want in (conv.get("expect") or {}).items():
            v = people[str(label)][0]
            want = dict(want or {})
            got = [f"{label}: {p}" for p in _check(session, v, hooks, befores[str(label)], want, mine[str(label)])]
            got += [f"{label}: {p}" for p in _check_family(session, v, hooks, befores[str(label)], want, ids)]
            problems += got
    return Result(name, not problems, problems, exchanges)


def _check_family(session: Session, v: Volunteer, hooks: RecordedHooks, before: dict[int, tuple[int, int, Any]],
                  want: dict[str, Any], ids: dict[str, int]) -> list[str]:
    problems: list[str] = []
    if "told" in want:
        told = "\n".join(str(args[2]) for args in hooks.named("tell_family") if v.id in args[0])
        problems += [f"never told: {piece}" for piece in want["told"] or [] if str(piece) not in told]
    if "made_by" in want:
        helper = ids.get(str(want["made_by"])) if want["made_by"] else None
        for aid, signup in _live(session, v.id).items():
            if aid not in before and signup.made_by_helper_id != helper:
                problems.append(f"sign-up {aid} made by {signup.made_by_helper_id}, expected {want['made_by']}")
    if "helpers" in want:
        have = set(session.scalars(select(FamilyLink.helper_id).where(
            FamilyLink.parent_id == v.id, FamilyLink.state == LinkState.ACTIVE)))
        expected = {ids[str(x)] for x in want["helpers"] or []}
        if have != expected:
            problems.append(f"family helpers {sorted(have)}, expected {sorted(expected)}")
    return problems


def _bare_ack(replies: list[Reply]) -> bool:
    """"好的。" with nothing else said: an acknowledgement that tells nothing."""
    text = to_plain(replies).strip()
    first = text.split("\n", 1)[0].strip()
    return first in ("好的。", "好的", "好的！")


def _check_handoff(session: Session, v: Volunteer, hooks: RecordedHooks, want: Any) -> list[str]:
    """`handoff: true/false`, or the row the last hand-off left: `{team: 阳光社区, activity: 扫雪, route: waiting,
    callback: true}` (team and activity by a piece of the name; callback: a number or a time was noted)."""
    rows = list(session.scalars(select(Handoff).where(Handoff.volunteer_id == v.id).order_by(Handoff.id)))
    if not isinstance(want, dict):
        made = bool(rows) or bool(hooks.named("handoff_requested"))
        return [] if made == bool(want) else ["hand-off " + ("missing" if want else "made by mistake")]
    if not rows:
        return ["hand-off missing"]
    row, problems = rows[-1], []
    if "team" in want:
        name = row.team.name if row.team is not None else None
        if (want["team"] is None) != (name is None) or (name is not None and str(want["team"]) not in name):
            problems.append(f"hand-off to team {name}, expected {want['team']}")
    if "activity" in want:
        title = row.activity.title if row.activity is not None else None
        if (want["activity"] is None) != (title is None) or (title is not None and str(want["activity"]) not in title):
            problems.append(f"hand-off about {title}, expected {want['activity']}")
    if "route" in want and row.route != want["route"]:
        problems.append(f"hand-off route {row.route}, expected {want['route']}")
    if "callback" in want and bool(row.callback_note or row.callback_enc) != bool(want["callback"]):
        problems.append(f"hand-off callback {row.callback_note or row.callback_masked}, expected {want['callback']}")
    return problems


def _check(session: Session, v: Volunteer, hooks: RecordedHooks, before: dict[int, tuple[int, int, Any]],
           expect: dict[str, Any], exchanges: list[Exchange]) -> list[str]:
    problems: list[str] = []
    session.expire_all()
    live = _live(session, v.id)
    titles = {aid: session.get(Activity, aid).title for aid in set(live) | set(before)}  # type: ignore[union-attr]
    changed = {aid: s for aid, s in live.items() if aid not in before or before[aid][1] != s.party_size
               or before[aid][0] != s.id}
    if "booked" in expect:
        want = {str(k): int(v_) for k, v_ in (expect.get("booked") or {}).items()}
        for piece, party in want.items():
            hit = [s for aid, s in changed.items() if piece in titles[aid]]
            if not hit:
                problems.append(f"not booked: {piece}")
            elif hit[0].party_size != party:
                problems.append(f"{piece}: party {hit[0].party_size}, expected {party}")
        for aid in changed:
            if not any(piece in titles[aid] for piece in want):
                problems.append(f"booked by mistake: {titles[aid]} (party {changed[aid].party_size})")
    for piece in expect.get("cancelled") or []:
        if any(piece in titles[aid] for aid in live):
            problems.append(f"still booked: {piece}")
    kept = expect.get("kept") or []
    if isinstance(kept, dict):
        kept_items = list(kept.items())
    else:
        kept_items = [(k, None) for k in kept]
    for piece, party in kept_items:
        hit = [s for aid, s in live.items() if piece in titles[aid]]
        if not hit:
            problems.append(f"lost: {piece}")
        elif party is not None and hit[0].party_size != int(party):
            problems.append(f"{piece}: party {hit[0].party_size}, expected {party}")
    if "read_aloud" in expect and bool(v.read_aloud) != bool(expect["read_aloud"]):
        problems.append(f"read_aloud is {v.read_aloud}")
    for i in expect.get("spoken") or []:  # 1-based numbers of the messages whose reply is also spoken
        if not 1 <= int(i) <= len(exchanges) or not exchanges[int(i) - 1].spoken:
            problems.append(f"reply {i} not read aloud")
    for i in expect.get("not_spoken") or []:
        if 1 <= int(i) <= len(exchanges) and exchanges[int(i) - 1].spoken:
            problems.append(f"reply {i} read aloud")
    if "opted_out" in expect and bool(v.notices_opt_out) != bool(expect["opted_out"]):
        problems.append(f"notices_opt_out is {v.notices_opt_out}")
    if "handoff" in expect:
        problems += _check_handoff(session, v, hooks, expect["handoff"])
    if "consent" in expect:
        row = session.scalars(select(Consent).where(Consent.volunteer_id == v.id, Consent.kind == "privacy")
                              .order_by(Consent.at.desc(), Consent.id.desc())).first()
        got = None if row is None else bool(row.granted)
        if got != expect["consent"]:
            problems.append(f"privacy consent {got}, expected {expect['consent']}")
    if expect.get("home"):
        place = session.get(Place, v.home_place_id) if v.home_place_id else None
        if place is None or place.name != expect["home"]:
            problems.append(f"home {place.name if place else None}, expected {expect['home']}")
    if "availability" in expect and bool(v.availability) != bool(expect["availability"]):
        problems.append(f"availability {v.availability}")
    every = "\n".join(e.reply for e in exchanges)
    for piece in expect.get("said") or []:
        if str(piece) not in every:
            problems.append(f"never said: {piece}")
    last = exchanges[-1].reply if exchanges else ""
    for piece in expect.get("last_said") or []:
        if str(piece) not in last:
            problems.append(f"last reply lacks: {piece}")
    for piece in expect.get("never_said") or []:
        if str(piece) in every:
            problems.append(f"said: {piece}")
    if "at" in expect and (exchanges[-1].at if exchanges else None) != expect["at"]:
        problems.append(f"ends at {exchanges[-1].at if exchanges else None}, expected {expect['at']}")
    if expect.get("understood") and any(not e.understood for e in exchanges):
        problems.append("a message was not understood")
    return problems


# -- a file ---------------------------------------------------------------------------------------
def load_file(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if isinstance(doc, list):
        doc = {"conversations": doc}
    return dict(doc)


def evaluate(doc: dict[str, Any], engine: Engine | None = None, now: Any = None, parse: Parse | None = None,
             vault: PhoneVault | None = None, url: str | None = None) -> Report:
    """Run every conversation of a loaded file. Builds a database (temporary SQLite, or `url`) when no
    engine is given; the engine given must hold the demo seed loaded at the same `now`."""
    vault = vault or PhoneVault(EVAL_SECRET)
    when = parse_now(now or doc.get("now") or "2026-12-01 10:00")
    parse = parse or default_parser()
    tmp = None
    if engine is None:
        if url is None:
            tmp = tempfile.TemporaryDirectory(prefix="yinling-eval-")
            url = f"sqlite:///{tmp.name}/eval.db"
        engine = build_database(url, when, vault)
    report = Report()
    try:
        for n, conv in enumerate(doc.get("conversations") or [], 1):
            run = run_people if conv.get("people") else run_conversation
            report.results.append(run(engine, conv, when + timedelta(minutes=5), parse, vault, n))
    finally:
        if tmp is not None:
            engine.dispose()
            tmp.cleanup()
    return report


def render(result: Result) -> str:
    lines = [f"--- {result.name}: {'OK' if result.ok else 'WRONG'} " + "; ".join(result.problems)]
    for e in result.exchanges:
        mark = "" if e.understood else "  [NOT UNDERSTOOD]"
        lines.append(f"> {e.said}{mark}")
        lines += ["  " + x for x in e.reply.splitlines()]
    return "\n".join(lines)
