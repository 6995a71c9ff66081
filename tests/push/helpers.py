"""Builders for push tests: people with the channel identities a case needs, a clock tests can move."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.runtime import Runtime
from data.crypto import mask_phone
from data.models import ChannelIdentity, Team, TeamKind, TeamMember, Volunteer


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def person(s: Session, rt: Runtime, now: datetime, name: str, *, openid: str | None = None,
           in_window: bool = False, phone: str | None = None, opted_out: str | None = None,
           notices_off: bool = False, team: Team | None = None) -> Volunteer:
    """A volunteer; `opted_out` is "wechat" or "sms" to mark that identity unsubscribed."""
    v = Volunteer(name=name, created_at=now, skills=[], categories=[], availability=0, max_load=2,
                  notices_opt_out=notices_off)
    if phone:
        v.phone_enc, v.phone_hash, v.phone_masked = rt.vault.encrypt(phone), rt.vault.lookup_hash(phone), \
            mask_phone(phone)
    s.add(v)
    s.flush()
    if openid:
        s.add(ChannelIdentity(volunteer_id=v.id, channel="wechat", external_id=openid, created_at=now,
                              last_inbound_at=now - timedelta(hours=1) if in_window else now - timedelta(days=9),
                              opted_out_at=now if opted_out == "wechat" else None))
    if phone:
        s.add(ChannelIdentity(volunteer_id=v.id, channel="sms", external_id=rt.vault.lookup_hash(phone),
                              address_enc=rt.vault.encrypt(phone), created_at=now,
                              opted_out_at=now if opted_out == "sms" else None))
    if team is not None:
        s.add(TeamMember(team_id=team.id, volunteer_id=v.id, joined_at=now))
    s.flush()
    return v


def new_team(s: Session, name: str = "测试推送队", webhook: str | None = None) -> Team:
    t = Team(name=name, kind=TeamKind.COMMUNITY, wecom_webhook=webhook)
    s.add(t)
    s.flush()
    return t


def send_notice(push: Any, audience: dict[str, Any], now: datetime, *, title: str = "通知",
                body: str = "内容", team_id: int | None = None) -> int:
    """Create, queue and send a notice through the in-process queue until nothing is left; its id."""
    with push.rt.sessions() as s:
        notice = push.create(s, title=title, body=body, audience=audience, now=now, team_id=team_id)
        assert notice is not None
        push.queue(s, notice, now)
        s.commit()
        nid = int(notice.id)
    push.kick([nid])
    push.ctx.queue.drain()
    return nid
