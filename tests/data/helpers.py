"""Small builders for data tests."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import Activity, ActivityStatus, Place, Team, Volunteer


def make_volunteer(session: Session, now: datetime, name: str = "测试") -> Volunteer:
    v = Volunteer(name=name, created_at=now, skills=[], categories=[], availability=0, max_load=2)
    session.add(v)
    session.flush()
    return v


def make_activity(session: Session, now: datetime, *, capacity: int = 2, starts_in_h: float = 48,
                  hours: float = 2, needs_review: bool = False, title: str = "测试活动",
                  place: str = "阳光社区") -> Activity:
    team = session.scalars(select(Team)).first()
    assert team is not None
    place_obj = session.scalars(select(Place).where(Place.name == place)).one()
    start = now + timedelta(hours=starts_in_h)
    act = Activity(title=title, category="助老", team_id=team.id, place_id=place_obj.id, address="服务站",
                   starts_at=start, ends_at=start + timedelta(hours=hours), capacity=capacity,
                   physical_load=1, status=ActivityStatus.PUBLISHED, needs_review=needs_review,
                   created_at=now, updated_at=now)
    session.add(act)
    session.flush()
    return act
