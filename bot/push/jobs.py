"""Push job functions (run by RQ workers, or in-process in embedded mode): fan-out, batches, WeCom, sweep.

Exactly-once per person: a delivery row is unique per (notice, person) and a worker claims it with
`UPDATE ... WHERE status IN ('queued', due 'retry')` before sending. A claim that outlives its lease
belonged to a dead worker: the row becomes `uncertain` (possibly delivered, never sent again) and the
rest of its batch is handed to another job.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot import metrics
from bot.channels.base import Outbound
from bot.channels.wecom import post_wecom, webhook_key
from data.crypto import normalize_phone
from data.errors import InvalidInput
from data.models import ChannelIdentity, Coordinator, Team, Volunteer
from data.models_push import Delivery, Notice, NoticeStatus
from data.timeutil import utcnow

from .audience import TRANSACTIONAL, audience_select, coordinator_ids
from .family import add_copies as add_family_copies
from .queue import JobQueue, JobSpec, LocalJobQueue, RQJobQueue
from .senders import (
    DEFAULT_SEND_THREADS,
    Contact,
    RateLimiter,
    SendPool,
    build_senders,
    plan_routes,
    send_route,
)
from .texts import ROUTE_NAMES, forward_text

log = logging.getLogger("yinling.push")

D = Delivery.__table__
N = Notice.__table__
OPEN = ("queued", "sending", "retry")
UNCERTAIN_REASON = "发送时工作进程中断，可能已送达，不再重发"


@dataclass
class PushContext:
    """What push jobs need in a process: runtime, queue, senders, rate limiter and the clock."""

    rt: Any
    queue: JobQueue
    senders: dict[str, Outbound]
    limiter: RateLimiter
    clock: Callable[[], datetime] = utcnow
    extra: dict[str, Any] = field(default_factory=dict)
    pool: SendPool | None = None

    @classmethod
    def build(cls, rt: Any, queue: JobQueue | None = None, senders: dict[str, Outbound] | None = None) -> PushContext:
        cfg = rt.config.push
        if queue is None and rt.config.redis.url:  # RQ keys under the deployment's prefix, like the store's
            queue = RQJobQueue(rt.config.redis.url, cfg.job_timeout_seconds, rt.config.redis.prefix)
        elif queue is None:
            queue = LocalJobQueue(threaded=True)
        limits = {"wechat": cfg.wechat_per_second, "sms": cfg.sms_per_second}
        threads = int(getattr(cfg, "send_threads", DEFAULT_SEND_THREADS) or 1)
        if senders is None:  # each send thread builds its own (own HTTP keep-alive session)
            senders = build_senders(rt)
            pool = SendPool(threads, senders, lambda: build_senders(rt))
        else:
            pool = SendPool(threads, senders)
        return cls(rt, queue, senders, RateLimiter(rt.store, limits), pool=pool)

    def send_pool(self) -> SendPool:
        """The send threads; senders handed in later (tests) are shared by them."""
        if self.pool is None or (self.pool.shared is not self.senders):
            self.pool = SendPool(self.pool.threads if self.pool else DEFAULT_SEND_THREADS, self.senders)
        return self.pool


_CTX: dict[int, PushContext] = {}


def set_context(ctx: PushContext | None) -> None:
    """Install the context jobs in this process use (the worker command and embedded mode call this)."""
    if ctx is None:
        _CTX.pop(os.getpid(), None)
    else:
        _CTX[os.getpid()] = ctx


def context() -> PushContext:
    """This process's context; a bare RQ worker (`rq worker`) builds one from the environment."""
    ctx = _CTX.get(os.getpid())
    if ctx is None:
        from bot.runtime import build_runtime

        ctx = PushContext.build(build_runtime())
        set_context(ctx)
    return ctx


def _fast_commits(conn: Connection, on: bool) -> None:
    """PostgreSQL: don't wait for the WAL flush on each delivery's bookkeeping commit (once per connection).

    A worker crash loses nothing (the server has the commit); only a PostgreSQL crash could lose the last
    few milliseconds of bookkeeping, and the sweep then reports those rows `uncertain`, never sends twice.
    """
    if conn.dialect.name == "postgresql":
        with conn.begin():
            conn.execute(text("SET synchronous_commit TO " + ("OFF" if on else "DEFAULT")))


