"""Remote backend: a Rasa server's ``POST /model/parse``, answered in the built-in parser's shape."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nlu import numbers as num
from nlu import resources, timeparse
from nlu.normalize import build_table, normalize
from nlu.numerals import DIGITS, to_int

log = logging.getLogger(__name__)

FALLBACK = "nlu_fallback"


class RasaHTTPParser:
    """Ask a Rasa NLU server; on any error ask ``fallback`` (the built-in parser) instead, or, without one,
    answer ``nlu_fallback`` so the dialogs offer the menu.

    Rasa's DIET returns entity values as text, so time spans are resolved here with the built-in time
    rules relative to ``now``, numbers and phones are turned into int and digits, and Rasa's
    ``confidence_entity`` becomes ``confidence``.
    """

    def __init__(self, url: str = "http://127.0.0.1:5005", timeout: float = 2.0, *, fallback: Any = None,
                 on_fallback: Callable[[str], None] | None = None, pause_seconds: float = 10.0) -> None:
        """Args:
        url: the server's base URL (``/model/parse`` is appended).
        timeout: seconds for connecting and reading; keep it well inside WeChat's 5-second window.
        fallback: a parser with the same ``parse(text, now)`` that answers while the server cannot.
        on_fallback: called with "unreachable" or "bad_answer" each time ``fallback`` answers.
        pause_seconds: after the server failed, ``fallback`` answers alone this long (no timeout per message).
        """
        self.url = url.rstrip("/") + "/model/parse"
        self.timeout = timeout
        self.fallback = fallback
        self.on_fallback = on_fallback
        self.pause_seconds = pause_seconds
        self._paused_until = 0.0
        self._table = build_table(resources.t2s_chars())

    def _instead(self, text: str, now: datetime, reason: str) -> dict[str, Any]:
        if self.fallback is None:
            return _fallback(text)
        if reason == "unreachable":
            self._paused_until = time.monotonic() + self.pause_seconds
        if self.on_fallback is not None:
            self.on_fallback(reason)
        result: dict[str, Any] = self.fallback.parse(text, now)
        return result

    def _post(self, text: str) -> dict[str, Any]:
        body = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
            payload: Any = json.loads(response.read().decode("utf-8"))
        if not isinstance(payload, dict):
            raise ValueError("Rasa answered something that is not a JSON object")
        return payload

    def parse(self, text: str, now: datetime) -> dict[str, Any]:
        """Parse ``text`` on the server (same shape and guarantees as :meth:`nlu.Parser.parse`)."""
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        if not text.strip():
            return _fallback(text)
        if self.fallback is not None and time.monotonic() < self._paused_until:
            return self._instead(text, now, "unreachable")
        instead = "the built-in parser answers" if self.fallback is not None else "answering nlu_fallback"
        try:
            payload = self._post(text)
        except (OSError, urllib.error.URLError) as exc:
            log.warning("Rasa server %s failed (%s); %s", self.url, type(exc).__name__, instead)
            return self._instead(text, now, "unreachable")
        except ValueError as exc:
            log.warning("Rasa server %s answered something that is not JSON (%s); %s", self.url,
                        type(exc).__name__, instead)
            return self._instead(text, now, "bad_answer")
        try:
            return self._convert(text, payload, now)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("Rasa server %s answered an unexpected shape (%s)", self.url, type(exc).__name__)
            return self._instead(text, now, "bad_answer")

    def _convert(self, text: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
        if now.tzinfo is not None:
            from nlu.parser import SHANGHAI

            now = now.astimezone(SHANGHAI).replace(tzinfo=None)
        intent = payload.get("intent") or {}
        name = intent.get("name") or FALLBACK
        ranking = [
            {"name": str(r["name"]), "confidence": float(r.get("confidence") or 0.0)}
            for r in payload.get("intent_ranking") or []
        ]
        entities = []
        for raw in _merge_times(text, payload.get("entities") or []):
            entity = self._entity(text, raw, now)
            if entity is not None:
                entities.append(entity)
        return {
            "text": text,
            "intent": {"name": str(name), "confidence": float(intent.get("confidence") or 0.0)},
            "entities": entities,
            "intent_ranking": ranking or [{"name": str(name), "confidence": float(intent.get("confidence") or 0.0)}],
        }

    def _entity(self, text: str, raw: dict[str, Any], now: datetime) -> dict[str, Any] | None:
        start, end = int(raw["start"]), int(raw["end"])
        kind = str(raw["entity"])
        span = text[start:end]
        value: Any = raw.get("value", span)
        if kind == "time":
            norm = normalize(span, self._table)
            found = timeparse.extract(norm.text, now)
            if not found:
                return None
            value = found[0].interval.value()
        elif kind == "number":
            got = to_int(str(value).strip()) if value is not None else None
            if got is None:  # 带老伴和孙女 → 3, 两个人 → 2, 第三个 → 3: our own reading of the span
                norm_span = normalize(span, self._table).text
                ours = num.numbers(norm_span, bytearray(len(norm_span)))
                got = int(str(ours[0].value)) if ours else None
            if got is None:
                digits = "".join(c for c in span if c.isdigit() or c in DIGITS)
                got = to_int(digits[-2:]) if digits else None
            if got is None:
                return None
            value = got
        elif kind == "phone":
            digits = "".join(str(DIGITS[c]) if c in DIGITS else c for c in span if c.isdigit() or c in DIGITS)
            if len(digits) != 11:
                return None
            value = digits
        item: dict[str, Any] = {
            "entity": kind,
            "value": value,
            "start": start,
            "end": end,
            "confidence": float(raw.get("confidence_entity", raw.get("confidence", 1.0)) or 0.0),
            "extractor": str(raw.get("extractor", "rasa")),
        }
        if raw.get("role"):
            item["role"] = str(raw["role"])
        return item


def _merge_times(text: str, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DIET tags 明儿个 and 后晌 as two time entities: join neighbours so they resolve as one."""
    out: list[dict[str, Any]] = []
    for e in sorted(raw, key=lambda x: int(x["start"])):
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev["entity"] == e["entity"] == "time"
            and text[int(prev["end"]) : int(e["start"])].strip(" 的,，") == ""
        ):
            merged = dict(prev)
            merged["end"] = e["end"]
            merged["value"] = text[int(prev["start"]) : int(e["end"])]
            merged["confidence_entity"] = min(
                float(prev.get("confidence_entity", 1.0)), float(e.get("confidence_entity", 1.0))
            )
            out[-1] = merged
        else:
            out.append(e)
    return out


def _fallback(text: str) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": FALLBACK, "confidence": 1.0},
        "entities": [],
        "intent_ranking": [{"name": FALLBACK, "confidence": 1.0}],
    }
