"""The inbound pipeline every channel calls: one turn at a time per person → dedup → identify → NLU → dialogs,
in one DB session."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError

from data.crypto import mask_numbers, mask_phone
from data.db import hold_loaded
from data.errors import InvalidInput
from data.kv import Write
from data.models import Activity, ChannelIdentity, Volunteer
from data.profiles import queue_log, write_queued_log
from data.records import REMINDER_ANSWER_WINDOW, reminder_waiting
from data.timeutil import to_local, utcnow
from dialogs import (
    Choices,
    RecordedHooks,
    Reply,
    Settings,
    Text,
    Turn,
    might_answer_reminder,
    respond,
    to_plain,
)
from dialogs import state as states
from dialogs.replies import from_data, to_data

from . import metrics
from .runtime import Runtime

log = logging.getLogger("yinling.pipeline")

SORRY = Choices(
    "对不起，刚才出了点小问题，您的消息没有处理好。请稍后再发一次。",
    ("找活动", "我的活动", "我的服务时长", "找人工"),
    "回复数字选择，回复0回主菜单，回复9找人工。",
)
INBOUND_STAMP_SECONDS = 60  # last_inbound_at is refreshed at most this often (it only ever errs early)

# Who sent it (every turn), built once: bound parameters, so SQLAlchemy neither rebuilds nor re-keys it.
_WHO = (select(Volunteer, ChannelIdentity.id, ChannelIdentity.last_inbound_at)
        .join(ChannelIdentity, ChannelIdentity.volunteer_id == Volunteer.id)
        .where(ChannelIdentity.channel == bindparam("channel"),
               # the address under every key it may be stored under (during a key rotation, the old one's too)
               ChannelIdentity.external_id.in_(bindparam("known", expanding=True))))
_WHO_AND_REMINDER = _WHO.add_columns(reminder_waiting(Volunteer.id, bindparam("now"), bindparam("since")))

PHRASES_REFRESH_SECONDS = 300.0  # activity titles the voice corrector knows are read again this often
MAX_TITLES = 2000

BUSY = Text("您的上一条消息还在处理，请稍等几秒再发。回复0回主菜单。")
TURN_WAIT = 15.0  # seconds a message waits for the same person's previous turn


DEDUP_LEASE_SECONDS = 6.0  # a dead worker's `pending` marker frees itself this soon (WeChat retries every 5 s)


class Leases:
    """Short-lived markers kept alive while their owner lives: one thread renews them every lease/3.

    A worker that dies stops renewing, so its markers expire within one lease and a retry can run
    the turn; a turn that is merely slow keeps its marker, so a retry never runs it a second time.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._held: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def claim(self, key: str, value: str, lease: float) -> bool:
        """set-if-absent with a TTL of `lease` seconds, renewed until `release`."""
        if not self.store.set_nx(key, value, _ttl(lease)):
            return False
        self._hold(key, value, lease)
        return True

    def claim_two_and_peek(self, key: str, value: str, key2: str, value2: str, lease: float, pointer: str,
                           target_prefix: str) -> tuple[bool, bool, str | None, str | None]:
        """`claim` of `key`, and only when that succeeded of `key2`, with the value of `pointer` and of the key
        it names: one round trip."""
        got, got2, named, target = self.store.claim_two_and_peek(key, value, key2, value2, _ttl(lease), pointer,
                                                                 target_prefix)
        if got:
            self._hold(key, value, lease)
        if got2:
            self._hold(key2, value2, lease)
        return got, got2, named, target

    def _hold(self, key: str, value: str, lease: float) -> None:
        with self._lock:
            self._held[key] = (value, lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._renew_forever, name="lease-renewal", daemon=True)
                self._thread.start()
            self._wake.notify()

    def release(self, key: str) -> None:
        """Stop renewing (the caller then deletes the key or overwrites it with the result)."""
        with self._lock:
            self._held.pop(key, None)

    def _renew_forever(self) -> None:
        while True:
            with self._lock:
                while not self._held:
                    self._wake.wait()
                interval = max(0.05, min(lease for _v, lease in self._held.values()) / 3)
            # A fresh claim holds for a whole lease: the first renewal is due a third of it later, and most
            # turns have ended by then (no Redis round trips for them at all).
            time.sleep(interval)
            with self._lock:
                held = dict(self._held)
            for key, (value, lease) in held.items():
                try:
                    # Renew only our own marker: a finished turn has already replaced it with its replies.
                    if self.store.get(key) == value:
                        with self._lock:
                            if key in self._held:
                                self.store.set(key, value, _ttl(lease))
                except Exception:  # noqa: BLE001 - Redis hiccup: the next round tries again
                    log.warning("lease renewal failed for %s", key.split(":")[0])


