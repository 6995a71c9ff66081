"""gammu-smsd: the RunOnReceive script under LANG=C posts Chinese intact; inject command and SQL outbox out."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from bot.channels.sms import SmsChannel
from data.kv import MemoryStore
from tests.drivers.sms import WEBHOOK_SECRET, SmsHarness, new_phone

# Starts other processes: their clocks and this one's must agree (tests/conftest.py `clock`).
pytestmark = pytest.mark.wall_clock

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gammu_run_on_receive.py"

# A stand-in for gammu-smsd-inject: records its argv (as the bytes it got) and the locale it ran under.
FAKE_INJECT = """#!/bin/sh
printf '%s\\036' "$LC_ALL" >> "{log}"
for a in "$@"; do printf '%s\\037' "$a" >> "{log}"; done
printf '\\035' >> "{log}"
{fail}
echo "gammu-smsd-inject[1]: Written message with ID /var/spool/gammu/outbox/OUTC_$$.txt"
"""


@pytest.fixture
def inject(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    log = tmp_path / "inject.log"
    script = tmp_path / "gammu-smsd-inject"
    script.write_text(FAKE_INJECT.format(log=log, fail=""), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    yield script, log


@pytest.fixture
def harness(engine: Engine, inject: tuple[Path, Path]) -> Iterator[SmsHarness]:
    h = SmsHarness(engine, MemoryStore(), {"sms.providers": ["gammu"], "sms.outbound": "gammu",
                                           "sms.gammu.inject_path": str(inject[0])})
    yield h
    h.close()


def run_script(url: str, env_extra: dict[str, bytes], *ids: str) -> subprocess.CompletedProcess[bytes]:
    env = {b"PATH": os.environb.get(b"PATH", b"/usr/bin"), b"LANG": b"C", b"LC_ALL": b"C",
           b"SMS_WEBHOOK_SECRET": WEBHOOK_SECRET.encode(), **{k.encode(): v for k, v in env_extra.items()}}
    return subprocess.run([sys.executable, str(SCRIPT), "--url", url, *ids], env=env, capture_output=True,
                          timeout=20, check=False)


def injected(log: Path) -> list[tuple[str, list[str]]]:
    records = log.read_bytes().decode("utf-8").split("\x1d")[:-1] if log.exists() else []
    return [(r.split("\x1e")[0], r.split("\x1e")[1].split("\x1f")[:-1]) for r in records]


def test_run_on_receive_with_chinese_under_lang_c(harness: SmsHarness, inject: tuple[Path, Path]) -> None:
    number = new_phone()
    done = run_script(harness.url("gammu", None), {"SMS_MESSAGES": b"1", "SMS_1_NUMBER": b"+86" + number.encode(),
                                                   "SMS_1_TEXT": "找活动，明天上午".encode()},
                      "IN20261128_101500_00_+86" + number + "_00.txt")
    assert done.returncode == 0, done.stderr
    harness.settle()
    with harness.rt.sessions() as s:
        logged = s.execute(text("select text from message_log where direction='in' and address=:a"),
                           {"a": number[:3] + "****" + number[-4:]}).scalars().all()
    assert "找活动，明天上午" in logged
    calls = injected(inject[1])
    assert calls and all(loc == "C.UTF-8" for loc, _ in calls)
    for _, argv in calls:
        assert argv[:2] == ["TEXT", number] and "-unicode" in argv and len(argv[-1]) <= 70
    # gammu runs the script again for the same message id: processed once
    assert run_script(harness.url("gammu", None), {"SMS_1_NUMBER": number.encode(), "SMS_1_TEXT": "找活动，明天上午".encode()},
                      "IN20261128_101500_00_+86" + number + "_00.txt").returncode == 0
    harness.settle()
    assert harness.log_count(number, "in") == 1


def test_run_on_receive_joins_a_long_message(harness: SmsHarness) -> None:
    number = new_phone()
    done = run_script(harness.url("gammu", None), {
        "SMS_MESSAGES": b"2", "SMS_1_NUMBER": number.encode(), "SMS_1_TEXT": "前半".encode(),
        "SMS_2_TEXT": "后半".encode(), "DECODED_PARTS": b"1", "DECODED_1_TEXT": "前半后半".encode()})
    assert done.returncode == 0
    harness.settle()
    assert harness.log_count(number, "in") == 1


def test_run_on_receive_refused_without_the_secret(harness: SmsHarness) -> None:
    number = new_phone()
    env = {"SMS_1_NUMBER": number.encode(), "SMS_1_TEXT": b"1", "SMS_WEBHOOK_SECRET": b"wrong"}
    done = run_script(harness.url("gammu", None), env)
    assert done.returncode == 1 and b"403" in done.stderr
    assert run_script(harness.url("gammu", None), {"SMS_1_TEXT": b"1"}).returncode == 2
    assert harness.identity(number) is None


def test_inject_failure_is_retry_and_missing_binary_failed(engine: Engine, tmp_path: Path) -> None:
    script = tmp_path / "inject-fails"
    script.write_text(FAKE_INJECT.format(log=tmp_path / "l", fail="echo busy >&2; exit 3"), encoding="utf-8")
    script.chmod(0o755)
    h = SmsHarness(engine, MemoryStore(), {"sms.providers": ["gammu"], "sms.outbound": "gammu",
                                           "sms.gammu.inject_path": str(script), "sms.send_attempts": 2})
    try:
        channel = SmsChannel(h.rt, h.service.provider("gammu"), sleep=lambda s: None)
        res = channel.send_code(new_phone(), "123456")
        assert res.status == "retry" and "exit 3" in res.reason
        h.service.provider("gammu").cfg.inject_path = str(tmp_path / "missing")
        assert channel.send_code(new_phone(), "123456").status == "failed"
    finally:
        h.close()


def test_sql_outbox(engine: Engine, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'smsd.db'}"
    gammu_db = create_engine(url)
    with gammu_db.begin() as conn:  # the columns of gammu's own schema that matter here
        conn.execute(text(
            "CREATE TABLE outbox (ID INTEGER PRIMARY KEY AUTOINCREMENT, DestinationNumber TEXT NOT NULL DEFAULT '',"
            " TextDecoded TEXT NOT NULL DEFAULT '', Coding TEXT NOT NULL DEFAULT 'Default_No_Compression',"
            " CreatorID TEXT NOT NULL, MultiPart TEXT NOT NULL DEFAULT 'false', Priority INTEGER DEFAULT 0,"
            " Status TEXT NOT NULL DEFAULT 'Reserved')"))
    h = SmsHarness(engine, MemoryStore(), {"sms.providers": ["gammu"], "sms.outbound": "gammu",
                                           "sms.gammu.outbound": "sql", "sms.gammu.sql_url": url})
    try:
        number = new_phone()
        long_notice = "重阳节敬老活动改到10月11日（星期六）上午9点，在幸福里社区活动室，请带上志愿者证。" * 2
        assert h.service.channel().send_notice(number, "活动变更", long_notice).ok
        with gammu_db.connect() as conn:
            rows = conn.execute(text("SELECT DestinationNumber, TextDecoded, Coding, CreatorID, Priority FROM outbox"
                                     " ORDER BY ID")).all()
        assert len(rows) >= 2 and all(r[0] == number and r[2] == "Unicode_No_Compression" for r in rows)
        assert all(len(r[1]) <= 67 for r in rows) and rows[0][4] > rows[-1][4]
    finally:
        h.close()
        gammu_db.dispose()
