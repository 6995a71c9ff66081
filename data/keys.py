"""Key rotation: every stored phone re-encrypted, and every lookup hash re-keyed, under the current secret.

The vault given holds the new secret and the old ones (YINLING_SECRET_KEY_OLD). Rows are read in batches
in id order, each batch in its own transaction; a row already under the new key is left alone, so an
interrupted rotation is resumed by running it again. Each update names the value it read
(`WHERE id = :id AND phone_enc IS NOT DISTINCT FROM :read`, one statement per batch): a row the running service rewrote meanwhile (with the new key,
since it encrypts with the current one) is skipped, never overwritten with a stale value.

What is stored, and where:
- volunteers.phone_enc, volunteers.phone_hash
- channel_identities.address_enc, and external_id of SMS identities (the number's keyed hash)
- handoffs.callback_enc (a number to call back)
- notices.audience["phone_enc"] (a verification code's single recipient)
Short-lived copies in Redis (a pending phone binding, a queued SMS reply) expire within minutes; the service
reads them with the old key for as long as it stays configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from .crypto import PhoneVault
from .errors import InvalidInput
from .models import ChannelIdentity, Volunteer
from .models_push import Handoff, Notice

log = logging.getLogger("yinling.keys")


@dataclass
class TableCount:
    """What one pass over a table found: rows re-keyed, rows already under the new key, rows no key reads."""

    rotated: int = 0
    current: int = 0
    unreadable: int = 0
    changed: int = 0  # rewritten by the service between our read and our update: left as the service wrote it


@dataclass
class RotationReport:
    tables: dict[str, TableCount] = field(default_factory=dict)
    batches: int = 0

    @property
    def unreadable(self) -> int:
        return sum(t.unreadable for t in self.tables.values())

    @property
    def rotated(self) -> int:
        return sum(t.rotated for t in self.tables.values())


def _needs(vault: PhoneVault, token: str | None, stored_hash: str | None, phone: str | None) -> bool:
    if token is not None and not vault.is_current(token):
        return True
    return phone is not None and stored_hash is not None and stored_hash != vault.lookup_hash(phone)


def _walk(sessions: sessionmaker[Session], stmt_for: Callable[[int], Any],
          handle: Callable[[Session, list[Any]], None], done: Callable[[int], None]) -> None:
    """Rows in id order, a batch per transaction: `handle` inside it, `done` once it is committed."""
    last = 0
    while True:
        with sessions.begin() as s:
            rows = list(s.execute(stmt_for(last)))
            if rows:
                handle(s, rows)
        if not rows:
            return
        done(len(rows))
        last = rows[-1].id


def rotate_keys(sessions: sessionmaker[Session], vault: PhoneVault, *, batch_size: int = 500,
                after_batch: Callable[[str, int], None] | None = None) -> RotationReport:
    """Move every stored phone and phone hash to the vault's current key; returns what it did per table.

    `after_batch(table, rows)` runs after each committed batch (progress output; tests interrupt there).
    """
    report = RotationReport()

    def done(table: str) -> Callable[[int], None]:
        def after(n: int) -> None:
            report.batches += 1
            if after_batch is not None:
                after_batch(table, n)
        return after

    def read(token: str, count: TableCount) -> str | None:
        try:
            return vault.decrypt(token)
        except InvalidInput:
            count.unreadable += 1
            return None

    # volunteers: phone_enc and phone_hash together
    vols = report.tables.setdefault("volunteers", TableCount())

    def volunteers(s: Session, rows: list[Any]) -> None:
        changes: list[dict[str, Any]] = []
        for row in rows:
            phone = read(row.phone_enc, vols)
            if phone is None:
                continue
            if not _needs(vault, row.phone_enc, row.phone_hash, phone):
                vols.current += 1
                continue
            changes.append({"id": row.id, "phone_enc": (row.phone_enc, vault.encrypt(phone)),
                            "phone_hash": (row.phone_hash,
                                           vault.lookup_hash(phone) if row.phone_hash is not None else None)})
        _apply(s, Volunteer, changes, vols)

    _walk(sessions, lambda last: select(Volunteer.id, Volunteer.phone_enc, Volunteer.phone_hash)
          .where(Volunteer.id > last, Volunteer.phone_enc.is_not(None)).order_by(Volunteer.id).limit(batch_size),
          volunteers, done("volunteers"))

    # channel identities: an SMS identity's external_id is the number's hash
    idents = report.tables.setdefault("channel_identities", TableCount())
    ci = ChannelIdentity

    def identities(s: Session, rows: list[Any]) -> None:
        changes: list[dict[str, Any]] = []
        for row in rows:
            phone = read(row.address_enc, idents)
            if phone is None:
                continue
            keyed = row.channel == "sms"
            if not _needs(vault, row.address_enc, row.external_id if keyed else None, phone):
                idents.current += 1
                continue
            changes.append({"id": row.id, "address_enc": (row.address_enc, vault.encrypt(phone)),
                            "external_id": (row.external_id,
                                            vault.lookup_hash(phone) if keyed else row.external_id)})
        _apply(s, ci, changes, idents)

    _walk(sessions, lambda last: select(ci.id, ci.channel, ci.address_enc, ci.external_id)
          .where(ci.id > last, ci.address_enc.is_not(None)).order_by(ci.id).limit(batch_size),
          identities, done("channel_identities"))

    # hand-offs: a number to call back
    calls = report.tables.setdefault("handoffs", TableCount())

    def handoffs(s: Session, rows: list[Any]) -> None:
        changes: list[dict[str, Any]] = []
        for row in rows:
            phone = read(row.callback_enc, calls)
            if phone is None:
                continue
            if vault.is_current(row.callback_enc):
                calls.current += 1
                continue
            changes.append({"id": row.id, "callback_enc": (row.callback_enc, vault.encrypt(phone))})
        _apply(s, Handoff, changes, calls)

    _walk(sessions, lambda last: select(Handoff.id, Handoff.callback_enc)
          .where(Handoff.id > last, Handoff.callback_enc.is_not(None)).order_by(Handoff.id).limit(batch_size),
          handoffs, done("handoffs"))

    # notices: a verification code's recipient inside the audience (JSON; compared in Python on any backend)
    codes = report.tables.setdefault("notices", TableCount())

    def notices(s: Session, rows: list[Any]) -> None:
        for row in rows:
            audience = row.audience
            token = audience.get("phone_enc") if isinstance(audience, dict) else None
            if not token:
                continue
            phone = read(str(token), codes)
            if phone is None:
                continue
            if vault.is_current(str(token)):
                codes.current += 1
                continue
            notice = s.get(Notice, row.id, with_for_update=True)
            if notice is None or (notice.audience or {}).get("phone_enc") != token:
                codes.changed += 1
                continue
            notice.audience = {**notice.audience, "phone_enc": vault.encrypt(phone)}
            codes.rotated += 1

    _walk(sessions, lambda last: select(Notice.id, Notice.audience)
          .where(Notice.id > last).order_by(Notice.id).limit(batch_size), notices, done("notices"))
    return report


def _apply(s: Session, model: Any, changes: list[dict[str, Any]], count: TableCount) -> None:
    """One batch's updates in one round trip: `changes` are {"id": …, column: (value read, new value)}.

    Each row is updated only if it still holds what was read: a row the service rewrote meanwhile (with the
    new key, since it writes with the current one) matches nothing, and is counted as changed, not overwritten.
    """
    if not changes:
        return
    table = model.__table__
    columns = [c for c in changes[0] if c != "id"]
    stmt = (update(table)
            .where(table.c.id == bindparam("row_id"),
                   *(table.c[c].is_not_distinct_from(bindparam(f"read_{c}")) for c in columns))
            .values({c: bindparam(f"new_{c}") for c in columns}))
    params = [{"row_id": ch["id"], **{f"read_{c}": ch[c][0] for c in columns},
               **{f"new_{c}": ch[c][1] for c in columns}} for ch in changes]
    result = s.execute(stmt, params)
    done = int(getattr(result, "rowcount", 0))
    count.rotated += done
    count.changed += len(changes) - done


def pending(sessions: sessionmaker[Session], vault: PhoneVault) -> dict[str, int]:
    """Rows not yet under the current key, per table (for `keys status`): a dry run of the rotation."""
    out: dict[str, int] = {}
    with sessions() as s:
        n = 0
        for enc, digest in s.execute(select(Volunteer.phone_enc, Volunteer.phone_hash)
                                     .where(Volunteer.phone_enc.is_not(None))):
            n += _stale(vault, str(enc), digest)
        out["volunteers"] = n
        n = 0
        for channel, address, external in s.execute(
                select(ChannelIdentity.channel, ChannelIdentity.address_enc, ChannelIdentity.external_id)
                .where(ChannelIdentity.address_enc.is_not(None))):
            n += _stale(vault, str(address), external if channel == "sms" else None)
        out["channel_identities"] = n
        out["handoffs"] = sum(not vault.is_current(str(t)) for t in
                              s.scalars(select(Handoff.callback_enc).where(Handoff.callback_enc.is_not(None))))
        out["notices"] = sum(1 for a in s.scalars(select(Notice.audience))
                             if isinstance(a, dict) and a.get("phone_enc") and not vault.is_current(str(a["phone_enc"])))
    return out


def _stale(vault: PhoneVault, token: str, stored_hash: str | None) -> int:
    if not vault.is_current(token):
        return 1
    if stored_hash is None:
        return 0
    try:
        return int(stored_hash != vault.lookup_hash(vault.decrypt(token)))
    except InvalidInput:
        return 1
