"""The push service: notices (create, preview, send, progress) and the hooks the dialogs call."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.errors import InvalidInput, NotFound
from data.models import (
    Activity,
    ActivityStatus,
    Coordinator,
    Signup,
    SignupStatus,
    Team,
    TeamCoordinator,
    TeamMember,
    Volunteer,
)
from data.models_push import Delivery, Handoff, Notice, NoticeStatus, ReviewEscalation
from data.review import decide
from data.timeutil import utcnow

from . import texts
from .audience import Preview, preview
from .family import ring_helpers
from .jobs import PushContext, fanout_job_key, job_id, set_context
from .queue import JobSpec

log = logging.getLogger("yinling.push")


@dataclass
class Progress:
    """What the coordinator sees about one notice."""

    notice: Notice
    counts: dict[str, int]
    reasons: list[tuple[str, int]]

    @property
    def done(self) -> int:
        return sum(v for k, v in self.counts.items() if k not in ("queued", "sending", "retry"))

    @property
    def percent(self) -> int:
        total = self.notice.total or sum(self.counts.values())
        return 100 if not total else int(self.done * 100 / total)


class PushService:
    """One per process. Every method that writes takes the caller's session and never commits,
    except `notify` and the hooks, which run after the user's turn and own their transaction."""

    def __init__(self, ctx: PushContext) -> None:
        self.ctx = ctx

    @property
    def rt(self) -> Any:
        return self.ctx.rt

    # -- notices ---------------------------------------------------------------------------------
    def create(self, session: Session, *, title: str, body: str, audience: dict[str, Any], now: datetime,
               kind: str = "notice", team_id: int | None = None, activity_id: int | None = None,
               created_by: int | None = None, key: str | None = None, queue: str = "notices") -> Notice | None:
        """A draft notice; with a `key` that already exists, None (the notice was made before)."""
        title, body = title.strip(), body.strip()
        if not title or not body:
            raise InvalidInput("标题和内容都要填写")
        if len(title) > 64:
            raise InvalidInput("标题请不超过64个字")
        if key is not None and session.scalar(select(Notice.id).where(Notice.key == key)) is not None:
            return None
        notice = Notice(key=key, kind=kind, title=title, body=body, audience=audience, team_id=team_id,
                        activity_id=activity_id, created_by=created_by, status=NoticeStatus.DRAFT, queue=queue,
                        total=0, created_at=now)
        if key is None:
            session.add(notice)
            session.flush()
            return notice
        try:
            with session.begin_nested():
                session.add(notice)
                session.flush()
        except IntegrityError:
            return None
        return notice

    def preview(self, session: Session, audience: dict[str, Any], kind: str = "notice") -> Preview:
        return preview(session, audience, kind)

    def queue(self, session: Session, notice: Notice, now: datetime) -> None:
        """Mark for sending inside the caller's transaction; call `kick` after the commit."""
        if notice.status != NoticeStatus.DRAFT:
            raise InvalidInput("这条通知已经发出了")
        notice.status = NoticeStatus.QUEUED
        notice.queued_at = now
        session.flush()

    def kick(self, notice_ids: list[int]) -> None:
        """Enqueue fan-out jobs (after the commit). If this is lost, the sweeper enqueues them later."""
        specs: list[JobSpec] = []
        with self.rt.sessions() as s:
            for nid in notice_ids:
                q = s.scalar(select(Notice.queue).where(Notice.id == nid)) or "notices"
                jid = job_id(nid, "fanout")
                self.rt.store.set(fanout_job_key(nid), jid, 7 * 86400)
                specs.append(JobSpec("bot.push.jobs.fanout", (nid,), jid, q))
        if specs:
            self.ctx.queue.enqueue(specs)

    def notify(self, *, title: str, body: str, audience: dict[str, Any], kind: str, key: str | None,
               now: datetime | None = None, queue: str = "replies", **extra: Any) -> int | None:
        """Create, queue and kick a system notice in its own transaction; returns its id (None if a repeat)."""
        now = now or utcnow()
        with self.rt.sessions() as s:
            notice = self.create(s, title=title, body=body, audience=audience, now=now, kind=kind, key=key,
                                 queue=queue, **extra)
            if notice is None:
                return None
            self.queue(s, notice, now)
            nid = notice.id
            s.commit()
        self.kick([nid])
        return nid

    def cancel(self, session: Session, notice: Notice) -> None:
        if notice.status in (NoticeStatus.DONE, NoticeStatus.CANCELLED):
            raise InvalidInput("这条通知已经发完了，不能取消")
        notice.status = NoticeStatus.CANCELLED
        session.execute(Delivery.__table__.update().where(
            Delivery.notice_id == notice.id, Delivery.status.in_(["queued", "retry"])).values(
            status="failed", reason="协调员取消了发送"))
        session.flush()

    def progress(self, session: Session, notice_id: int) -> Progress:
        notice = session.get(Notice, notice_id)
        if notice is None:
            raise NotFound(f"notice {notice_id}")
        counts = {str(getattr(k, "value", k)): int(v) for k, v in session.execute(
            select(Delivery.status, func.count()).where(Delivery.notice_id == notice_id).group_by(Delivery.status))}
        reasons = [(r or "", int(n)) for r, n in session.execute(
            select(Delivery.reason, func.count()).where(
                Delivery.notice_id == notice_id, Delivery.status.in_(["unreachable", "failed", "uncertain"]))
            .group_by(Delivery.reason).order_by(func.count().desc()).limit(10))]
        return Progress(notice, counts, reasons)

    # -- hooks the dialogs call (through pipeline.CollectingHooks, after the commit) -------------
    def waitlist_promoted(self, signup_ids: list[int]) -> None:
        now = utcnow()
        review: list[int] = []
        for sid in signup_ids:
            with self.rt.sessions() as s:
                signup = s.get(Signup, sid)
                if signup is None:
                    continue
                confirmed = signup.status == SignupStatus.CONFIRMED
                title, body = texts.promoted(signup.activity, confirmed)
                vid, aid = signup.volunteer_id, signup.activity_id
                if signup.status == SignupStatus.PENDING:
                    review.append(sid)
            self.notify(title=title, body=body, audience={"kind": "volunteers", "ids": [vid]}, kind="promoted",
                        key=f"promoted:{sid}:{now:%Y%m%d%H%M}", now=now, activity_id=aid)
        for sid in review:
            self.signup_needs_review(sid)

    def signup_needs_review(self, signup_id: int) -> None:
        now = utcnow()
        with self.rt.sessions() as s:
            signup = s.get(Signup, signup_id)
            if signup is None or signup.status != SignupStatus.PENDING:
                return
            act = signup.activity
            coords = list(s.scalars(select(TeamCoordinator.coordinator_id).where(TeamCoordinator.team_id == act.team_id)))
            waiting = int(s.scalar(select(func.count()).select_from(Signup).where(
                Signup.activity_id == act.id, Signup.status == SignupStatus.PENDING)) or 0)
            name = signup.volunteer.name or "一位志愿者"
            title, body = texts.review_request(act, name, waiting)
            esc = s.get(ReviewEscalation, signup_id) or ReviewEscalation(signup_id=signup_id)
            if esc.coordinators_at is not None:
                return
            esc.coordinators_at = now
            s.add(esc)
            notice = self.create(s, title=title, body=body, audience={"kind": "coordinators", "ids": coords},
                                 now=now, kind="review", key=f"review:{signup_id}", queue="replies",
                                 team_id=act.team_id, activity_id=act.id)
            if notice is None:
                s.commit()
                return
            self.queue(s, notice, now)
            nid = notice.id
            s.commit()
        self.kick([nid])

    def handoff_requested(self, volunteer_id: int, coordinator_id: int | None, transcript: list[str],
                          handoff_id: int | None = None) -> None:
        """Tell a person about a hand-off, by the route the dialog chose and promised (data.handoffs): the
        coordinator's WeChat or mobile, or the team's WeCom robot. `waiting` sends nothing: the request is
        on the coordinators' admin page. Without a hand-off row (older callers), the coordinator given, else
        the person's teams' coordinators, else the operators."""
        now = utcnow()
        team_id: int | None = None
        with self.rt.sessions() as s:
            v = s.get(Volunteer, volunteer_id)
            if v is None:
                return
            ring = ring_helpers(s, volunteer_id)  # 亲情助手: helpers the person chose to have told
        for helper_id, words in ring:
            self.notify(title="家人找人工", body=words, audience={"kind": "volunteers", "ids": [helper_id]},
                        kind="family", key=f"family-ring:{handoff_id or volunteer_id}:{helper_id}:{now:%Y%m%d%H%M}",
                        now=now)
        with self.rt.sessions() as s:
            v = s.get(Volunteer, volunteer_id)
            if v is None:
                return
            row = s.get(Handoff, handoff_id) if handoff_id is not None else None
            if row is not None and row.route == "waiting":
                log.info("hand-off %s from volunteer %s: on the waiting list only", row.id, volunteer_id)
                return
            if row is not None and row.route == "wecom":
                ids, team_id = [], row.team_id
            elif coordinator_id is not None:
                ids = [coordinator_id]
            else:
                teams = select(TeamMember.team_id).where(TeamMember.volunteer_id == volunteer_id)
                ids = sorted(set(s.scalars(select(TeamCoordinator.coordinator_id).where(
                    TeamCoordinator.team_id.in_(teams)))))
                if not ids:
                    ids = list(s.scalars(select(Coordinator.id).where(Coordinator.is_operator.is_(True))))
            masked = v.phone_masked or (row.callback_masked if row is not None else None) or "未留电话"
            title, body = texts.handoff(v.name or "（未留姓名）", masked, transcript)
            if row is not None:
                body += texts.HANDOFF_SEE_PAGE
            again = bool(row is not None and row.callback_masked)
        if not ids and team_id is None:
            log.warning("hand-off from volunteer %s: no coordinator to tell", volunteer_id)
            return
        key = f"handoff:{handoff_id}" if handoff_id is not None else f"handoff:{volunteer_id}:{now:%Y%m%d%H%M}"
        if again:
            key += ":callback"
        self.notify(title=title, body=body, audience={"kind": "coordinators", "ids": ids}, kind="handoff",
                    key=key, now=now, team_id=team_id)

    def send_bind_code(self, volunteer_id: int, phone: str, code: str) -> None:
        title, body = texts.bind_code(code)
        audience = {"kind": "phone", "volunteer_id": volunteer_id, "phone_enc": self.rt.vault.encrypt(phone)}
        self.notify(title=title, body=body, audience=audience, kind="bind_code",
                    key=f"bind:{volunteer_id}:{self.rt.vault.lookup_hash(phone)[:12]}:{code}")

    def tell_family(self, volunteer_ids: list[int], title: str, body: str, key: str) -> None:
        """亲情助手: a parent asked to agree, a helper told of the answer, a parent told of a sign-up made for
        them, helpers given a copy (dialogs.flows.family). The dialog wrote the words; sent now."""
        ids = sorted({int(i) for i in volunteer_ids})
        if ids:
            self.notify(title=title, body=body, audience={"kind": "volunteers", "ids": ids}, kind="family",
                        key=f"family:{key}")

    def offer_family_qr(self, volunteer_id: int, scene: str) -> None:
        """亲情助手: a temporary WeChat QR code for the family code (a helper beside the parent scans it);
        nothing when WeChat is not configured or refuses (the code itself still works)."""
        wechat = self.ctx.senders.get("wechat")
        api = getattr(wechat, "api", None)
        if api is None:
            return
        try:
            url = api.qr_scene_url(scene, 86400)
        except Exception:  # noqa: BLE001 - the code in the reply works without the picture
            log.warning("family QR code for volunteer %s not made", volunteer_id, exc_info=True)
            return
        title, body = texts.family_qr(url)
        self.notify(title=title, body=body, audience={"kind": "volunteers", "ids": [volunteer_id]}, kind="family",
                    key=f"family-qr:{volunteer_id}:{scene}")

    def signup_reviewed(self, signup_id: int, approved: bool) -> None:
        """A coordinator decided in the chat (data.review.decide): tell the volunteer."""
        now = utcnow()
        with self.rt.sessions() as s:
            signup = s.get(Signup, signup_id)
            if signup is None:
                return
            title, body = texts.review_result(signup.activity, approved)
            vid, aid = signup.volunteer_id, signup.activity_id
        self.notify(title=title, body=body, audience={"kind": "volunteers", "ids": [vid]}, kind="review_result",
                    key=f"review-result:{signup_id}", now=now, activity_id=aid)

    def send_team_notice(self, coordinator_id: int, team_id: int, text: str) -> None:
        """A coordinator confirmed `通知 <队>：<内容>` in the chat: a notice to the whole team, sent now."""
        now = utcnow()
        with self.rt.sessions() as s:
            team = s.get(Team, team_id)
            if team is None:
                log.warning("team notice from coordinator %s: no team %s", coordinator_id, team_id)
                return
            title = f"{team.name}通知"[:64]
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        self.notify(title=title, body=text, audience={"kind": "team", "team_id": team_id}, kind="notice",
                    key=f"chat-notice:{coordinator_id}:{team_id}:{now:%Y%m%d%H%M}:{digest}", now=now,
                    queue="notices", team_id=team_id, created_by=coordinator_id)

    # -- coordinator actions ---------------------------------------------------------------------
    def review(self, session: Session, signup_id: int, approve: bool, coordinator_id: int | None,
               now: datetime, outcome: str | None = None) -> list[int]:
        """Approve or decline a pending sign-up; tells the volunteer; returns notices to kick after commit."""
        res = decide(session, signup_id, approve, coordinator_id, now, outcome)
        act = res.signup.activity
        kick: list[int] = []
        title, body = texts.review_result(act, approve)
        n = self.create(session, title=title, body=body,
                        audience={"kind": "volunteers", "ids": [res.signup.volunteer_id]},
                        now=now, kind="review_result", key=f"review-result:{signup_id}", queue="replies",
                        activity_id=act.id)
        if n is not None:
            self.queue(session, n, now)
            kick.append(n.id)
        for p in res.promoted:
            t2, b2 = texts.promoted(act, p.status == SignupStatus.CONFIRMED)
            pn = self.create(session, title=t2, body=b2, audience={"kind": "volunteers", "ids": [p.volunteer_id]},
                             now=now, kind="promoted", key=f"promoted:{p.id}:{now:%Y%m%d%H%M}",
                             queue="replies", activity_id=act.id)
            if pn is not None:
                self.queue(session, pn, now)
                kick.append(pn.id)
        return kick

    def cancel_activity(self, session: Session, act: Activity, reason: str, coordinator_id: int | None,
                        now: datetime) -> Notice | None:
        """Cancel an activity and queue a notice to everyone signed up (caller commits, then kicks)."""
        if act.status == ActivityStatus.CANCELLED:
            raise InvalidInput("活动已经取消了")
        act.status = ActivityStatus.CANCELLED
        act.updated_at = now
        title, body = texts.cancelled(act, reason)
        notice = self.create(session, title=title, body=body,
                             audience={"kind": "activity", "activity_id": act.id,
                                       "statuses": ["pending", "confirmed", "waitlisted"]},
                             now=now, kind="cancelled", key=f"cancelled:{act.id}", team_id=act.team_id,
                             activity_id=act.id, created_by=coordinator_id, queue="notices")
        if notice is not None:
            self.queue(session, notice, now)
        return notice


_SERVICES: dict[int, PushService] = {}


def get_push(rt: Any, ctx: PushContext | None = None) -> PushService:
    """The process's push service for this runtime (built once; installs the job context)."""
    svc = _SERVICES.get(id(rt))
    if svc is None or ctx is not None:
        ctx = ctx or PushContext.build(rt)
        set_context(ctx)
        svc = PushService(ctx)
        _SERVICES[id(rt)] = svc
    return svc
