"""N simultaneous sign-ups for the last place give exactly one confirmed (real threads, real databases)."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data import services as svc
from data.db import make_engine, make_sessionmaker
from data.errors import YinlingError
from data.migrate import upgrade
from data.models import Signup, SignupStatus, Team, TeamKind
from data.seed import load_places
from data.timeutil import utcnow

from ..conftest import new_database_url
from .helpers import make_activity, make_volunteer

N = 12


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_last_place_goes_to_exactly_one(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = new_database_url(kind, tmp_path, request)
    engine = make_engine(url, pool_size=N + 2) if kind == "postgres" else make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now: datetime = utcnow()
    with sessions.begin() as s:
        load_places(s)
        s.add(Team(name="测试队", kind=TeamKind.COMMUNITY))
        s.flush()
        assert s.scalar(select(Team.id))
        act = make_activity(s, now, capacity=1)
        volunteer_ids = [make_volunteer(s, now, f"v{i}").id for i in range(N)]
        activity_id = act.id

    barrier = threading.Barrier(N)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(vid: int) -> None:
        barrier.wait()
        try:
            with sessions.begin() as s:
                r = svc.sign_up(s, volunteer_id=vid, activity_id=activity_id, now=now)
                status = r.signup.status.value
        except YinlingError as exc:
            status = f"error:{exc.code}"
        with lock:
            outcomes.append(status)

    threads = [threading.Thread(target=worker, args=(vid,)) for vid in volunteer_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == N
    assert outcomes.count("confirmed") == 1
    assert outcomes.count("waitlisted") == N - 1
    with Session(engine) as s:
        held = s.scalar(select(func.count()).select_from(Signup).where(
            Signup.activity_id == activity_id, Signup.status == SignupStatus.CONFIRMED))
        positions = sorted(svc.waitlist_position(s, x) or 0 for x in s.scalars(
            select(Signup).where(Signup.status == SignupStatus.WAITLISTED)))
    assert held == 1
    assert positions == list(range(1, N))
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_same_volunteer_racing_twice_gets_one_signup(kind: str, tmp_path: Path,
                                                     request: pytest.FixtureRequest) -> None:
    url = new_database_url(kind, tmp_path, request)
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    with sessions.begin() as s:
        load_places(s)
        s.add(Team(name="测试队", kind=TeamKind.COMMUNITY))
        s.flush()
        activity_id = make_activity(s, now, capacity=5).id
        vid = make_volunteer(s, now).id
    barrier = threading.Barrier(4)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        try:
            with sessions.begin() as s:
                svc.sign_up(s, volunteer_id=vid, activity_id=activity_id, now=now)
            results.append("ok")
        except YinlingError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["already_signed_up"] * 3 + ["ok"]
    engine.dispose()