def _job(func: str, args: tuple[Any, ...], job_id: str, queue: str, delay: float = 0.0) -> JobSpec:
    return JobSpec(f"bot.push.jobs.{func}", args, job_id, queue, delay)


def job_id(notice_id: int, what: str) -> str:
    """Unique across databases and runs (RQ keeps finished jobs a while; a reused id would collide).
    Repeats are harmless anyway: every delivery is claimed before it is sent."""
    return f"yl-n{notice_id}-{what}-{uuid.uuid4().hex[:10]}"


def fanout_job_key(notice_id: int) -> str:
    return f"push:fanoutjob:{notice_id}"


def batch_job_key(notice_id: int, batch: int) -> str:
    return f"push:batchjob:{notice_id}:{batch}"


def lease_key(notice_id: int, batch: int) -> str:
    return f"push:lease:{notice_id}:{batch}"


# -- fan-out ---------------------------------------------------------------------------------------


def fanout(notice_id: int) -> int:
    """Create the notice's delivery rows (idempotently) and enqueue one job per batch; returns batches."""
    ctx = context()
    rt, cfg = ctx.rt, ctx.rt.config.push
    now = ctx.clock()
    with rt.sessions() as s:
        notice = s.get(Notice, notice_id)
        if notice is None or notice.status not in (NoticeStatus.QUEUED, NoticeStatus.SENDING):
            return 0
        queue_name = notice.queue
        _insert_deliveries(s, notice, now, cfg.batch_size)
        add_family_copies(s, notice, now, cfg.batch_size)  # 亲情助手: the recipients' family helpers
        notice.total = int(s.scalar(select(func.count()).select_from(D).where(D.c.notice_id == notice_id)) or 0)
        notice.status = NoticeStatus.SENDING
        team = s.get(Team, notice.team_id) if notice.team_id else None
        wecom = bool(team and team.wecom_webhook and notice.kind in ("notice", "cancelled", "handoff")
                     and not notice.wecom_status)
        if wecom:
            notice.wecom_status = "排队中"
        s.commit()
        batches = list(s.scalars(select(D.c.batch).distinct().where(
            D.c.notice_id == notice_id, D.c.status.in_(["queued", "retry"])).order_by(D.c.batch)))
    specs = [_job("deliver_batch", (notice_id, b), job_id(notice_id, f"b{b}"), queue_name) for b in batches]
    if wecom:
        specs.append(_job("wecom_post", (notice_id,), job_id(notice_id, "wecom"), queue_name))
    for spec in specs:
        if spec.func.endswith("deliver_batch"):
            rt.store.set(batch_job_key(notice_id, spec.args[1]), spec.job_id, 7 * 86400)
    ctx.queue.enqueue(specs)
    if not batches:
        finalize(notice_id)
    log.info("notice %s: %s deliveries in %s batches", notice_id, notice.total, len(batches))
    return len(batches)


