"""`python -m bot keys rotate | status`, the old keys in the configuration, and the service during a rotation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.sms import notify_block_reason, sms_identity
from bot.cli import main
from bot.config import ConfigError, load_config
from bot.pipeline import Inbound, Pipeline
from bot.runtime import build_runtime
from data.crypto import PhoneVault
from data.db import make_engine, make_sessionmaker
from data.migrate import upgrade
from data.models import ChannelIdentity, Volunteer
from data.seed import load_demo
from tests.conftest import new_database_url

OLD = "old-secret-key-0123456789"
NEW = "new-secret-key-9876543210"
OLDER = "older-secret-key-000000000"


def demo_under_old_key(url: str, now: datetime) -> dict[int, str]:
    engine = make_engine(url)
    upgrade(engine)
    old = PhoneVault(OLD)
    with make_sessionmaker(engine).begin() as s:
        load_demo(s, now, old)
        phones = {v.id: old.decrypt(v.phone_enc) for v in s.scalars(select(Volunteer)) if v.phone_enc}
    engine.dispose()
    return phones


def test_old_keys_are_a_comma_list_and_never_come_from_the_file(tmp_path: Path) -> None:
    cfg = load_config(env={"YINLING_SECRET_KEY": NEW, "YINLING_SECRET_KEY_OLD": f"{OLD}, {OLDER}"})
    assert cfg.old_secret_keys == [OLD, OLDER]
    assert load_config(env={"YINLING_SECRET_KEY": NEW}).old_secret_keys == []
    with pytest.raises(ConfigError, match="secret_key_old"):
        load_config(env={"YINLING_SECRET_KEY": NEW, "YINLING_SECRET_KEY_OLD": "short"})
    path = tmp_path / "config.yaml"
    path.write_text(f"secret_key_old: {OLD}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="YINLING_SECRET_KEY_OLD"):
        load_config(path, env={"YINLING_SECRET_KEY": NEW})


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_rotate_command_end_to_end(kind: str, tmp_path: Path, request: pytest.FixtureRequest,
                                   seed_now: datetime, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    url = new_database_url(kind, tmp_path, request)
    phones = demo_under_old_key(url, seed_now)
    monkeypatch.delenv("YINLING_REDIS_URL", raising=False)
    monkeypatch.setenv("YINLING_DATABASE_URL", url)
    monkeypatch.setenv("YINLING_SECRET_KEY", NEW)
    monkeypatch.delenv("YINLING_SECRET_KEY_OLD", raising=False)

    assert main(["keys", "rotate"]) == 1  # the old key not given: nothing is touched, and it says what to do
    assert "YINLING_SECRET_KEY_OLD" in capsys.readouterr().err

    monkeypatch.setenv("YINLING_SECRET_KEY_OLD", f"{OLDER},{OLD}")
    assert main(["keys", "status"]) == 1
    assert main(["keys", "rotate", "--batch-size", "4"]) == 0
    out = capsys.readouterr().out
    assert f"换成新密钥 {len(phones)}" in out and "解不开 0" in out
    assert "等一个小时" in out  # as deploy/README.md: queued SMS jobs in Redis still carry the old key's phones
    assert main(["keys", "status"]) == 0

    monkeypatch.delenv("YINLING_SECRET_KEY_OLD")  # the procedure's last step: the old key removed
    assert main(["keys", "status"]) == 0
    rt = build_runtime()
    with rt.sessions() as s:
        for vid, phone in phones.items():
            v = s.get(Volunteer, vid)
            assert v is not None and v.phone_enc and rt.vault.decrypt(v.phone_enc) == phone
            assert v.phone_hash == rt.vault.lookup_hash(phone)
    rt.engine.dispose()


def test_generate_prints_a_long_random_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "generate"]) == 0
    first = capsys.readouterr().out.strip()
    assert main(["keys", "generate"]) == 0
    assert len(first) >= 48 and capsys.readouterr().out.strip() != first


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_service_with_both_keys_finds_numbers_not_yet_moved(kind: str, tmp_path: Path, seed_now: datetime,
                                                          request: pytest.FixtureRequest) -> None:
    """Restarted with the new key (and the old one) before the rotation ran: an SMS from a known number
    reaches its volunteer, not a new one; opt-outs and notice checks still see it."""
    url = new_database_url(kind, tmp_path, request)
    phones = demo_under_old_key(url, seed_now)
    rt = build_runtime(load_config(env={"YINLING_SECRET_KEY": NEW, "YINLING_SECRET_KEY_OLD": OLD},
                                   overrides={"database.url": url}))
    pipeline = Pipeline(rt)
    with rt.sessions() as s:
        sms = list(s.scalars(select(ChannelIdentity).where(ChannelIdentity.channel == "sms")
                             .order_by(ChannelIdentity.id)))
        for ident in sms[::2]:  # half the numbers known only on the volunteer (bound from WeChat, imported)
            s.delete(ident)
        s.flush()
        sms_people = {i.volunteer_id for i in sms[1::2]}
        assert sms_people and set(phones) - sms_people
        for vid, phone in phones.items():
            person = s.get(Volunteer, vid)
            assert person is not None
            person.notices_opt_out = True  # the person turned notices off: still known by the old hash
            assert notify_block_reason(s, phone, rt.vault) in ("notices_off", "opted_out")
            volunteer, is_new, shown = pipeline.identify(s, Inbound(channel="sms", sender=phone), seed_now)
            assert (volunteer.id, is_new) == (vid, False)
            assert shown == phone[:3] + "****" + phone[-4:]
            if vid in sms_people:
                ident = sms_identity(s, rt.vault, phone)
                assert ident is not None and ident.volunteer_id == vid
        s.rollback()
    rt.engine.dispose()
