"""Key rotation (data.keys): every stored phone moves to the new key, reads back, and is found by its new hash."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from data.crypto import PhoneVault
from data.db import make_engine, make_sessionmaker
from data.errors import InvalidInput
from data.keys import pending, rotate_keys
from data.migrate import upgrade
from data.models import ChannelIdentity, Volunteer
from data.models_push import Handoff, Notice
from data.profiles import volunteer_by_phone_hash
from data.seed import load_demo
from tests.conftest import new_database_url

OLD = "old-secret-key-0123456789"
NEW = "new-secret-key-9876543210"


@dataclass
class Stored:
    engine: Engine
    sessions: sessionmaker[Session]
    phones: dict[int, str]  # volunteer id -> phone, as loaded under the old key
    callback: str  # the hand-off's callback number
    code_to: str  # the verification notice's recipient


class Stop(Exception):
    """Stands for a rotation killed between two batches."""


@pytest.fixture(params=["sqlite", "postgres"])
def stored(request: pytest.FixtureRequest, tmp_path: Path, seed_now: datetime) -> Iterator[Stored]:
    """A fresh database: the demo region, a hand-off with a callback number and a verification notice, all
    under the old key."""
    engine = make_engine(new_database_url(request.param, tmp_path, request))
    upgrade(engine)
    old = PhoneVault(OLD)
    sessions = make_sessionmaker(engine)
    with sessions.begin() as s:
        load_demo(s, seed_now, old)
        phones = {v.id: old.decrypt(v.phone_enc) for v in s.scalars(select(Volunteer)) if v.phone_enc}
        first = min(phones)
        s.add(Handoff(volunteer_id=first, route="waiting", callback_enc=old.encrypt("13700001111"),
                      callback_masked="137****1111", created_at=seed_now))
        s.add(Notice(key="bind:test", kind="bind_code", title="验证码", body="123456", created_at=seed_now,
                     audience={"kind": "phone", "volunteer_id": first, "phone_enc": old.encrypt("13600002222")}))
    assert len(phones) >= 5, "the demo region should have volunteers with phones"
    yield Stored(engine, sessions, phones, "13700001111", "13600002222")
    engine.dispose()


def read_all(st: Stored, vault: PhoneVault) -> dict[str, object]:
    """Every stored phone decrypted with `vault` (raises InvalidInput when one does not read)."""
    with st.sessions() as s:
        vols = {v.id: vault.decrypt(v.phone_enc) for v in s.scalars(select(Volunteer)) if v.phone_enc}
        idents = {i.id: vault.decrypt(i.address_enc) for i in s.scalars(select(ChannelIdentity))
                  if i.address_enc}
        callback = vault.decrypt(s.scalars(select(Handoff.callback_enc)).one() or "")
        code_to = vault.decrypt(s.scalars(select(Notice.audience).where(Notice.key == "bind:test")).one()["phone_enc"])
    return {"volunteers": vols, "identities": idents, "callback": callback, "code_to": code_to}


def unreadable_with(st: Stored, vault: PhoneVault) -> int:
    with st.sessions() as s:
        tokens = [t for t in s.scalars(select(Volunteer.phone_enc)) if t]
        tokens += [t for t in s.scalars(select(ChannelIdentity.address_enc)) if t]
        tokens += [t for t in s.scalars(select(Handoff.callback_enc)) if t]
    bad = 0
    for t in tokens:
        try:
            vault.decrypt(t)
        except InvalidInput:
            bad += 1
    return bad


def assert_found_by(st: Stored, vault: PhoneVault, hashes_of: str = "current") -> None:
    """Each volunteer is found by its number's hash, and so is its SMS identity."""
    with st.sessions() as s:
        for vid, phone in st.phones.items():
            keys = [vault.lookup_hash(phone)] if hashes_of == "current" else vault.lookup_hashes(phone)
            found = volunteer_by_phone_hash(s, keys)
            assert found is not None and found.id == vid, phone[:3]
            ident = s.scalars(select(ChannelIdentity).where(ChannelIdentity.channel == "sms",
                                                            ChannelIdentity.external_id.in_(keys))).first()
            assert ident is None or ident.volunteer_id == vid


