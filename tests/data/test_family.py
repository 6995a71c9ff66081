"""Family links (data.family) on SQLite and PostgreSQL: codes hashed and single use, the parent's yes,
at most three helpers, unlinking, forgetting."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import family, profiles, services
from data.crypto import PhoneVault
from data.models import Consent
from data.models_family import FamilyLink, LinkState

from .helpers import make_activity, make_volunteer


@pytest.fixture
def digest(vault: PhoneVault) -> family.Digest:
    return lambda code: vault.keyed_hash("family-code", code)


def test_code_is_stored_hashed_and_works_once(session: Session, seed_now: datetime, digest: family.Digest) -> None:
    mum, son, stranger = (make_volunteer(session, seed_now, n) for n in ("妈", "儿子", "路人"))
    link, code = family.issue_code(session, mum.id, seed_now, digest, relation="儿子")
    assert len(code) == 6 and code.isdigit()
    assert link.code_hash == digest(code) and code not in (link.code_hash or "")
    got = family.claim(session, code, son.id, seed_now + timedelta(minutes=1), digest)
    assert got.link is not None and got.link.helper_id == son.id and got.link.state == LinkState.PENDING
    assert got.link.code_hash is None
    again = family.claim(session, code, stranger.id, seed_now + timedelta(minutes=2), digest)
    assert again.link is None and again.problem == "unknown"
    assert family.between(session, son.id, mum.id) is None  # nothing linked before the parent's yes


def test_code_runs_out_after_a_day(session: Session, seed_now: datetime, digest: family.Digest) -> None:
    mum, son = make_volunteer(session, seed_now, "妈"), make_volunteer(session, seed_now, "儿子")
    _, code = family.issue_code(session, mum.id, seed_now, digest)
    assert family.claim(session, code, son.id, seed_now + timedelta(hours=24, seconds=1), digest).link is None


def test_yes_links_and_records_consent_no_does_not(session: Session, seed_now: datetime,
                                                   digest: family.Digest) -> None:
    mum, son, daughter = (make_volunteer(session, seed_now, n) for n in ("妈", "儿子", "女儿"))
    for helper, yes in ((son, True), (daughter, False)):
        _, code = family.issue_code(session, mum.id, seed_now, digest)
        link = family.claim(session, code, helper.id, seed_now, digest).link
        assert link is not None
        family.decide(session, link.id, mum.id, yes, "wechat", seed_now)
    assert family.between(session, son.id, mum.id) is not None
    assert family.between(session, daughter.id, mum.id) is None
    consents = session.scalars(select(Consent).where(Consent.volunteer_id == mum.id, Consent.kind == "family")
                               .order_by(Consent.id)).all()
    assert [c.granted for c in consents] == [True, False] and consents[0].channel == "wechat"
    active = family.helpers_of(session, mum.id)
    assert [a.helper_id for a in active] == [son.id] and active[0].consent_at == seed_now


def test_only_the_parent_answers(session: Session, seed_now: datetime, digest: family.Digest) -> None:
    mum, son = make_volunteer(session, seed_now, "妈"), make_volunteer(session, seed_now, "儿子")
    _, code = family.issue_code(session, mum.id, seed_now, digest)
    link = family.claim(session, code, son.id, seed_now, digest).link
    assert link is not None
    with pytest.raises(family.NotFound):
        family.decide(session, link.id, son.id, True, "wechat", seed_now)


def test_at_most_three_helpers_and_a_helper_may_have_two_parents(session: Session, seed_now: datetime,
                                                                 digest: family.Digest) -> None:
    mum, dad = make_volunteer(session, seed_now, "妈"), make_volunteer(session, seed_now, "爸")
    kids = [make_volunteer(session, seed_now, f"孩子{i}") for i in range(3)]
    for kid in kids:
        _, code = family.issue_code(session, mum.id, seed_now, digest)
        link = family.claim(session, code, kid.id, seed_now, digest).link
        assert link is not None
        family.decide(session, link.id, mum.id, True, "wechat", seed_now)
    with pytest.raises(family.TooManyHelpers):
        family.issue_code(session, mum.id, seed_now, digest)
    _, code = family.issue_code(session, dad.id, seed_now, digest)
    link = family.claim(session, code, kids[0].id, seed_now, digest).link
    assert link is not None
    family.decide(session, link.id, dad.id, True, "sms", seed_now)
    assert {p.parent_id for p in family.parents_of(session, kids[0].id)} == {mum.id, dad.id}


def test_unlink_by_either_side_and_a_stranger_cannot(session: Session, seed_now: datetime,
                                                    digest: family.Digest) -> None:
    mum, son, stranger = (make_volunteer(session, seed_now, n) for n in ("妈", "儿子", "路人"))
    _, code = family.issue_code(session, mum.id, seed_now, digest)
    link = family.claim(session, code, son.id, seed_now, digest).link
    assert link is not None
    family.decide(session, link.id, mum.id, True, "wechat", seed_now)
    with pytest.raises(family.NotFound):
        family.unlink(session, link.id, stranger.id, seed_now)
    family.unlink(session, link.id, son.id, seed_now)
    assert family.between(session, son.id, mum.id) is None
    assert session.get(FamilyLink, link.id).ended_by == son.id  # type: ignore[union-attr]


def test_made_by_helper_only_for_a_linked_helper(session: Session, seed_now: datetime,
                                                  digest: family.Digest) -> None:
    mum, son, stranger = (make_volunteer(session, seed_now, n) for n in ("妈", "儿子", "路人"))
    act = make_activity(session, seed_now)
    res = services.sign_up(session, volunteer_id=mum.id, activity_id=act.id, now=seed_now)
    with pytest.raises(family.NotFound):
        family.mark_made_by(session, res.signup.id, son.id, mum.id)
    _, code = family.issue_code(session, mum.id, seed_now, digest)
    link = family.claim(session, code, son.id, seed_now, digest).link
    assert link is not None
    family.decide(session, link.id, mum.id, True, "wechat", seed_now)
    with pytest.raises(family.NotFound):
        family.mark_made_by(session, res.signup.id, stranger.id, mum.id)
    assert family.mark_made_by(session, res.signup.id, son.id, mum.id).made_by_helper_id == son.id


def test_forgetting_either_side_removes_the_links(session: Session, seed_now: datetime,
                                                  digest: family.Digest) -> None:
    mum, son = make_volunteer(session, seed_now, "妈"), make_volunteer(session, seed_now, "儿子")
    _, code = family.issue_code(session, mum.id, seed_now, digest)
    link = family.claim(session, code, son.id, seed_now, digest).link
    assert link is not None
    family.decide(session, link.id, mum.id, True, "wechat", seed_now)
    profiles.forget_volunteer(session, son, "wechat", seed_now)
    assert session.scalars(select(FamilyLink).where(FamilyLink.parent_id == mum.id)).all() == []
