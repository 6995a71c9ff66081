"""SMS client: provider interface and registry, segments and templates, opt-out words and checks, sending."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.crypto import PhoneVault, mask_phone, normalize_phone
from data.errors import InvalidInput
from data.models import ChannelIdentity, Volunteer
from data.timeutil import utcnow
from dialogs import Choices, Reply, Text

from ..config import ConfigError, SmsConfig
from ..runtime import Runtime
from .base import SendResult

log = logging.getLogger("yinling.sms")

# Provider registry: name → "module:Class", imported only when configured (the SDKs are not small).
PROVIDERS: dict[str, str] = {
    "console": "bot.channels.sms_console:ConsoleProvider",
    "android": "bot.channels.sms_android:AndroidProvider",
    "gammu": "bot.channels.sms_gammu:GammuProvider",
    "tencent": "bot.channels.sms_tencent:TencentProvider",
    "aliyun": "bot.channels.sms_aliyun:AliyunProvider",
}

SINGLE = 70  # UCS-2 characters in one SMS
PART = 67  # per part once a reply needs more than one

OPT_OUT_WORDS = frozenset({"T", "TD", "N", "R", "退订", "取消订阅"})
RESUME_WORDS = frozenset({"订阅", "恢复订阅", "恢复通知", "重新订阅"})

BIND_CODE = "银龄志愿助手：您的绑定验证码是{code}，10分钟内有效。如不是您本人操作，请不用理会。"


# -- what providers get and give ------------------------------------------------------------------
@dataclass(frozen=True)
class InboundSms:
    """One received SMS as a provider reports it (the number not yet normalized)."""

    phone: str
    text: str
    provider_id: str | None = None  # unique per message when the provider has one
    opt_out: bool = False  # a provider's own opt-out signal


@dataclass
class WebRequest:
    """The parts of an HTTP request a provider looks at (kept free of Flask for tests)."""

    body: bytes
    headers: Mapping[str, str]
    args: Mapping[str, str] = field(default_factory=dict)


@dataclass
class WebAnswer:
    body: Any  # str, or a dict/list sent as JSON
    status: int = 200


class BadRequest(Exception):
    """A callback we refuse: wrong signature (403), malformed body or number (400)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class TemplateSpec:
    """An approved provider template: its id and its variables in order, each with a length limit."""

    name: str
    id: str
    vars: tuple[tuple[str, int], ...]

    @classmethod
    def from_config(cls, provider: str, name: str, raw: Any) -> TemplateSpec:
        key = f"sms.{provider}.templates.{name}"
        if not isinstance(raw, Mapping) or not raw.get("id") or not isinstance(raw.get("vars"), Mapping):
            raise ConfigError(f"{key}: needs `id` and `vars` (variable name → maximum characters)")
        out: list[tuple[str, int]] = []
        for var, limit in raw["vars"].items():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ConfigError(f"{key}.vars.{var}: {limit!r} is not a positive number of characters")
            out.append((str(var), limit))
        if not out:
            raise ConfigError(f"{key}.vars: at least one variable")
        return cls(name, str(raw["id"]), tuple(out))

    @property
    def capacity(self) -> int:
        return sum(limit for _, limit in self.vars)


class SmsProvider:
    """One SMS gateway. Subclasses verify and parse callbacks and send free text or templates."""

    name: ClassVar[str] = ""
    free_text: ClassVar[bool] = True  # False: template-only (Chinese cloud SMS)
    needs_secret: ClassVar[bool] = True  # inbound must be authenticated by a configured secret

    def __init__(self, config: SmsConfig) -> None:
        self.config = config
        self.templates: dict[str, TemplateSpec] = {}

    # inbound
    def verify(self, req: WebRequest) -> bool:
        raise NotImplementedError

    def parse(self, req: WebRequest) -> list[InboundSms]:
        raise NotImplementedError

    def ack(self) -> WebAnswer:
        return WebAnswer({"ok": True})

    def error(self, exc: BadRequest) -> WebAnswer:
        return WebAnswer({"error": exc.reason}, exc.status)

    # outbound
    def send_text(self, phone: str, text: str, *, index: int = 0, total: int = 1) -> SendResult:
        raise NotImplementedError

    def send_template(self, phone: str, spec: TemplateSpec, params: list[tuple[str, str]]) -> SendResult:
        raise NotImplementedError

    def _check_token(self, req: WebRequest) -> bool:
        """Tencent and Aliyun do not sign callbacks: the callback URL carries ?token=<SMS_WEBHOOK_SECRET>."""
        secret = self.config.webhook_secret or ""
        given = str(req.args.get("token", ""))
        return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def provider_class(name: str) -> type[SmsProvider]:
    if name not in PROVIDERS:
        raise ConfigError(f"sms.providers: unknown provider {name!r} (known: {', '.join(PROVIDERS)})")
    module, _, cls = PROVIDERS[name].partition(":")
    found: type[SmsProvider] = getattr(importlib.import_module(module), cls)
    return found


