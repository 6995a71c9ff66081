"""My activities turns pages with 更多, and a number on the second page means that page's line."""

from __future__ import annotations

from sqlalchemy import select

from data import services
from data.models import Activity, ActivityStatus

from .conftest import Chat, P


def _sign_up_many(chat: Chat, n: int) -> list[Activity]:
    acts = list(chat.session.scalars(select(Activity).where(
        Activity.status == ActivityStatus.PUBLISHED, Activity.starts_at > chat.now).order_by(Activity.starts_at)))
    mine: list[Activity] = []
    for act in acts:
        if len(mine) == n:
            break
        try:
            services.sign_up(chat.session, volunteer_id=chat.volunteer.id, activity_id=act.id, now=chat.now,
                             allow_overlap=True)
        except Exception:  # noqa: BLE001 - full, needs a skill, already signed up: take the next one
            continue
        mine.append(act)
    chat.session.flush()
    assert len(mine) == n
    return mine


def test_more_pages_through_my_activities(zhang: Chat) -> None:
    total = len(services.upcoming_signups(zhang.session, zhang.volunteer.id, zhang.now))
    _sign_up_many(zhang, 6 - total)
    ups = services.upcoming_signups(zhang.session, zhang.volunteer.id, zhang.now)
    assert len(ups) == 6
    out = zhang.send("我的活动", P("my_signups"))
    assert "共6个" in out and "更多" in out and zhang.at == "mine.list"
    assert len(zhang.options) == 4
    out = zhang.send("更多", P("more"))
    assert len(zhang.options) == 2 and "“更多”" not in out
    out = zhang.send("第二个", P("choose", number=2))
    assert ups[5].activity.title in out
    out = zhang.send("我的活动", P("my_signups"))
    zhang.send("更多", P("more"))
    out = zhang.send("更多", P("more"))
    assert "全部" in out and zhang.at == "mine.list"


def test_sms_pages_two_at_a_time(zhang: Chat) -> None:
    zhang.channel = "sms"
    total = len(services.upcoming_signups(zhang.session, zhang.volunteer.id, zhang.now))
    _sign_up_many(zhang, 3 - total)
    zhang.send("我的活动", P("my_signups"))
    assert len(zhang.options) == 2
    zhang.send("更多", P("more"))
    assert len(zhang.options) == 1
