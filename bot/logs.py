"""Log set-up for every process: plain lines, or JSON lines with YINLING_LOG_FORMAT=json.

Every record carries the request id, channel and intent of the turn running in its thread (set by the
pipeline through `bot.metrics.TurnProbe`), and passes a last filter that masks phone and ID-card numbers,
whatever a caller put into the message.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

from data.crypto import mask_numbers

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
CHANNEL: contextvars.ContextVar[str | None] = contextvars.ContextVar("channel", default=None)
INTENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("intent", default=None)

PLAIN = "%(asctime)s %(levelname)s %(process)d %(name)s %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "process", "message")
FORMATS = ("plain", "json")


class TurnContext(logging.Filter):
    """Adds request_id, channel and intent of the current turn; masks numbers in the finished message."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (("request_id", REQUEST_ID), ("channel", CHANNEL), ("intent", INTENT)):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is logged as it is
            return True
        masked = mask_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonLines(JsonFormatter):
    """One JSON object per line: time, level, logger, pid, message, the turn's fields and any `extra`."""

    def __init__(self) -> None:
        super().__init__(" ".join(f"%({f})s" for f in JSON_FIELDS), rename_fields={"asctime": "time",
                         "levelname": "level", "name": "logger"}, json_ensure_ascii=False,
                         timestamp=False)

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        for key in ("request_id", "channel", "intent"):
            if log_data.get(key) is None:
                log_data.pop(key, None)
        if isinstance(log_data.get("exc_info"), str):
            log_data["exc_info"] = mask_numbers(log_data["exc_info"])
        return log_data


def log_format(env: dict[str, str] | None = None) -> str:
    value = (os.environ if env is None else env).get("YINLING_LOG_FORMAT", "plain").strip().lower() or "plain"
    if value not in FORMATS:
        raise ValueError(f"YINLING_LOG_FORMAT: {value!r} must be plain or json")
    return value


def setup(level: str | int = "INFO", fmt: str | None = None, stream: TextIO | None = None,
          force: bool = False) -> logging.Handler | None:
    """Send the root logger's records to `stream` (stderr) in `fmt` (YINLING_LOG_FORMAT, else plain).

    Like `logging.basicConfig`, it leaves a root logger that someone else has configured alone (a test
    run's capture, an embedding program) unless `force`; it replaces the handler an earlier `setup`
    installed, so calling it twice (before and after the configuration is read) is safe. Raises ValueError
    for an unknown YINLING_LOG_FORMAT.
    """
    fmt = fmt or log_format()
    root = logging.getLogger()
    ours = [h for h in root.handlers if h.get_name() == "yinling"]
    if not force and len(ours) != len(root.handlers):
        root.setLevel(level)
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else logging.Formatter(PLAIN))
    handler.addFilter(TurnContext())
    handler.set_name("yinling")
    for old in ours:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