def load_templates(provider: str, raw: Mapping[str, Any]) -> dict[str, TemplateSpec]:
    return {name: TemplateSpec.from_config(provider, name, spec) for name, spec in raw.items()}


def hmac_hex(secret: str, body: bytes, timestamp: str) -> str:
    """HMAC-SHA256 over raw body + timestamp, hex (SMS Gateway for Android; our gammu script too)."""
    return hmac.new(secret.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def verify_hmac(secret: str | None, req: WebRequest, max_skew: int, now: float | None = None) -> bool:
    signature = req.headers.get("X-Signature") or ""
    timestamp = req.headers.get("X-Timestamp") or ""
    if not secret or not signature or not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > max_skew:
        return False
    return hmac.compare_digest(hmac_hex(secret, req.body, timestamp), signature.lower())


# -- rendering: segments for free text, variables for templates ---------------------------------
_NON_BMP = re.compile("[\U00010000-\U0010ffff]")
_LINK = re.compile(
    r"(?:https?://|www\.)\S+|\b[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:com|cn|net|org|gov|edu|top|xyz|io|me)\b\S*",
    re.IGNORECASE,
)
_BREAK_AFTER = "。！？；!?;，,、：: "


def sms_lines(replies: list[Reply]) -> list[str]:
    """Replies as SMS lines: no blank lines, options as `1.找活动`, no emoji (basic phones show boxes)."""
    lines: list[str] = []
    for r in replies:
        if isinstance(r, Text):
            lines += r.text.splitlines()
        elif isinstance(r, Choices):
            lines += r.prompt.splitlines()
            lines += [f"{i}.{opt}" for i, opt in enumerate(r.options, r.first)]
            lines += r.footer.splitlines()
    out = []
    for line in lines:
        line = _NON_BMP.sub("", line).strip()
        if line:
            out.append(line)
    return out


def _safe_cut(s: str, limit: int, prefer: bool = True) -> int:
    """Where to cut `s` to at most `limit` characters: after punctuation if it is not too early, never
    inside a run of digits (a time, a phone number, an option number)."""
    if len(s) <= limit:
        return len(s)
    if prefer:
        for i in range(limit, max(limit // 2, 1) - 1, -1):
            if s[i - 1] in _BREAK_AFTER:
                return i
    i = limit
    while i > 0 and s[i - 1].isdigit() and s[i].isdigit():
        i -= 1
    return i if i > 0 else limit


def _pack(lines: list[str], size: int) -> list[str]:
    """Greedy: whole lines into parts of at most `size`; a longer line is split at a safe place."""
    parts: list[str] = []
    current = ""
    for line in lines:
        while len(line) > size:
            if current:
                parts.append(current)
                current = ""
            cut = _safe_cut(line, size)
            parts.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        if not line:
            continue
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= size:
            current = candidate
        else:
            parts.append(current)
            current = line
    if current:
        parts.append(current)
    return parts


def _segments(lines: list[str]) -> list[str]:
    whole = "\n".join(lines)
    if len(whole) <= SINGLE:
        return [whole] if whole else []
    return _pack(lines, PART)


def _ellipsize(s: str, target: int) -> str:
    if len(s) <= target:
        return s
    cut = _safe_cut(s, max(target - 1, 1))
    return s[:cut].rstrip("，,、；; ") + "…"


def shorten(lines: list[str], fits: Callable[[list[str]], bool]) -> list[str]:
    """Cut the longest lines (never the numbered options or the last line, which says what to send)
    until `fits`; as a last resort drop lines before the options."""
    lines = list(lines)
    for _ in range(100):
        if fits(lines):
            return lines
        protected = {len(lines) - 1} | {i for i, s in enumerate(lines) if re.match(r"^\d[.、]", s)}
        candidates = [(len(s), i) for i, s in enumerate(lines) if i not in protected and len(s) > 8]
        if not candidates:
            break
        length, i = max(candidates)
        lines[i] = _ellipsize(lines[i], max(8, length * 2 // 3))
    while len(lines) > 1 and not fits(lines):
        droppable = [i for i in range(len(lines) - 1) if not re.match(r"^\d[.、]", lines[i])]
        lines.pop(droppable[-1] if droppable else 0)
    return lines


def segment(text_or_replies: str | list[Reply], max_parts: int = 3) -> list[str]:
    """A reply as SMS texts: one of ≤70 characters, or up to `max_parts` of ≤67 each, broken at line and
    sentence ends, never inside a number; over-long replies lose detail, never the options or footer."""
    if isinstance(text_or_replies, str):
        lines = [ln for ln in (_NON_BMP.sub("", x).strip() for x in text_or_replies.splitlines()) if ln]
    else:
        lines = sms_lines(text_or_replies)
    lines = shorten(lines, lambda ls: len(_segments(ls)) <= max_parts)
    parts = _segments(lines)
    if len(parts) > max_parts:  # a single enormous line: hard limit
        parts = parts[: max_parts - 1] + [_ellipsize(parts[max_parts - 1], PART)]
    return parts


def strip_links(s: str) -> str:
    """Template variables must never carry a link (providers refuse them; people should not tap them)."""
    return re.sub(r"\s{2,}", " ", _LINK.sub("", s)).strip()


def render_template(text_or_replies: str | list[Reply], spec: TemplateSpec) -> list[tuple[str, str]]:
    """Fill a template's variables in order with the reply, each within its length limit, no links."""
    if isinstance(text_or_replies, str):
        lines = [strip_links(x) for x in text_or_replies.splitlines()]
    else:
        lines = [strip_links(x) for x in sms_lines(text_or_replies)]
    lines = [x for x in lines if x]

    def fill(ls: list[str]) -> list[str] | None:
        rest = " ".join(ls)
        values: list[str] = []
        for _, limit in spec.vars:
            cut = _safe_cut(rest, limit, prefer=sum(v for _, v in spec.vars[len(values):]) > len(rest) + 8)
            values.append(rest[:cut].strip())
            rest = rest[cut:].lstrip()
        return None if rest else values

    lines = shorten(lines, lambda ls: fill(ls) is not None)
    values = fill(lines)
    if values is None:  # one line longer than every variable together
        flat = " ".join(lines)
        values = []
        for _, limit in spec.vars:
            cut = _safe_cut(flat, limit, prefer=False)
            values.append(flat[:cut])
            flat = flat[cut:]
    return [(name, value) for (name, _), value in zip(spec.vars, values, strict=True)]


# -- opt-out --------------------------------------------------------------------------------------
def keyword(text: str) -> str:
    """` td。` → `TD`: full-width folded, punctuation and spaces dropped, Latin upper-cased."""
    s = unicodedata.normalize("NFKC", text or "")
    s = "".join(ch for ch in s if not (ch.isspace() or unicodedata.category(ch).startswith("P")))
    return s.upper()


def is_opt_out(text: str) -> bool:
    return keyword(text) in OPT_OUT_WORDS


def is_resume(text: str) -> bool:
    return keyword(text) in RESUME_WORDS


def sms_identity(session: Session, vault: PhoneVault, phone: str) -> ChannelIdentity | None:
    return session.scalars(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == "sms", ChannelIdentity.external_id.in_(vault.lookup_hashes(phone))
        )
    ).first()


def notify_block_reason(session: Session, phone: str, vault: PhoneVault) -> str | None:
    """Why no notice may be sent to this number (`opted_out`, `notices_off`, `bad_number`), or None."""
    try:
        hashes = vault.lookup_hashes(phone)
    except InvalidInput:
        return "bad_number"
    ident = sms_identity(session, vault, phone)
    if ident is not None and ident.opted_out_at is not None:
        return "opted_out"
    volunteer = ident.volunteer if ident is not None else session.scalars(
        select(Volunteer).where(Volunteer.phone_hash.in_(hashes))).first()
    if volunteer is not None and volunteer.notices_opt_out:
        return "notices_off"
    return None


def can_notify(session: Session, phone: str, vault: PhoneVault) -> bool:
    """May the push layer send a notice (anything that is not a reply) to this number?"""
    return notify_block_reason(session, phone, vault) is None


# -- outbound: the channel the push layer and the replies use -------------------------------------
class SmsChannel:
    """Outbound through one provider: replies (segments or the `reply` template), notices, codes."""

    name = "sms"

    def __init__(self, rt: Runtime, provider: SmsProvider, sleep: Callable[[float], None] = time.sleep) -> None:
        self.rt = rt
        self.provider = provider
        self._sleep = sleep

    def can_notify(self, session: Session, phone: str) -> bool:
        return can_notify(session, phone, self.rt.vault)

    def send_replies(self, address: str, replies: list[Reply]) -> SendResult:
        """Send a conversation reply (allowed after opt-out: the person wrote to us)."""
        return self._deliver(address, replies, template="reply")

    def send_notice(self, address: str, title: str, body: str) -> SendResult:
        """Send a notice unless the number opted out; reported as `unreachable` with the reason."""
        with self.rt.sessions() as session:
            reason = notify_block_reason(session, address, self.rt.vault)
        if reason is not None:
            return SendResult("failed" if reason == "bad_number" else "unreachable", reason)
        text = f"{title}：{body}" if title else body
        return self._deliver(address, text, template="notice")

    def send_code(self, address: str, code: str) -> SendResult:
        """The 6-digit code for 绑定手机 (asked for by the person, so sent even after opt-out)."""
        spec = self.provider.templates.get("code")
        if spec is not None:
            try:
                phone = normalize_phone(address)
            except InvalidInput:
                return SendResult("failed", "bad_number")
            return self._send_one(phone, lambda: self.provider.send_template(
                phone, spec, [(spec.vars[0][0], code)]), "code:" + code)
        return self._deliver(address, BIND_CODE.format(code=code), template="code")

    # -- internals
    def _deliver(self, address: str, content: str | list[Reply], template: str) -> SendResult:
        try:
            phone = normalize_phone(address)
        except InvalidInput:
            return SendResult("failed", "bad_number")
        if self.provider.free_text:
            parts = segment(content, self.rt.config.sms.max_parts)
            result = SendResult("sent")
            for i, part in enumerate(parts):
                result = self._send_one(phone, lambda i=i, part=part: self.provider.send_text(
                    phone, part, index=i, total=len(parts)), part)
                if not result.ok:
                    break
            return result
        spec = self.provider.templates.get(template) or self.provider.templates.get("reply")
        if spec is None:
            log.error("sms provider %s has no %r template configured", self.provider.name, template)
            return SendResult("failed", f"no_template:{template}")
        params = render_template(content, spec)
        return self._send_one(phone, lambda: self.provider.send_template(phone, spec, params),
                              "|".join(v for _, v in params))

    def _send_one(self, phone: str, send: Callable[[], SendResult], text: str) -> SendResult:
        cfg = self.rt.config.sms
        h = self.rt.vault.lookup_hash(phone)[:20]
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        if self.rt.store.incr(f"sms:loop:{h}:{digest}", cfg.loop_window_seconds) > cfg.loop_limit:
            log.warning("sms loop guard: identical text to %s stopped", mask_phone(phone))
            return SendResult("failed", "loop_guard")
        result = SendResult("retry", "not attempted")
        for attempt in range(max(cfg.send_attempts, 1)):
            try:
                result = send()
            except Exception as exc:  # noqa: BLE001 - an SDK or network surprise is a retryable failure
                log.warning("sms send via %s raised %s", self.provider.name, type(exc).__name__)
                result = SendResult("retry", type(exc).__name__)
            if result.status != "retry":
                break
            if attempt + 1 < cfg.send_attempts:
                self._sleep(min(result.retry_after or 0.5, 2.0))
        log.info("sms out via %s to %s: %s %s", self.provider.name, mask_phone(phone), result.status,
                 result.reason)
        if result.status == "unreachable" and result.reason == "opted_out":
            mark_opted_out(self.rt, phone, f"{self.provider.name}:blacklist")
        return result


def mark_opted_out(rt: Runtime, phone: str, reason: str, now: datetime | None = None) -> None:
    """Record a provider's opt-out signal on the number's identity (no reply is sent for it)."""
    with rt.sessions() as session:
        ident = sms_identity(session, rt.vault, phone)
        if ident is not None and ident.opted_out_at is None:
            ident.opted_out_at = now or utcnow()
            ident.opted_out_reason = reason[:64]
            session.commit()