def _ttl(lease: float) -> int:
    return max(1, int(round(lease)))


@dataclass
class Inbound:
    """One message from a channel, already verified and decoded by that channel."""

    channel: str  # wechat | sms | console
    sender: str  # WeChat openid, normalized mobile number, or console user name
    text: str = ""
    kind: str = "text"  # text | voice | location | image | event
    dedup_key: str | None = None  # provider message id or event tuple; None = no dedup
    event: str | None = None
    event_key: str | None = None
    location: tuple[float, float] | None = None
    media_id: str | None = None
    # False for what WeChat does not count as the user reaching out (a location report, a link click):
    # those neither open the 48-hour customer-service window nor move last_inbound_at.
    opens_window: bool = True
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])


@dataclass
class Outcome:
    replies: list[Reply]
    volunteer_id: int | None = None
    duplicate: bool = False
    request_id: str = ""
    speak: list[Reply] | None = None  # also to be sent as voice (念给我听), if the channel can


def replies_to_json(replies: list[Reply]) -> str:
    return json.dumps(to_data(replies), ensure_ascii=False)


def replies_from_json(raw: str) -> list[Reply]:
    return from_data(json.loads(raw))


class CollectingHooks(RecordedHooks):
    """Collects push-layer calls during a turn; `flush` hands them on only after the commit."""

    def __init__(self, target: Any | None) -> None:
        super().__init__()
        self._target = target

    def flush(self) -> None:
        for name, args in self.calls:
            fn = getattr(self._target, name, None) if self._target is not None else None
            if fn is None:
                log.info("push hook %s has no handler yet; recorded only", name)
                continue
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - a failed notice must not lose the user's reply
                log.exception("push hook %s failed", name)
        self.calls.clear()


@dataclass
class TurnHold:
    """What `one_turn_at_a_time` did with the key claimed along with the lock, and what it stores on release."""

    claimed_also: bool | None = None  # the `also` key: None when not tried (the lock was not taken)
    # (volunteer id, their dialog state) read with the claim: who this sender was last time (`who_key`) and
    # that volunteer's state. None when not read.
    peeked: tuple[str | None, str | None] | None = None
    writes: list[Write] = field(default_factory=list)  # stored (None deletes) in the release's round trip
    pointer: str = ""  # this sender's `who_key`


def who_key(turn_key: str) -> str:
    """The store key naming the volunteer a sender was last time (for reading their state with the claim)."""
    return "who:" + turn_key.removeprefix("turn:")


