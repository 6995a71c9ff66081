"""A small driver that talks to `dialogs.respond` the way the pipeline does, without Flask or channels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data.crypto import PhoneVault
from data.kv import Store
from data.models import ChannelIdentity, MessageLog, Place, Volunteer
from data.timeutil import to_local
from dialogs import Choices, RecordedHooks, Reply, Settings, Turn, respond, to_plain
from dialogs import state as states

RecordingHooks = RecordedHooks  # what the dialogs hand to the push layer, recorded and never sent


def P(intent: str, text: str = "", **ents: Any) -> dict[str, Any]:  # noqa: N802 - reads like a literal
    """A hand-built parse in Rasa's shape: P("choose", number=2), P("search_activities", category="助老"),
    time=(from_local, to_local), place="阳光社区" or ("附近", "relative", "nearby"), party=2, phone="139..."."""
    entities: list[dict[str, Any]] = []
    for name, value in ents.items():
        if name == "time":
            start, end = value
            entities.append({"entity": "time", "value": {"from": start.isoformat(), "to": end.isoformat(),
                                                         "grain": "day"}})
        elif name == "party":
            entities.append({"entity": "number", "value": value, "role": "party_size"})
        elif name == "place" and isinstance(value, tuple):
            entities.append({"entity": "place", "value": value[2], "role": value[1]})
        elif name == "categories":
            entities += [{"entity": "category", "value": c} for c in value]
        else:
            entities.append({"entity": name, "value": value})
    return {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities,
            "intent_ranking": []}


@dataclass
class Chat:
    """One volunteer talking: `send(text)` runs a turn and returns the rendered reply."""

    session: Session
    store: Store
    volunteer: Volunteer
    now: datetime
    parser: Callable[[str, datetime], dict[str, Any]] | None = None
    channel: str = "wechat"
    vault: PhoneVault | None = None
    new_user: bool = False
    hooks: RecordingHooks = field(default_factory=RecordingHooks)
    settings: Settings = field(default_factory=Settings)
    replies: list[Reply] = field(default_factory=list)

    def turn(self, text: str = "", parse: dict[str, Any] | None = None, **kw: Any) -> Turn:
        if parse is None:
            if self.parser is None:
                raise AssertionError("no parser: pass parse=P(...)")
            parse = self.parser(text, to_local(self.now).replace(tzinfo=None))
        return Turn(parse=parse, text=text, volunteer=self.volunteer, session=self.session, store=self.store,
                    now=self.now, channel=self.channel, hooks=self.hooks, settings=self.settings,
                    vault=self.vault, **{"new_user": self.new_user, **kw})

    def send(self, text: str = "", parse: dict[str, Any] | None = None, **kw: Any) -> str:
        t = self.turn(text, parse, **kw)
        self.session.add(MessageLog(volunteer_id=self.volunteer.id, channel=self.channel, direction="in",
                                    text=text or f"[{t.kind}]", created_at=self.now))
        self.replies = respond(t)
        self.new_user = False
        out = to_plain(self.replies)
        self.session.add(MessageLog(volunteer_id=self.volunteer.id, channel=self.channel, direction="out",
                                    text=out, created_at=self.now))
        self.session.flush()
        self.now += timedelta(seconds=20)
        return out

    @property
    def state(self) -> states.State:
        return states.load(self.store, self.volunteer.id)

    @property
    def at(self) -> str | None:
        return self.state.at

    @property
    def options(self) -> tuple[str, ...]:
        return next((r.options for r in reversed(self.replies) if isinstance(r, Choices)), ())


def demo_volunteer(session: Session, openid: str = "demo-zhangguilan") -> Volunteer:
    ident = session.scalars(select(ChannelIdentity).where(ChannelIdentity.external_id == openid)).one()
    return ident.volunteer


def new_volunteer(session: Session, now: datetime, name: str | None = None, home: str | None = None) -> Volunteer:
    v = Volunteer(name=name, created_at=now, skills=[], categories=[], availability=0, max_load=2)
    if home:
        v.home_place_id = session.scalars(select(Place.id).where(Place.name == home)).first()
    session.add(v)
    session.flush()
    return v


_PARSER: list[Any] = []


def real_parser() -> Any | None:
    """The project's NLU (it reads the demo places itself); loaded once per test session."""
    if not _PARSER:
        from nlu import Parser

        _PARSER.append(Parser.load())
    return _PARSER[0]


@pytest.fixture
def parser() -> Any:
    p = real_parser()
    if p is None:
        pytest.skip("nlu.Parser not available yet")
    return p


@pytest.fixture
def now(seed_now: datetime) -> datetime:
    """Conversations start at the session instant, the moment the demo data was loaded at (tests/clock.py)."""
    return seed_now


@pytest.fixture
def zhang(session: Session, store: Store, now: datetime, vault: PhoneVault) -> Chat:
    """张桂兰, the demo volunteer: lives in 阳光社区, has consented, has service records."""
    return Chat(session, store, demo_volunteer(session), now, vault=vault)


@pytest.fixture
def newbie(session: Session, store: Store, now: datetime, vault: PhoneVault) -> Chat:
    """Someone who has just followed: no consent yet, no profile."""
    return Chat(session, store, new_volunteer(session, now), now, vault=vault, new_user=True)
