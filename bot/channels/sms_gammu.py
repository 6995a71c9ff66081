"""gammu-smsd modem: signed posts from scripts/gammu_run_on_receive.py in; gammu-smsd-inject or SQL out."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine
from sqlalchemy.exc import SQLAlchemyError

from ..config import SmsConfig
from .base import SendResult
from .sms import BadRequest, InboundSms, SmsProvider, WebRequest, verify_hmac

# The columns we write of gammu's SQL backend `outbox` table (gammu creates the table; others default).
_META = MetaData()
OUTBOX = Table(
    "outbox", _META,
    Column("ID", Integer, primary_key=True),
    Column("DestinationNumber", String(20)),
    Column("TextDecoded", Text),
    Column("Coding", String(255)),
    Column("CreatorID", Text),
    Column("Priority", Integer),
)


class GammuProvider(SmsProvider):
    """Inbound: POST /sms/gammu `{"messages": [{"number", "text", "id"}]}` signed like the Android
    gateway (X-Signature = hex HMAC-SHA256 of body + X-Timestamp) with SMS_WEBHOOK_SECRET.
    Outbound: `gammu-smsd-inject TEXT <number> -unicode -text <text>` under a UTF-8 locale, or a row
    in the SQL backend's outbox table."""

    name = "gammu"
    free_text = True

    def __init__(self, config: SmsConfig) -> None:
        super().__init__(config)
        self.cfg = config.gammu
        self._engine: Any = None

    def verify(self, req: WebRequest) -> bool:
        return verify_hmac(self.config.webhook_secret, req, 300)

    def parse(self, req: WebRequest) -> list[InboundSms]:
        try:
            data = json.loads(req.body.decode("utf-8"))
            out = []
            for m in data["messages"]:
                if not isinstance(m["number"], str) or not isinstance(m["text"], str):
                    raise TypeError
                out.append(InboundSms(m["number"], m["text"], ("gammu:" + m["id"]) if m.get("id") else None))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BadRequest("expected {messages: [{number, text, id}]}") from None
        return out

    def send_text(self, phone: str, text: str, *, index: int = 0, total: int = 1) -> SendResult:
        if self.cfg.outbound == "sql":
            return self._send_sql(phone, text, total - index)
        return self._send_inject(phone, text)

    def _send_inject(self, phone: str, text: str) -> SendResult:
        cmd = [self.cfg.inject_path]
        if self.cfg.smsd_config:
            cmd += ["-c", self.cfg.smsd_config]
        cmd += ["TEXT", phone, "-unicode", "-text", text]
        # gammu decodes its arguments with the locale: under LANG=C Chinese would become '?'.
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        try:
            done = subprocess.run(cmd, env=env, capture_output=True, timeout=self.cfg.timeout_seconds,
                                  check=False)
        except FileNotFoundError:
            return SendResult("failed", f"{self.cfg.inject_path} not found")
        except subprocess.TimeoutExpired:
            return SendResult("retry", "inject timed out", retry_after=5.0)
        output = (done.stdout + done.stderr).decode("utf-8", errors="replace")
        if done.returncode != 0:
            # Typically the spool or the database is busy; the modem itself reports failures later.
            return SendResult("retry", f"inject exit {done.returncode}: {output.strip()[:120]}", retry_after=2.0)
        found = re.search(r"Written message with ID (\S+)", output)
        return SendResult("sent", provider_id=found.group(1) if found else None)

    def _send_sql(self, phone: str, text: str, priority: int) -> SendResult:
        if not self.cfg.sql_url:
            return SendResult("failed", "sms.gammu.sql_url is not set (SMS_GAMMU_SQL_URL)")
        if self._engine is None:
            self._engine = create_engine(self.cfg.sql_url, pool_pre_ping=True)
        try:
            with self._engine.begin() as conn:
                row = conn.execute(OUTBOX.insert().values(
                    DestinationNumber=phone, TextDecoded=text, Coding="Unicode_No_Compression",
                    CreatorID=self.cfg.creator_id, Priority=priority))
                return SendResult("sent", provider_id=str(row.inserted_primary_key[0]))
        except SQLAlchemyError as exc:
            return SendResult("retry", type(exc).__name__, retry_after=2.0)