class Pipeline:
    """Turns an Inbound into replies. Safe to share between threads; one DB session per message."""

    def __init__(self, rt: Runtime, push: Any | None = None) -> None:
        self.rt = rt
        self.push = push
        self.settings: Settings = rt.config.dialogs
        self._held = threading.local()  # turn locks this thread holds (a channel may widen its turn)
        self.leases = Leases(rt.store)
        self._corrector: tuple[Any, float] | None = None  # (corrector, built at time.monotonic())
        self._corrector_lock = threading.Lock()

    # -- what speech recognition misheard -------------------------------------------------------
    def corrector(self, now: datetime) -> Any:
        """Places, category words and the titles of current activities, by sound; rebuilt every few minutes
        so that a new activity's title is known."""
        with self._corrector_lock:
            cached = self._corrector
            if cached is not None and time.monotonic() - cached[1] < PHRASES_REFRESH_SECONDS:
                return cached[0]
            phrases = list(getattr(self.rt.nlu, "phrases", list)())
            try:
                with self.rt.sessions() as s:
                    phrases += s.scalars(select(Activity.title).where(Activity.ends_at >= now - timedelta(days=1))
                                         .order_by(Activity.starts_at).limit(MAX_TITLES)).all()
            except Exception:  # noqa: BLE001 - places and categories are still corrected
                log.exception("activity titles not read for the voice corrector")
            # The NLU package loads jieba: not when this module is imported (tests/test_architecture.py).
            from nlu import resources
            from nlu.phonetic import Corrector

            corrector = Corrector(phrases, resources.pinyin_table(), resources.tone_table())
            self._corrector = (corrector, time.monotonic())
            return corrector

    def heard(self, text: str, now: datetime) -> str:
        """A voice transcript with misheard places, titles and category words put right (杨光社区 → 阳光社区)."""
        return self.corrector(now).correct(text) if text.strip() else text

    # -- one turn at a time per person -------------------------------------------------------
    def turn_key(self, channel: str, sender: str) -> str:
        """The store key of a person's turn lock (a phone number only as its keyed hash)."""
        if channel == "sms":
            try:
                sender = self.rt.vault.lookup_hash(sender)[:20]
            except InvalidInput:
                pass  # not a number: the turn itself answers politely
        return f"turn:{channel}:{sender}"

    @contextmanager
    def one_turn_at_a_time(self, channel: str, sender: str, request_id: str, wait: float = TURN_WAIT,
                           lease: float = DEDUP_LEASE_SECONDS,
                           also: tuple[str, str] | None = None) -> Iterator[TurnHold]:
        """Wait until this person's previous turn (in any thread, worker or host) is done, so their messages
        run in order.

        A slow turn answers late; the person may type the next message meanwhile. Without this the two turns
        would race on the same dialog state and could run in the wrong order. Bounded: after `wait` seconds
        the turn runs anyway. `handle` takes it for every channel; a channel that must keep more of its work
        in order (SMS: opt-out words and sending the reply) takes it around that work, and `handle` inside
        then goes straight on (the lock is held by this thread already).

        `also` (key, value): claimed on the same lease in the same round trip once the lock is taken (a
        message's dedup marker), and with them the sender's dialog state is read (`TurnHold.peeked`).
        `TurnHold.writes` are stored in the same round trip as the release.
        """
        key = self.turn_key(channel, sender)
        held: set[str] = self._held.__dict__.setdefault("keys", set())
        hold = TurnHold(pointer=who_key(key))
        if key in held:
            try:
                yield hold
            finally:
                self._write(hold.writes)
            return
        deadline = time.monotonic() + wait
        owned = True
        # On a lease renewed while the turn runs: a dead worker's lock frees itself within one lease.
        while True:
            if also is not None:
                got, got_also, named, state = self.leases.claim_two_and_peek(
                    key, request_id, also[0], also[1], lease, hold.pointer, "dlg:")
                if got:
                    hold.claimed_also = got_also
                    hold.peeked = (named, state)
            else:
                got = self.leases.claim(key, request_id, lease)
            if got:
                break
            if time.monotonic() > deadline:
                log.warning("previous turn still running; going ahead request_id=%s", request_id)
                owned = False
                break
            time.sleep(0.02)
        held.add(key)  # owned or gone ahead: a nested call in this thread does not wait again
        try:
            yield hold
        finally:
            held.discard(key)
            if owned:
                self.leases.release(key)
                # Deleted only while ours: not when it expired and another turn has it.
                if hold.writes:
                    self.rt.store.write_and_delete_if(hold.writes, key, request_id)
                else:
                    self.rt.store.delete_if(key, request_id)
            else:
                self._write(hold.writes)

    def _write(self, writes: list[Write]) -> None:
        for key, value, ttl in writes:
            if value is None:
                self.rt.store.delete(key)
            else:
                self.rt.store.set(key, value, ttl)

    # -- dedup -------------------------------------------------------------------------------
    def _dedup_claim(self, key: str, owner: str, lease: float) -> bool:
        """Mark the message as being answered by this turn: `pending:<request id>`, on a short lease."""
        return self.leases.claim(f"dedup:{key}", f"pending:{owner}", lease)

    def _dedup_wait(self, key: str, wait_seconds: float, owner: str, lease: float) -> list[Reply] | bool | None:
        """Another delivery of a message already claimed: its replies once stored; True when the first
        turn's worker died (its lease ran out) and this delivery claimed the message; None on timeout."""
        deadline = time.monotonic() + wait_seconds
        while True:
            value = self.rt.store.get(f"dedup:{key}")
            if value and not value.startswith("pending"):
                return replies_from_json(value)
            if value is None and self._dedup_claim(key, owner, lease):
                return True
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    # -- identity ----------------------------------------------------------------------------
    def identify(self, session: Any, inbound: Inbound, now: datetime) -> tuple[Volunteer, bool, str]:
        """Find or create the volunteer behind a channel address; returns (volunteer, is_new, shown address)."""
        volunteer, is_new, shown, _waiting = self._identify(session, inbound, now)
        return volunteer, is_new, shown

    def _identify(self, session: Any, inbound: Inbound, now: datetime,
                  probe_reminder: bool = False, first: bool = False) -> tuple[Volunteer, bool, str, bool | None]:
        """`identify`, and with `probe_reminder` whether a reminder waits for an answer, in the same query.
        `first`: the session has done nothing yet (a lost connection is replaced and the query run again)."""
        if inbound.channel == "sms":
            external = self.rt.vault.lookup_hash(inbound.sender)
            known = self.rt.vault.lookup_hashes(inbound.sender)  # and the old key's, during a key rotation
            shown = mask_phone(inbound.sender)
        else:
            external = inbound.sender
            known = [external]
            shown = inbound.sender
        params: dict[str, Any] = {"channel": inbound.channel, "known": known}
        if probe_reminder:
            params.update(now=now, since=now - REMINDER_ANSWER_WINDOW)
        query = _WHO_AND_REMINDER if probe_reminder else _WHO
        try:
            found = session.execute(query, params).first()
        except DBAPIError as e:
            # The pool does not ping a connection used a moment ago (data.db): when the server dropped it since,
            # the turn's first statement fails here and nothing was done yet, so it runs again on a new one.
            if not (first and e.connection_invalidated):
                raise
            log.warning("database connection lost; the turn goes on with a new one")
            session.rollback()
            found = session.execute(query, params).first()
        if found is not None:
            volunteer, ident_id, last = found[:3]
            waiting = bool(found[3]) if probe_reminder else None
            if inbound.opens_window and (last is None or abs((now - last).total_seconds()) >= INBOUND_STAMP_SECONDS):
                # The 48-hour window needs the time of the last message, not to the second: a person
                # chatting writes this once a minute, not on every message.
                session.execute(update(ChannelIdentity).where(ChannelIdentity.id == ident_id)
                                .values(last_inbound_at=now))
            return volunteer, False, shown, waiting
        volunteer = None
        if inbound.channel == "sms":
            # The number may already belong to a volunteer (bound from WeChat, or imported).
            volunteer = session.scalars(select(Volunteer).where(Volunteer.phone_hash.in_(known))).first()
        is_new = volunteer is None
        if volunteer is None:
            volunteer = Volunteer(created_at=now, skills=[], categories=[], availability=0, max_load=2)
            if inbound.channel == "sms":
                volunteer.phone_hash = external
                volunteer.phone_enc = self.rt.vault.encrypt(inbound.sender)
                volunteer.phone_masked = shown
            if inbound.channel == "console":
                volunteer.name = inbound.sender
            session.add(volunteer)
            session.flush()
        session.add(ChannelIdentity(
            volunteer_id=volunteer.id, channel=inbound.channel, external_id=external,
            address_enc=self.rt.vault.encrypt(inbound.sender) if inbound.channel == "sms" else None,
            created_at=now, last_inbound_at=now if inbound.opens_window else None,
        ))
        session.flush()
        # A new identity of a known volunteer (a number bound from WeChat) may have a reminder: the dialogs ask.
        return volunteer, is_new, shown, (False if probe_reminder and is_new else None)

    # -- the turn ----------------------------------------------------------------------------
    def handle(self, inbound: Inbound, now: datetime | None = None, dedup_ttl: int = 600,
               dup_wait: float = 4.0, dedup_lease: float = DEDUP_LEASE_SECONDS,
               prepare: Callable[[Inbound], None] | None = None) -> Outcome:
        """Run one message through NLU and dialogs, after the same person's previous one. Failures answer
        politely. `now` defaults to the moment the turn starts (after the wait).

        A delivery is claimed on a short lease that this process renews while the turn runs; the stored
        replies then answer every later delivery for `dedup_ttl` seconds. `prepare` (a voice message's
        recognition) runs once the delivery is claimed, so a provider's retry never runs it twice.
        """
        now_given = now
        rid = inbound.request_id
        key = f"{inbound.channel}:{inbound.dedup_key}" if inbound.dedup_key else ""
        # The dedup marker is claimed with the turn lock, in the same round trip.
        also = (f"dedup:{key}", f"pending:{rid}") if key else None
        with self.one_turn_at_a_time(inbound.channel, inbound.sender, rid, lease=dedup_lease, also=also) as hold:
            now = now or utcnow()
            if key:
                claimed = hold.claimed_also
                if claimed is None:  # the lock was held already (a channel widened the turn), or waited out
                    claimed = self._dedup_claim(key, rid, dedup_lease)
                if not claimed:
                    previous = self._dedup_wait(key, dup_wait, rid, dedup_lease)
                    if previous is True:
                        log.warning("previous delivery's worker stopped mid-turn; running it again request_id=%s",
                                    rid)
                    else:
                        log.info("duplicate delivery %s request_id=%s", inbound.channel, rid)
                        replies_before = previous if isinstance(previous, list) else [BUSY]
                        return Outcome(replies_before, duplicate=True, request_id=rid)
            try:
                if prepare is not None:
                    try:
                        prepare(inbound)
                    except Exception:  # noqa: BLE001 - the message is still answered (an empty voice kindly)
                        log.exception("preparing the message failed request_id=%s", rid)
                    now = utcnow() if now_given is None else now
                return self._turn(inbound, now, rid, dedup_ttl, hold)
            finally:
                if inbound.dedup_key:
                    self.leases.release(f"dedup:{inbound.channel}:{inbound.dedup_key}")

    def _turn(self, inbound: Inbound, now: datetime, rid: str, dedup_ttl: int, hold: TurnHold) -> Outcome:
        """One message through NLU and dialogs, dedup claimed. Never raises: failures answer politely. The
        replies are stored for later deliveries when the turn lock is released (`hold.writes`)."""
        hooks = CollectingHooks(self.push)
        probe = metrics.TurnProbe(inbound.channel, rid)
        failed = False
        replies: list[Reply]
        volunteer_id: int | None = None
        speak: list[Reply] | None = None
        state_out: list[tuple[int, str | None]] = []  # written with the turn lock's release, after the commit
        try:
            # U+0000 can arrive in an SMS (JSON carries it) but PostgreSQL refuses it in text columns.
            text = (inbound.text or "").replace("\x00", "")
            if inbound.kind == "voice":
                text = self.heard(text, now)
            # Parse before the session opens: on SQLite a write transaction holds the database lock.
            parse = self.rt.nlu.parse(text, to_local(now).replace(tzinfo=None))
            with self.rt.sessions() as session:
                hold_loaded(session)  # one turn: a row read twice is read from the database once
                volunteer, is_new, shown, waiting = self._identify(session, inbound, now,
                                                                   probe_reminder=might_answer_reminder(text),
                                                                   first=True)
                volunteer_id = volunteer.id
                peeked = hold.peeked
                preloaded = ((volunteer.id, peeked[1]) if peeked is not None and peeked[0] == str(volunteer.id)
                             else None)
                # Both lines in one Core insert at the end of the turn (no unit of work to flush); whatever
                # reads or changes the log before (a hand-off's transcript) writes the incoming line first.
                queue_log(session, {
                    "volunteer_id": volunteer.id, "channel": inbound.channel, "direction": "in", "address": shown,
                    "text": mask_numbers(text)[:2000] or f"[{inbound.kind}:{inbound.event or ''}]",
                    "intent": parse.get("intent", {}).get("name"), "request_id": rid, "created_at": now})
                turn = Turn(parse=parse, text=text, volunteer=volunteer, session=session, store=self.rt.store,
                            now=now, channel=inbound.channel, hooks=hooks, settings=self.settings,
                            kind=inbound.kind, event=inbound.event, event_key=inbound.event_key,
                            location=inbound.location, new_user=is_new, vault=self.rt.vault,
                            reminder_waiting=waiting, state_preloaded=preloaded, state_out=state_out)
                replies = respond(turn)
                speak = turn.speak
                probe.read(turn)
                out: list[dict[str, Any]] = []
                if replies and volunteer.deleted_at is None:  # a silent event gets no answer; 删除我的信息 no log
                    out.append({
                        "volunteer_id": volunteer.id, "channel": inbound.channel, "direction": "out",
                        "address": shown, "text": mask_numbers(to_plain(replies))[:4000], "intent": None,
                        "request_id": rid,
                        "created_at": now})
                write_queued_log(session, *out)
                session.commit()
        except Exception:  # noqa: BLE001 - the user gets a polite answer, the log gets the trace
            log.exception("turn failed channel=%s request_id=%s", inbound.channel, rid)
            replies = [SORRY]
            speak = None
            failed = True
            hooks.calls.clear()
            state_out.clear()  # nothing was committed: the conversation stays where it was
        hooks.flush()
        if state_out:
            ttl = states.ttl_seconds(self.settings.state_ttl_days)
            for vid, raw in state_out:
                hold.writes.append((states.key(vid), raw, ttl))
            last_vid, last_raw = state_out[-1]
            hold.writes.append((hold.pointer, None if last_raw is None else str(last_vid), ttl))
        if inbound.dedup_key:
            self.leases.release(f"dedup:{inbound.channel}:{inbound.dedup_key}")  # before the result replaces it
        if inbound.dedup_key and failed:
            # Nothing was committed: let the provider's retry run the turn again.
            self.rt.store.delete(f"dedup:{inbound.channel}:{inbound.dedup_key}")
        elif inbound.dedup_key:
            hold.writes.append((f"dedup:{inbound.channel}:{inbound.dedup_key}", replies_to_json(replies), dedup_ttl))
        probe.done(failed)
        return Outcome(replies, volunteer_id, False, rid, speak=speak)