def test_rotation_moves_every_phone_to_the_new_key(stored: Stored) -> None:
    before = read_all(stored, PhoneVault(OLD))
    rotating = PhoneVault(NEW, [OLD])
    assert sum(pending(stored.sessions, rotating).values()) > len(stored.phones)

    report = rotate_keys(stored.sessions, rotating, batch_size=4)

    assert report.unreadable == 0 and report.rotated >= len(stored.phones) + 2
    new_only = PhoneVault(NEW)
    assert read_all(stored, new_only) == before  # every phone reads back, with the new key alone
    assert_found_by(stored, new_only)  # looked up by the new key's hash
    with stored.sessions() as s:  # SMS identities carry the new hash
        sms = list(s.scalars(select(ChannelIdentity).where(ChannelIdentity.channel == "sms")))
        assert sms and all(i.external_id == new_only.lookup_hash(new_only.decrypt(i.address_enc or ""))
                           for i in sms)
    assert unreadable_with(stored, PhoneVault(OLD)) == len(before["volunteers"]) + len(before["identities"]) + 1
    assert pending(stored.sessions, new_only) == {"volunteers": 0, "channel_identities": 0, "handoffs": 0,
                                                  "notices": 0}

    again = rotate_keys(stored.sessions, rotating)  # idempotent: a second run changes nothing
    assert again.rotated == 0 and again.tables["volunteers"].current == len(stored.phones)


def test_interrupted_rotation_keeps_the_service_working_and_resumes(stored: Stored) -> None:
    before = read_all(stored, PhoneVault(OLD))
    rotating = PhoneVault(NEW, [OLD])

    def kill(table: str, rows: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        rotate_keys(stored.sessions, rotating, batch_size=3, after_batch=kill)

    left = pending(stored.sessions, rotating)
    assert left["volunteers"] == len(stored.phones) - 3  # the first batch was committed, the rest not
    with pytest.raises(InvalidInput):
        read_all(stored, PhoneVault(NEW))  # half-way: the new key alone does not read everything yet...
    assert read_all(stored, rotating) == before  # ...but the service, with both keys, reads every phone
    assert_found_by(stored, rotating, hashes_of="all")  # and finds every number, moved or not

    report = rotate_keys(stored.sessions, rotating, batch_size=3)  # run again: it finishes the rest
    assert report.tables["volunteers"].current == 3
    assert report.tables["volunteers"].rotated == len(stored.phones) - 3
    assert read_all(stored, PhoneVault(NEW)) == before
    assert_found_by(stored, PhoneVault(NEW))
    assert not any(pending(stored.sessions, PhoneVault(NEW)).values())


def test_rows_no_key_reads_are_reported_and_left_alone(stored: Stored) -> None:
    before = read_all(stored, PhoneVault(OLD))
    report = rotate_keys(stored.sessions, PhoneVault(NEW))  # the old key forgotten

    assert report.rotated == 0
    assert report.tables["volunteers"].unreadable == len(stored.phones)
    assert read_all(stored, PhoneVault(OLD)) == before  # nothing was touched: the old key still reads it all


def test_a_row_the_service_rewrote_meanwhile_is_not_overwritten(stored: Stored) -> None:
    """Between batches: the person binds another number (written with the new key); the rotation keeps it."""
    rotating = PhoneVault(NEW, [OLD])
    target = max(stored.phones)

    def service_writes(table: str, rows: int) -> None:
        if table == "volunteers":
            with stored.sessions.begin() as s:
                v = s.get(Volunteer, target)
                assert v is not None
                v.phone_enc, v.phone_hash = rotating.encrypt("13500003333"), rotating.lookup_hash("13500003333")

    rotate_keys(stored.sessions, rotating, batch_size=3, after_batch=service_writes)
    with stored.sessions() as s:
        v = s.get(Volunteer, target)
        assert v is not None and PhoneVault(NEW).decrypt(v.phone_enc or "") == "13500003333"


def test_a_row_rewritten_inside_a_batch_is_left_as_the_service_wrote_it(stored: Stored) -> None:
    """The rotation has read a row and is about to write it when the service commits a new number for it:
    its update names the value it read, finds none, and counts the row as changed instead of overwriting."""
    if stored.engine.dialect.name != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: the service waits for the batch, nothing races")
    target = min(stored.phones)

    class Racing(PhoneVault):
        raced = False

        def encrypt(self, phone: str) -> str:
            if not self.raced and phone == stored.phones[target]:
                self.raced = True  # the service, in its own transaction, commits first
                with stored.sessions.begin() as s:
                    v = s.get(Volunteer, target)
                    assert v is not None
                    v.phone_enc, v.phone_hash = super().encrypt("13500003333"), self.lookup_hash("13500003333")
            return super().encrypt(phone)

    racing = Racing(NEW, [OLD])
    report = rotate_keys(stored.sessions, racing, batch_size=3)
    assert racing.raced and report.tables["volunteers"].changed == 1
    with stored.sessions() as s:
        v = s.get(Volunteer, target)
        assert v is not None and PhoneVault(NEW).decrypt(v.phone_enc or "") == "13500003333"
        assert v.phone_hash == PhoneVault(NEW).lookup_hash("13500003333")
    assert not any(pending(stored.sessions, PhoneVault(NEW)).values())