def _insert_deliveries(s: Session, notice: Notice, now: datetime, batch_size: int) -> None:
    """The notice's delivery rows, idempotently: volunteers in one INSERT ... SELECT (100,000 rows without a
    round trip through Python), numbered into batches by their place in the audience (volunteer-id order,
    so people who joined since a first run come last); then coordinators. People who turned notices off
    get a `skipped` row (not for transactional kinds)."""
    if notice.audience.get("kind") != "coordinators":
        # Rows already there (a repeated fan-out) are left alone by ON CONFLICT on (notice, volunteer), not by
        # a NOT EXISTS: an anti join against the table being filled can rescan its own new index entries for
        # every row (seen: quadratic, 20 s for 20,000 people when the planner had no statistics yet).
        new = select(audience_select(s, notice.audience).subquery().c.id.label("vid")).distinct().subquery()
        # Position in the whole audience: people who joined since a first run (higher ids) come after the others.
        rank = func.row_number().over(order_by=new.c.vid) - 1
        off = Volunteer.notices_opt_out.is_(True) if notice.kind not in TRANSACTIONAL else false()
        src = select(
            literal(notice.id, D.c.notice_id.type), new.c.vid, cast(rank // batch_size, D.c.batch.type),
            case((off, "skipped"), else_="queued"), case((off, "本人已关闭通知"), else_=null()),
            literal(0, D.c.attempts.type), literal(now, D.c.updated_at.type),
        ).join(Volunteer, Volunteer.id == new.c.vid).where(true())  # SQLite: WHERE before ON CONFLICT
        dialect = s.get_bind().dialect.name
        upsert = pg_insert if dialect == "postgresql" else sqlite_insert
        s.execute(upsert(D).from_select(["notice_id", "volunteer_id", "batch", "status", "reason", "attempts",
                                         "updated_at"], src).on_conflict_do_nothing())
    n = int(s.scalar(select(func.count()).select_from(D).where(D.c.notice_id == notice.id)) or 0)
    have_c = set(s.scalars(select(D.c.coordinator_id).where(D.c.notice_id == notice.id,
                                                             D.c.coordinator_id.isnot(None))))
    rows: list[dict[str, Any]] = []
    for cid in coordinator_ids(notice.audience):
        if cid in have_c:
            continue
        rows.append({"notice_id": notice.id, "volunteer_id": None, "coordinator_id": cid, "batch": n // batch_size,
                     "status": "queued", "reason": None, "attempts": 0, "updated_at": now})
        n += 1
    if rows:
        s.execute(insert(D), rows)


# -- one batch -------------------------------------------------------------------------------------


def _load_contacts(s: Session, rt: Any, vids: list[int], cids: list[int],
                   audience: dict[str, Any], batch_of: tuple[int, int] | None = None) -> dict[tuple[str, int], Contact]:
    """Contacts of `vids` and `cids`. With `batch_of` (notice id, batch), `vids` are that batch's volunteers
    and are selected by a subquery on the batch instead of a 500-item IN list (cheaper to build and send)."""
    vault = rt.vault
    out: dict[tuple[str, int], Contact] = {}
    coords = {c.id: c for c in s.scalars(select(Coordinator).where(Coordinator.id.in_(cids)))} if cids else {}
    linked = [c.volunteer_id for c in coords.values() if c.volunteer_id]

    def of_people(col: Any) -> Any:
        if batch_of is None:
            return col.in_(list(set(vids) | set(linked)))
        in_batch = col.in_(select(D.c.volunteer_id).where(D.c.notice_id == batch_of[0], D.c.batch == batch_of[1],
                                                          D.c.volunteer_id.isnot(None)))
        return or_(in_batch, col.in_(linked)) if linked else in_batch

    vols = {r.id: r for r in s.execute(select(Volunteer.id, Volunteer.phone_enc).where(of_people(Volunteer.id)))}
    idents: dict[int, list[Any]] = {}
    for r in s.execute(select(ChannelIdentity.volunteer_id, ChannelIdentity.channel, ChannelIdentity.external_id,
                              ChannelIdentity.address_enc, ChannelIdentity.last_inbound_at,
                              ChannelIdentity.opted_out_at).where(of_people(ChannelIdentity.volunteer_id))):
        idents.setdefault(r.volunteer_id, []).append(r)

    def lazy(token: str) -> Callable[[], str | None]:
        def get() -> str | None:
            try:
                return str(vault.decrypt(token))
            except InvalidInput:
                return None
        return get

    def contact_of(vid: int) -> Contact:
        c = Contact(has_any=False)
        rows = idents.get(vid, [])
        wechat = sorted((r for r in rows if r.channel == "wechat"),
                        key=lambda r: (r.opted_out_at is None, r.last_inbound_at or datetime.min), reverse=True)
        if wechat:
            c.wechat_openid, c.wechat_last_inbound = wechat[0].external_id, wechat[0].last_inbound_at
            c.wechat_opted_out = wechat[0].opted_out_at is not None
            c.has_any = True
        sms = [r for r in rows if r.channel == "sms"]
        token = next((r.address_enc for r in sms if r.address_enc), None)
        v = vols.get(vid)
        if token is None and v is not None and v.phone_enc:
            token = v.phone_enc
        if token:
            c.phone = lazy(token)
            c.sms_opted_out = bool(sms) and all(r.opted_out_at is not None for r in sms)
            c.has_any = True
        return c

    if audience.get("kind") == "phone":
        token = audience["phone_enc"]
        for vid in vids:
            out[("v", vid)] = Contact(phone=lazy(token), has_any=True)
        return out
    for vid in vids:
        out[("v", vid)] = contact_of(vid)
    for cid, coord in coords.items():
        if coord.volunteer_id:
            out[("c", cid)] = contact_of(coord.volunteer_id)
            if out[("c", cid)].has_any:
                continue
        try:
            phone = normalize_phone(coord.contact_phone)
            out[("c", cid)] = Contact(phone=lambda p=phone: p, has_any=True)  # type: ignore[misc]
        except InvalidInput:
            out[("c", cid)] = Contact(has_any=False)
    return out


def _claim_and_record(conn: Connection, claim_ids: list[int], results: list[tuple[int, dict[str, Any]]],
                      now: datetime, t: datetime) -> dict[int, int]:
    """Atomically write back the finished chunk and claim the next; returns claimed id → attempts (this
    one included).

    PostgreSQL: one statement, one round trip (the connection is in autocommit; a statement is atomic):
    the write-back as an UPDATE ... FROM json_to_recordset(...) in a WITH clause, the claim as the main UPDATE ...
    RETURNING. The two touch different rows (the finished chunk is `sending`, the next one is not yet).
    Elsewhere (SQLite ≥ 3.35): one transaction with an executemany and an UPDATE ... RETURNING.
    """
    if conn.dialect.name == "postgresql":
        # Parameters as one JSON text and one array literal: psycopg's list dumping is slow Python code.
        written = json.dumps([{k[2:]: _json_value(v) for k, v in _bind(did, values).items()}
                              for did, values in results])
        ids = "{" + ",".join(str(int(i)) for i in claim_ids) + "}"
        rows = conn.exec_driver_sql(_PG_CLAIM_AND_RECORD, {"written": written, "c_ids": ids, "c_now": now,
                                                           "c_t": t}).fetchall()
        conn.commit()  # autocommit: the statement is already committed; this closes SQLAlchemy's bookkeeping
        return {int(i): int(a) for i, a in rows}
    with conn.begin():
        if results:
            conn.execute(_WRITE_BACK, [_bind(did, values) for did, values in results])
        if not claim_ids:
            return {}
        return {int(i): int(a) for i, a in conn.execute(_CLAIM, {"c_ids": claim_ids, "c_now": now, "c_t": t})}


# Built once: SQLAlchemy then only looks the compiled form up in its cache for each chunk.
_CLAIM = update(D).where(
    D.c.id.in_(bindparam("c_ids", expanding=True)),
    or_(D.c.status == "queued",
        and_(D.c.status == "retry", D.c.next_attempt_at <= bindparam("c_now", type_=D.c.next_attempt_at.type))),
).values(status="sending", attempts=D.c.attempts + 1,
         updated_at=bindparam("c_t", type_=D.c.updated_at.type)).returning(D.c.id, D.c.attempts)


_PG_CLAIM_AND_RECORD = f"""
WITH written AS (
  UPDATE {D.name} AS d SET status = v.status, reason = v.reason, updated_at = v.updated,
    channel = COALESCE(v.channel, d.channel), provider_id = COALESCE(v.provider, d.provider_id),
    sent_at = COALESCE(v.sent, d.sent_at), next_attempt_at = COALESCE(v.next, d.next_attempt_at)
  FROM json_to_recordset(%(written)s::json) AS v(id bigint, status varchar, reason varchar, updated timestamp,
                                                   channel varchar, provider varchar, sent timestamp, next timestamp)
  WHERE d.id = v.id AND d.status = 'sending'
)
UPDATE {D.name} SET status = 'sending', attempts = attempts + 1, updated_at = %(c_t)s
WHERE id = ANY(%(c_ids)s::bigint[])
  AND (status = 'queued' OR (status = 'retry' AND next_attempt_at <= %(c_now)s))
RETURNING id, attempts
"""

def _json_value(v: Any) -> Any:
    """Datetimes as naive UTC ISO text (the columns are UTC `timestamp`); everything else as it is."""
    if isinstance(v, datetime):
        return (v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo else v).isoformat()
    return v


# Only a row still claimed is written (a sweep may have declared it uncertain meanwhile). Missing optional
# values keep what the row had (e.g. the channel of an earlier attempt).
_WRITE_BACK = update(D).where(D.c.id == bindparam("w_id"), D.c.status == "sending").values(
    status=bindparam("w_status"), reason=bindparam("w_reason"), updated_at=bindparam("w_updated"),
    channel=func.coalesce(bindparam("w_channel", type_=D.c.channel.type), D.c.channel),
    provider_id=func.coalesce(bindparam("w_provider", type_=D.c.provider_id.type), D.c.provider_id),
    sent_at=func.coalesce(bindparam("w_sent", type_=D.c.sent_at.type), D.c.sent_at),
    next_attempt_at=func.coalesce(bindparam("w_next", type_=D.c.next_attempt_at.type), D.c.next_attempt_at))


def _bind(did: int, v: dict[str, Any]) -> dict[str, Any]:
    return {"w_id": did, "w_status": v["status"], "w_reason": v.get("reason"), "w_updated": v["updated_at"],
            "w_channel": v.get("channel"), "w_provider": v.get("provider_id"), "w_sent": v.get("sent_at"),
            "w_next": v.get("next_attempt_at")}


def deliver_batch(notice_id: int, batch: int) -> dict[str, int]:
    """Send every due delivery of one batch; each row is claimed first, so repeats are harmless.

    The batch goes in chunks of one row per send thread: claim the chunk (one UPDATE), send it in
    parallel, then write the results back and claim the next chunk in one transaction. A crash leaves
    at most one chunk `sending` (→ `uncertain`, never re-sent), the rows whose messages were in flight.
    """
    ctx = context()
    rt, cfg = ctx.rt, ctx.rt.config.push
    now = ctx.clock()
    with rt.sessions() as s:
        notice = s.get(Notice, notice_id)
        if notice is None or notice.status == NoticeStatus.CANCELLED:
            return {}
        title, body, audience, queue_name = notice.title, notice.body, notice.audience, notice.queue
        rows = s.execute(select(D.c.id, D.c.volunteer_id, D.c.coordinator_id, D.c.body).where(
            D.c.notice_id == notice_id, D.c.batch == batch,
            or_(D.c.status == "queued", and_(D.c.status == "retry", D.c.next_attempt_at <= now)),
        ).order_by(D.c.id)).all()
        contacts = _load_contacts(s, rt, [r.volunteer_id for r in rows if r.volunteer_id],
                                  [r.coordinator_id for r in rows if r.coordinator_id], audience,
                                  batch_of=(notice_id, batch))
    # (SQLite: every transaction holds the write lock, so nothing below runs inside that session, and the
    # send threads never touch the database while the chunk's claim or write-back transaction is open.)
    if not rows:
        finalize(notice_id)
        return {}
    pool = ctx.send_pool()
    counts: dict[str, int] = {}
    lease, lease_ttl, touched = lease_key(notice_id, batch), max(1, cfg.sending_lease_seconds), 0.0
    retry_due: list[datetime] = []
    results: list[tuple[int, dict[str, Any]]] = []

    def send(row: Any, t: datetime, attempts: int) -> dict[str, Any]:
        return deliver_one(ctx, contacts.get(_key(row)), title, row.body or body, t, attempts, pool.senders())

    with rt.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT")  # one statement per chunk (reset on return)
        _fast_commits(conn, True)
        try:
            for start in range(0, len(rows), pool.threads):
                chunk = rows[start : start + pool.threads]
                t = ctx.clock()
                claimed = _claim_and_record(conn, [r.id for r in chunk], results, now, t)
                results = []
                if not claimed:
                    continue  # other workers have them, or they are done
                mono = time.monotonic()
                if mono - touched > 1.0:
                    rt.store.set(lease, str(os.getpid()), lease_ttl)
                    touched = mono
                mine = [r for r in chunk if r.id in claimed]
                _check_wechat(ctx, [contacts.get(_key(r)) for r in mine])
                if len(mine) == 1:
                    done = [send(mine[0], t, claimed[mine[0].id])]
                else:
                    done = list(pool.executor.map(send, mine, [t] * len(mine), [claimed[r.id] for r in mine]))
                for row, values in zip(mine, done, strict=True):
                    counts[values["status"]] = counts.get(values["status"], 0) + 1
                    metrics.delivery(values.get("channel"), values["status"])
                    if values["status"] == "retry":
                        retry_due.append(values["next_attempt_at"])
                    results.append((row.id, values))
            if results:
                _claim_and_record(conn, [], results, now, ctx.clock())
        except BaseException:
            conn.invalidate()  # never hand a connection with our session settings back to the pool
            raise
        _fast_commits(conn, False)
    rt.store.delete(lease)
    if retry_due:
        due = min(retry_due)
        delay = max(0.0, (due - ctx.clock()).total_seconds())
        jid = job_id(notice_id, f"b{batch}-retry")
        rt.store.set(batch_job_key(notice_id, batch), jid, 7 * 86400)
        ctx.queue.enqueue([_job("deliver_batch", (notice_id, batch), jid, queue_name, delay)])
    finalize(notice_id)
    return counts


def _key(row: Any) -> tuple[str, int]:
    return ("v", row.volunteer_id) if row.volunteer_id else ("c", row.coordinator_id)


def _check_wechat(ctx: PushContext, contacts: list[Contact | None]) -> None:
    """Read the chunk's WeChat reachability (`wechat:unreachable:<openid>`) in one Redis round trip, so the
    send threads need not read it one message at a time. Only when the senders are WechatOutbound on this
    runtime's Redis store; otherwise each sender checks for itself, as before."""
    sender = ctx.senders.get("wechat")
    people = [c for c in contacts if c is not None and c.wechat_openid and not c.wechat_opted_out]
    if ctx.rt.redis is None or not people:
        return
    from bot.channels.wechat_api import WechatOutbound, blocks_template, unreachable_key

    if not isinstance(sender, WechatOutbound) or sender.api.store is not ctx.rt.store:
        return
    reasons = ctx.rt.store.get_many([unreachable_key(str(c.wechat_openid)) for c in people])
    for c, reason in zip(people, reasons, strict=True):
        c.wechat_checked, c.wechat_unreachable = True, reason
        c.wechat_template_blocked = reason if blocks_template(reason) else None


def deliver_one(ctx: PushContext, contact: Contact | None, title: str, body: str, now: datetime,
                attempts: int = 1, senders: dict[str, Outbound] | None = None) -> dict[str, Any]:
    """Try the person's routes in order (`attempts` counts this one); returns the row's new values.
    `senders` are the calling thread's (default: the context's)."""
    senders = ctx.senders if senders is None else senders
    done: dict[str, Any] = {"updated_at": now}
    if contact is None:
        return {**done, "status": "failed", "reason": "找不到这个人"}
    routes, reason = plan_routes(contact, now, int(getattr(ctx.rt.config.wechat, "cs_window_hours", 48)),
                                 senders)
    if not routes:
        if reason == "opted_out":
            return {**done, "status": "skipped", "reason": "已退订"}
        return {**done, "status": "unreachable", "reason": reason}
    reasons: list[str] = []
    failed = False
    for route in routes:
        if not route.blocked:  # a route known to be closed costs no token
            ctx.limiter.acquire(route.channel)
        res = send_route(senders, route, title, body)
        if res.ok:
            return {**done, "status": "sent", "channel": route.kind, "provider_id": res.provider_id,
                    "sent_at": now, "reason": None}
        if res.status == "retry":
            return _retry(ctx, done, route.kind, res.reason, res.retry_after, now, attempts)
        reasons.append(f"{ROUTE_NAMES[route.kind]}：{res.reason}")
        failed = failed or res.status == "failed"
    return {**done, "status": "failed" if failed else "unreachable", "reason": "；".join(reasons)[:128]}


def _retry(ctx: PushContext, done: dict[str, Any], kind: str, reason: str, retry_after: float | None,
           now: datetime, attempts: int) -> dict[str, Any]:
    backoff = ctx.rt.config.push.retry_backoff_seconds or [30]
    if attempts > len(backoff):
        return {**done, "status": "failed", "channel": kind, "reason": f"重试{attempts}次仍失败：{reason}"[:128]}
    wait = max(float(retry_after or 0), float(backoff[attempts - 1]))
    return {**done, "status": "retry", "channel": kind, "reason": f"稍后重试：{reason}"[:128],
            "next_attempt_at": now + timedelta(seconds=wait)}


def finalize(notice_id: int) -> bool:
    """Mark the notice done when no delivery is open any more; True when it is done."""
    ctx = context()
    now = ctx.clock()
    with ctx.rt.engine.begin() as conn:
        remaining = conn.scalar(select(D.c.id).where(  # any open row at all (no count of 100,000 rows)
            D.c.notice_id == notice_id, D.c.status.in_(OPEN)).limit(1))
        if remaining is not None:
            return False
        conn.execute(update(N).where(N.c.id == notice_id, N.c.status == "sending").values(
            status="done", finished_at=now))
    return True


# -- WeCom group robot ------------------------------------------------------------------------------


def wecom_post(notice_id: int) -> str:
    """Post the notice to its team's WeCom staff group, within 20 messages a minute per robot."""
    ctx = context()
    rt = ctx.rt
    with rt.sessions() as s:
        notice = s.get(Notice, notice_id)
        team = s.get(Team, notice.team_id) if notice and notice.team_id else None
        if notice is None or team is None or not team.wecom_webhook or notice.wecom_status == "已发到工作群":
            return "skipped"
        url, message, queue_name = team.wecom_webhook, forward_text(s, notice), notice.queue
    wait = ctx.limiter.try_minute(webhook_key(url), rt.config.push.wecom_per_minute)
    if wait > 0:
        ctx.queue.enqueue([_job("wecom_post", (notice_id,), job_id(notice_id, "wecom"), queue_name,
                                wait)])
        status = "等待群机器人限速"
    else:
        res = post_wecom(url, message, rt.config.push.http_timeout_seconds)
        if res.status == "retry":
            ctx.queue.enqueue([_job("wecom_post", (notice_id,), job_id(notice_id, "wecom"),
                                    queue_name, res.retry_after or 60)])
            status = "稍后重发到工作群"
        else:
            status = "已发到工作群" if res.ok else f"工作群发送失败：{res.reason}"[:64]
    with rt.engine.begin() as conn:
        conn.execute(update(N).where(N.c.id == notice_id).values(wecom_status=status))
    return status


# -- recovery ---------------------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> dict[str, int]:
    """Recover from dead workers: stale claims become `uncertain`, orphaned batches are enqueued again.

    Safe to run anywhere and often (the worker command runs it every few seconds under a lock).
    """
    ctx = context()
    rt, cfg = ctx.rt, ctx.rt.config.push
    now = now or ctx.clock()
    cutoff = now - timedelta(seconds=cfg.sending_lease_seconds)
    out = {"uncertain": 0, "batches": 0, "fanouts": 0}
    with rt.engine.begin() as conn:
        out["uncertain"] = conn.execute(update(D).where(D.c.status == "sending", D.c.updated_at < cutoff).values(
            status="uncertain", reason=UNCERTAIN_REASON, updated_at=now)).rowcount
        stuck = list(conn.execute(select(N.c.id, N.c.queue).where(N.c.status == "queued", N.c.queued_at < cutoff)))
        open_batches = list(conn.execute(
            select(D.c.notice_id, D.c.batch, N.c.queue).join(N, N.c.id == D.c.notice_id)
            .where(N.c.status == "sending",
                   or_(D.c.status == "queued", and_(D.c.status == "retry", D.c.next_attempt_at <= now)))
            .group_by(D.c.notice_id, D.c.batch, N.c.queue)))
        sending = list(conn.scalars(select(N.c.id).where(N.c.status == "sending")))
    specs: list[JobSpec] = []
    for nid, qname in stuck:
        if not ctx.queue.waiting(rt.store.get(fanout_job_key(nid)) or ""):
            jid = job_id(nid, "fanout")
            rt.store.set(fanout_job_key(nid), jid, 7 * 86400)
            specs.append(_job("fanout", (nid,), jid, qname))
            out["fanouts"] += 1
    for nid, b, qname in open_batches:
        if rt.store.get(lease_key(nid, b)):
            continue  # a live worker is on it
        if ctx.queue.waiting(rt.store.get(batch_job_key(nid, b)) or ""):
            continue
        new_id = job_id(nid, f"b{b}-swept")
        rt.store.set(batch_job_key(nid, b), new_id, 7 * 86400)
        specs.append(_job("deliver_batch", (nid, b), new_id, qname))
        out["batches"] += 1
    if specs:
        ctx.queue.enqueue(specs)
        log.warning("sweep re-enqueued %s batches and %s fan-outs", out["batches"], out["fanouts"])
    for nid in sending:
        finalize(nid)
    return out
