"""Outbound WeChat: access token, customer-service and template messages, custom menu — within WeChat's limits."""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from wechatpy import WeChatClient
from wechatpy.client.api.qrcode import WeChatQRCode
from wechatpy.exceptions import WeChatClientException

from data.kv import Store
from dialogs import Reply, to_plain

from .. import metrics
from ..config import WechatConfig
from .base import SendResult

log = logging.getLogger("yinling.wechat")

# errcode -> what it means for us. Everything else is a permanent failure with the code recorded.
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid / malformed / expired access token: refresh once, retry once
UNREACHABLE = {
    45015: "outside_48h_window",  # response out of time limit: the user has not written for 48 hours
    45047: "cs_quota_used",  # out of customer-service message quota for this window
    43004: "not_subscribed",  # require subscribe: the user does not follow the account (any more)
}
CS_ONLY = {"outside_48h_window", "cs_quota_used"}  # a template message may still reach the user
RETRY_AFTER = {45009: 600.0, -1: 3.0}  # daily API quota reached; "system busy"
HTTP_RETRY_AFTER = 5.0
LOCAL_TOKEN_SECONDS = 30.0  # how long a worker reuses the shared token without asking the store again
MORE_TAIL = "……\n（消息太长，后面没有显示。回复“更多”继续看，回复0回主菜单。）"


class WechatAPIError(Exception):
    """A call to the WeChat API failed: an `errcode`, an HTTP status, or no answer at all."""

    def __init__(self, errcode: int | None, errmsg: str = "", http_status: int | None = None) -> None:
        super().__init__(f"errcode={errcode} http={http_status} {errmsg}".strip())
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status
        metrics.wechat_error(errcode, http_status)

    @property
    def reason(self) -> str:
        if self.errcode is not None:
            return f"errcode {self.errcode}: {self.errmsg}"[:120]
        if self.http_status is not None:
            return f"http {self.http_status}"
        return f"network: {self.errmsg}"[:120]

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait before trying again, or None when trying again will not help."""
        if self.errcode in RETRY_AFTER:
            return RETRY_AFTER[self.errcode]
        if self.errcode in TOKEN_ERRORS:
            return HTTP_RETRY_AFTER
        if self.errcode is None and (self.http_status is None or self.http_status >= 500 or self.http_status == 429):
            return HTTP_RETRY_AFTER
        return None


def fit_text(text: str, max_bytes: int) -> str:
    """Cut `text` to WeChat's byte limit (UTF-8), ending with a line that says how to see more."""
    if len(text.encode("utf-8")) <= max_bytes:
        return text
    room = max_bytes - len(MORE_TAIL.encode("utf-8"))
    cut = text.encode("utf-8")[:max(room, 0)].decode("utf-8", "ignore")
    # Prefer to end at a line break so no activity is cut in the middle of its facts.
    nl = cut.rfind("\n")
    if nl > len(cut) // 2:
        cut = cut[:nl]
    return cut.rstrip() + MORE_TAIL


def render_text(replies: list[Reply], max_bytes: int) -> str:
    """Abstract replies as one WeChat text message."""
    return fit_text(to_plain(replies), max_bytes)


class _Client(WeChatClient):
    """wechatpy's client with our base URL, our shared token and no auto-retry of its own."""

    def __init__(self, api: WechatAPI) -> None:
        cfg = api.cfg
        super().__init__(cfg.app_id or "", cfg.app_secret or "", timeout=cfg.http_timeout_seconds,
                         auto_retry=False)
        self.API_BASE_URL = api.base + "/cgi-bin/"
        self._api = api

    @property
    def access_token(self) -> str:
        return self._api.current_token()

    def fetch_access_token(self) -> dict[str, Any]:
        return {"access_token": self._api.token(refresh=True)}


class WechatAPI:
    """The official-account API for one app id, with per-user reachability kept in the shared Store.

    Store keys (all under the store's prefix):
      wechat:token:<appid>          the access token, shared by every worker; wechat:token_lock:<appid> guards it
      wechat:window:<openid>        id of the window the user's last action opened (48 hours)
      wechat:cs_sent:<openid>:<w>   customer-service messages sent in the window that began at <w>
      wechat:unreachable:<openid>   why the user cannot be reached: outside_48h_window / cs_quota_used block
                                    customer-service messages only; unsubscribed, not_subscribed, user_block
                                    block everything. Any action of the user clears it.
    """

    def __init__(self, cfg: WechatConfig, store: Store, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cfg = cfg
        self.store = store
        self.base = cfg.api_base.rstrip("/")
        self._clock = clock
        self._sleep = sleep
        self._http = LeanHTTP()
        self.client = _Client(self)
        self.client._http = self._http
        self._local_token: tuple[str, float] | None = None  # (token, until time.monotonic())

    # -- access token ------------------------------------------------------------------------
    @property
    def _token_key(self) -> str:
        return f"wechat:token:{self.cfg.app_id}"

    def current_token(self) -> str:
        """The shared token, asked of the store at most every LOCAL_TOKEN_SECONDS (a send is in the hot path).

        A token another worker replaced meanwhile is still accepted by WeChat for a while; if it is not,
        the rejection makes `call` take the shared one at once (one refresh per failed token, as before).
        """
        cached = self._local_token
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return self._remember(self.token())

    def _remember(self, token: str) -> str:
        self._local_token = (token, time.monotonic() + LOCAL_TOKEN_SECONDS)
        return token

    def token(self, refresh: bool = False, failed: str | None = None) -> str:
        """The shared access token; with `refresh`, a new one (once per failed token across all workers)."""
        key = self._token_key
        current = self.store.get(key)
        if current and (not refresh or current != failed):
            return current
        lock = f"wechat:token_lock:{self.cfg.app_id}"
        deadline = time.monotonic() + self.cfg.http_timeout_seconds * 2 + 1
        while not self.store.set_nx(lock, "1", int(self.cfg.http_timeout_seconds * 2) + 5):
            if time.monotonic() > deadline:
                raise WechatAPIError(-1, "access token lock wait timed out")
            self._sleep(0.05)
            current = self.store.get(key)
            if current and current != failed:
                return current  # another worker fetched it meanwhile
        try:
            current = self.store.get(key)
            if current and current != failed:
                return current
            token, expires_in = self._stable_token(force_refresh=False)
            if failed is not None and token == failed:
                # The API rejected the very token stable_token still hands out: force a new one.
                token, expires_in = self._stable_token(force_refresh=True)
            self.store.set(key, token, max(60, expires_in - 300))
            return token
        finally:
            self.store.delete(lock)

    def _stable_token(self, force_refresh: bool) -> tuple[str, int]:
        if not (self.cfg.app_id and self.cfg.app_secret):
            raise WechatAPIError(None, "WECHAT_APP_ID and WECHAT_APP_SECRET are not set", http_status=0)
        body = {"grant_type": "client_credential", "appid": self.cfg.app_id, "secret": self.cfg.app_secret,
                "force_refresh": force_refresh}
        result = self._post_json(self.base + "/cgi-bin/stable_token", body)
        token = result.get("access_token")
        if not isinstance(token, str) or not token:
            raise WechatAPIError(-1, "stable_token answered without access_token")
        log.info("wechat access token fetched (force_refresh=%s)", force_refresh)
        return token, int(result.get("expires_in") or 7200)

    def _post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            res = self._http.post(url, data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                  headers={"Content-Type": "application/json"},
                                  timeout=self.cfg.http_timeout_seconds)
        except requests.RequestException as exc:
            raise WechatAPIError(None, type(exc).__name__) from exc
        if res.status_code != 200:
            raise WechatAPIError(None, res.reason or "", http_status=res.status_code)
        return _checked(res.content)

    # -- calls with the one-refresh rule ------------------------------------------------------
    def call(self, fn: Callable[[WeChatClient], Any]) -> dict[str, Any]:
        """Run one wechatpy call; a rejected token is refreshed once and the call retried once."""
        for attempt in (1, 2):
            used = self.current_token()
            try:
                result = fn(self.client)
            except WeChatClientException as exc:
                if exc.errcode is None:
                    status = getattr(exc.response, "status_code", None)
                    raise WechatAPIError(None, "", http_status=status) from exc
                code = int(exc.errcode)
                if code in TOKEN_ERRORS and attempt == 1:
                    log.info("wechat token rejected (errcode %s); refreshing once", code)
                    self._remember(self.token(refresh=True, failed=used))
                    continue
                raise WechatAPIError(code, str(exc.errmsg)) from exc
            except requests.RequestException as exc:
                raise WechatAPIError(None, type(exc).__name__) from exc
            if isinstance(result, (requests.Response, LeanResponse)):  # wechatpy hands back a body it could not decode
                return _checked(result.content)
            if not isinstance(result, dict):
                raise WechatAPIError(-1, "unexpected answer")
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reachability ---------------------------------------------------------------------------
    @property
    def _window_seconds(self) -> int:
        return self.cfg.cs_window_hours * 3600

    def note_inbound(self, openid: str) -> None:
        """The user did something (message, menu click, subscribe): a new 48-hour window opens."""
        window = f"{int(self._clock())}-{uuid.uuid4().hex[:6]}"  # its own quota counter, even within a second
        # One round trip: every incoming message passes here.
        self.store.set_and_delete(f"wechat:window:{openid}", window, self._window_seconds, unreachable_key(openid))

    def mark_unreachable(self, openid: str, reason: str, ttl: int | None = None) -> None:
        """Record why this user cannot be reached in WeChat now, so the push layer falls back."""
        key = unreachable_key(openid)
        if reason in CS_ONLY:
            current = self.store.get(key)
            if current and current not in CS_ONLY:
                return  # already unreachable for every kind of message
            ttl = self._window_seconds
        self.store.set(key, reason, ttl)
        log.info("wechat user %s not reachable: %s", short(openid), reason)

    def unreachable_reason(self, openid: str, customer_service: bool = True) -> str | None:
        """Why a message cannot be sent now (None when it can): for customer-service or template messages."""
        reason = self.store.get(unreachable_key(openid))
        if not customer_service:
            return reason if reason not in CS_ONLY else None
        if reason:
            return reason
        window = self.store.get(f"wechat:window:{openid}")
        if window is None:
            return "outside_48h_window"
        sent = self.store.get(f"wechat:cs_sent:{openid}:{window}")
        if sent is not None and int(sent) >= self.cfg.cs_quota:
            return "cs_quota_used"
        return None

    def _failed(self, openid: str, exc: WechatAPIError) -> SendResult:
        if exc.errcode in UNREACHABLE:
            reason = UNREACHABLE[exc.errcode]
            self.mark_unreachable(openid, reason, ttl=30 * 86400)
            return SendResult("unreachable", reason)
        retry_after = exc.retry_after
        if retry_after is not None:
            log.warning("wechat send to %s will be retried: %s", short(openid), exc.reason)
            return SendResult("retry", exc.reason, retry_after=retry_after)
        log.error("wechat send to %s failed: %s", short(openid), exc.reason)
        return SendResult("failed", exc.reason)

    # -- messages --------------------------------------------------------------------------------
    def send_text(self, openid: str, text: str) -> SendResult:
        """A customer-service text message, inside the user's 48-hour window and 5-message quota."""
        content = fit_text(text, self.cfg.max_reply_bytes)
        return self._send_custom(openid, lambda c: c.message.send_text(openid, content))

    def _send_custom(self, openid: str, send: Callable[[WeChatClient], Any]) -> SendResult:
        """One customer-service message (`send` calls the client) if the user's window and quota allow it,
        counted against the quota once WeChat took it."""
        reason = self.unreachable_reason(openid)
        if reason:
            return SendResult("unreachable", reason)
        window = self.store.get(f"wechat:window:{openid}") or "0"
        try:
            result = self.call(send)
        except WechatAPIError as exc:
            return self._failed(openid, exc)
        self.store.incr(f"wechat:cs_sent:{openid}:{window}", self._window_seconds)
        return SendResult("sent", provider_id=_msgid(result))

    def send_template(self, openid: str, name: str, values: dict[str, str], *, checked: bool = False) -> SendResult:
        """A template message (for notices outside the window); `name` is a key of `wechat.templates`.

        `checked`: the caller has just read the user's `unreachable_key` itself (the push layer reads a
        chunk's keys in one round trip) and found nothing that blocks a template message."""
        template_id = self.cfg.templates.get(name)
        if not template_id:
            return SendResult("unreachable", f"no template configured: {name}")
        reason = None if checked else self.unreachable_reason(openid, customer_service=False)
        if reason:
            return SendResult("unreachable", reason)
        data = {k: {"value": _template_value(k, v)} for k, v in values.items()}
        try:
            result = self.call(lambda c: c.message.send_template(openid, template_id, data))
        except WechatAPIError as exc:
            return self._failed(openid, exc)
        return SendResult("sent", provider_id=_msgid(result))

    def get_media(self, media_id: str, timeout: float | None = None) -> tuple[bytes, str]:
        """Download a temporary media file (a voice message's AMR): its bytes and Content-Type.

        GET /cgi-bin/media/get answers the file itself, or JSON with an `errcode` (40007: no such media_id,
        or older than three days). A rejected token is refreshed once and the download tried once more.
        """
        for attempt in (1, 2):
            used = self.current_token()
            try:
                res = self._http.get(self.base + "/cgi-bin/media/get",
                                     params={"access_token": used, "media_id": media_id},
                                     timeout=timeout or self.cfg.http_timeout_seconds)
            except requests.RequestException as exc:
                raise WechatAPIError(None, type(exc).__name__) from exc
            if res.status_code != 200:
                raise WechatAPIError(None, res.reason or "", http_status=res.status_code)
            ctype = str(res.headers.get("content-type", ""))
            if "json" not in ctype and not ctype.startswith("text/") and not res.content.startswith(b"{"):
                return res.content, ctype
            try:
                _checked(res.content)
            except WechatAPIError as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    log.info("wechat token rejected (errcode %s); refreshing once", exc.errcode)
                    self._remember(self.token(refresh=True, failed=used))
                    continue
                raise
            raise WechatAPIError(-1, "media/get answered without a file")
        raise AssertionError("unreachable")  # pragma: no cover

    def upload_voice(self, amr: bytes, filename: str = "reply.amr") -> str:
        """Upload an AMR file as temporary voice media (kept 3 days by WeChat); returns its media_id.

        Raises WechatAPIError (40004 invalid media type, 40007 invalid media id, 45009 daily quota ...)."""
        result = self.call(lambda c: c.media.upload("voice", (filename, amr, "audio/amr")))
        media_id = result.get("media_id")
        if not isinstance(media_id, str) or not media_id:
            raise WechatAPIError(-1, "media/upload answered without media_id")
        return media_id

    def send_voice(self, openid: str, media_id: str) -> SendResult:
        """A customer-service voice message, inside the user's 48-hour window and quota (like `send_text`)."""
        return self._send_custom(openid, lambda c: c.message.send_voice(openid, media_id))

    def qr_scene_url(self, scene: str, expire_seconds: int) -> str:
        """A temporary QR code whose scan sends `scene` (follow or SCAN event); the address that shows it."""
        result = self.call(lambda c: c.qrcode.create({
            "expire_seconds": expire_seconds, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}}}))
        ticket = str(result.get("ticket") or "")
        if not ticket:
            raise WechatAPIError(-1, "no ticket")
        return str(WeChatQRCode.get_url(ticket))

    def create_menu(self, buttons: list[dict[str, Any]]) -> None:
        """Install the custom menu. Raises WechatAPIError (or ValueError for a menu WeChat would refuse)."""
        check_menu(buttons)
        self.call(lambda c: c.menu.create({"button": buttons}))


class WechatOutbound:
    """The WeChat side of the push layer's Outbound interface."""

    name = "wechat"

    def __init__(self, api: WechatAPI) -> None:
        self.api = api

    def send_replies(self, address: str, replies: list[Reply]) -> SendResult:
        return self.api.send_text(address, render_text(replies, self.api.cfg.max_reply_bytes))

    def send_notice(self, address: str, title: str, body: str, *, checked: bool = False) -> SendResult:
        """The configured notice template (reaches followers outside the 48-hour window).

        The push layer owns the fallback order: customer message (`send_replies`) inside the window,
        then this, then SMS. `checked`: see `WechatAPI.send_template`.
        """
        fields = self.api.cfg.notice_fields
        return self.api.send_template(address, self.api.cfg.notice_template,
                                      {fields["title"]: title, fields["body"]: body}, checked=checked)


def check_menu(buttons: list[dict[str, Any]]) -> None:
    """WeChat's menu rules: 1-3 buttons, up to 5 sub-buttons each, names short, click needs key, view needs url."""
    if not 1 <= len(buttons) <= 3:
        raise ValueError("菜单需要1到3个按钮")
    for b in buttons:
        name = str(b.get("name", ""))
        if not name or len(name.encode("utf-8")) > 16:
            raise ValueError(f"一级菜单名称需1到16个字节（约5个汉字）：{name!r}")
        subs = b.get("sub_button")
        if subs is not None:
            if not 1 <= len(subs) <= 5:
                raise ValueError(f"“{name}”的子菜单需要1到5个")
            for s in subs:
                sname = str(s.get("name", ""))
                if not sname or len(sname.encode("utf-8")) > 60:
                    raise ValueError(f"子菜单名称需1到60个字节：{sname!r}")
                _check_action(s)
        else:
            _check_action(b)


def _check_action(b: dict[str, Any]) -> None:
    kind = b.get("type")
    if kind == "click" and not b.get("key"):
        raise ValueError(f"click 菜单“{b.get('name')}”缺少 key")
    if kind == "view" and not b.get("url"):
        raise ValueError(f"view 菜单“{b.get('name')}”缺少 url")
    if kind not in ("click", "view", "location_select", "scancode_push", "scancode_waitmsg", "miniprogram"):
        raise ValueError(f"菜单“{b.get('name')}”的 type 不支持：{kind!r}")


def unreachable_key(openid: str) -> str:
    """Store key (under the store's prefix) saying why `openid` cannot be reached, if it cannot."""
    return f"wechat:unreachable:{openid}"


def blocks_template(reason: str | None) -> bool:
    """Whether an `unreachable_key` value stops template messages too (not just customer-service ones)."""
    return bool(reason) and reason not in CS_ONLY


def _template_value(field: str, value: str) -> str:
    # thing* fields take at most 20 characters; longer values are refused by WeChat.
    if field.startswith("thing") and len(value) > 20:
        return value[:19] + "…"
    return value


def _checked(raw: bytes) -> dict[str, Any]:
    """A 200 answer still carries `errcode`: check it on every response."""
    try:
        result = json.loads(raw.decode("utf-8", "replace"))
    except ValueError as exc:
        raise WechatAPIError(-1, "answer is not JSON") from exc
    if not isinstance(result, dict):
        raise WechatAPIError(-1, "answer is not a JSON object")
    code = int(result.get("errcode") or 0)
    if code != 0:
        raise WechatAPIError(code, str(result.get("errmsg", "")))
    return result


def _msgid(result: dict[str, Any]) -> str | None:
    value = result.get("msgid")
    return None if value is None else str(value)


def short(openid: str) -> str:
    """An openid shortened for logs."""
    return openid[:8] + "…" if len(openid) > 8 else openid


# -- transport ----------------------------------------------------------------------------------------
class LeanResponse:
    """The part of `requests.Response` that wechatpy and this module read."""

    __slots__ = ("status_code", "reason", "content", "headers", "url", "request")

    def __init__(self, status_code: int, reason: str, content: bytes, headers: dict[str, str], url: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.content = content
        self.headers = headers  # names in lower case
        self.url = url
        self.request = None

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    def json(self) -> Any:
        return json.loads(self.content.decode("utf-8"))

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code} {self.reason} for {self.url.split('?', 1)[0]}",
                                     response=self)  # type: ignore[arg-type]


class _BadAnswer(Exception):
    """The server's bytes are not an HTTP/1.x response we understand."""


class _Socket(socket.socket):
    """A socket that closes itself quietly when dropped (a client nobody closed, e.g. in a reference
    cycle with wechatpy's client, or a thread that ended): it only ever held an idle connection."""

    def __del__(self) -> None:
        self.close()


class _SSLSocket(ssl.SSLSocket):
    def __del__(self) -> None:
        self.close()


class _Conn:
    """One kept-alive connection: the socket and a buffered reader on it."""

    __slots__ = ("sock", "rfile", "poller")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)

    def dropped(self) -> bool:
        """The server closed it (or wrote unasked) while idle: readable now means don't reuse it."""
        try:
            return bool(self.poller.poll(0))
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()


_MAX_LINE = 65536
_MAX_HEADERS = 100


class LeanHTTP:
    """A small keep-alive HTTP/1.1 client with the `requests.Session` interface wechatpy calls.

    requests costs about a millisecond of CPU per call (preparing, hooks, adapters, cookies, header
    parsing through `email`); a push worker makes thousands of calls a second to one host. This keeps one
    connection per thread and host, writes each request in one `sendall`, reads the answer with a
    buffered reader (Content-Length, chunked, or until close), and raises requests' exceptions
    (ConnectionError, ConnectTimeout, ReadTimeout, HTTPError) so wechatpy and WechatAPI see what they saw
    before. The timeout applies to the connect and to each read, as in requests; certificates are checked
    against REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE or certifi's bundle, as in requests. A kept-alive
    connection the server closed meanwhile is noticed before reuse; a request that could not be written on
    a reused connection (the server closed it first, so it never read it) is written once more on a fresh
    one. Nothing else is retried here: callers own their retries. Anything else (files, streams, a
    proxy from the environment) goes through a plain `requests.Session`.
    """

    def __init__(self, user_agent: str = "yinling") -> None:
        self.headers = {"User-Agent": user_agent, "Accept": "*/*", "Accept-Encoding": "identity"}
        self._local = threading.local()
        self._fallback: requests.Session | None = None
        self._hosts: dict[tuple[str, str], tuple[str, int, bool]] = {}  # → hostname, port, via a proxy
        self._ssl: ssl.SSLContext | None = None

    # requests.Session's entry points, as wechatpy and WechatAPI call them
    def get(self, url: str, **kwargs: Any) -> Any:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", url, data=data, **kwargs)

    def request(self, method: str, url: str, params: Any = None, data: Any = None,
                headers: dict[str, str] | None = None, timeout: float | None = None, **kwargs: Any) -> Any:
        scheme, _, rest = url.partition("://")
        netloc, slash, path = rest.partition("/")
        scheme = scheme.lower()
        if kwargs or not (data is None or isinstance(data, (bytes, str))) or scheme not in ("http", "https") \
                or self._host(scheme, netloc)[2]:
            return self._session().request(method, url, params=params, data=data, headers=headers,
                                           timeout=timeout, **kwargs)
        method = method.upper()
        target = (slash + path if slash else "/").split("#", 1)[0]
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params, doseq=True)
        body = data.encode("utf-8") if isinstance(data, str) else (data or b"")
        hdrs = {"Host": netloc, **self.headers, **(headers or {})}
        if body or method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = str(len(body))
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        payload = head.encode("latin-1") + body
        conns = self._conns()
        key = (scheme, netloc)
        for attempt in (1, 2):
            conn = conns.pop(key, None)
            if conn is not None and conn.dropped():
                conn.close()
                conn = None
            reused = conn is not None
            if conn is None:
                conn = self._connect(scheme, netloc, timeout)
            conn.sock.settimeout(timeout)
            try:
                conn.sock.sendall(payload)
            except (ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if reused and attempt == 1:
                    continue  # the server closed this idle connection before it read the request
                raise requests.ConnectionError(f"{type(exc).__name__} to {netloc}") from exc
            except TimeoutError as exc:
                conn.close()
                raise requests.ConnectionError(f"timed out writing to {netloc}") from exc
            except OSError as exc:
                conn.close()
                raise requests.ConnectionError(f"{type(exc).__name__} to {netloc}") from exc
            try:
                status, reason, rheaders, content, keep = _read_response(conn.rfile, method)
            except TimeoutError as exc:
                conn.close()
                raise requests.ReadTimeout(f"no answer from {netloc} within {timeout}s") from exc
            except (OSError, _BadAnswer, ValueError) as exc:
                conn.close()
                raise requests.ConnectionError(f"{type(exc).__name__} from {netloc}") from exc
            if keep:
                conns[key] = conn
            else:
                conn.close()
            return LeanResponse(status, reason, content, rheaders, url)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close this thread's connections (another thread's go when that thread ends)."""
        conns = self._conns()
        for conn in conns.values():
            conn.close()
        conns.clear()
        if self._fallback is not None:
            self._fallback.close()

    # -- internals
    def _conns(self) -> dict[tuple[str, str], _Conn]:
        conns: dict[tuple[str, str], _Conn] | None = getattr(self._local, "conns", None)
        if conns is None:
            conns = self._local.conns = {}
        return conns

    def _host(self, scheme: str, netloc: str) -> tuple[str, int, bool]:
        """Host name, port and whether the environment routes it through a proxy (worked out once)."""
        key = (scheme, netloc)
        known = self._hosts.get(key)
        if known is None:
            parts = urlsplit(f"{scheme}://{netloc}/")
            proxied = bool(requests.utils.get_environ_proxies(f"{scheme}://{netloc}/"))
            known = self._hosts[key] = (parts.hostname or "", parts.port or (443 if scheme == "https" else 80),
                                        proxied)
        return known

    def _connect(self, scheme: str, netloc: str, timeout: float | None) -> _Conn:
        host, port, _ = self._host(scheme, netloc)
        try:
            plain = socket.create_connection((host, port), timeout=timeout)
            sock: socket.socket = _Socket(fileno=plain.detach())
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._context().wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            raise requests.ConnectTimeout(f"timed out connecting to {netloc}") from exc
        except ssl.SSLError as exc:
            raise requests.exceptions.SSLError(f"TLS with {netloc}: {exc}") from exc
        except OSError as exc:
            raise requests.ConnectionError(f"cannot connect to {netloc}: {type(exc).__name__}") from exc
        return _Conn(sock)

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if not bundle:
                import certifi  # requests' own dependency

                bundle = certifi.where()
            self._ssl = ssl.create_default_context(cafile=bundle)
            self._ssl.sslsocket_class = _SSLSocket
        return self._ssl

    def _session(self) -> requests.Session:
        if self._fallback is None:
            self._fallback = requests.Session()
        return self._fallback


def _read_response(rfile: Any, method: str) -> tuple[int, str, dict[str, str], bytes, bool]:
    """Status, reason, headers (lower-case names), body, and whether the connection may be kept."""
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        if not line:
            raise _BadAnswer("closed before answering")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise _BadAnswer("not an HTTP/1.x status line")
        version, status, reason = parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS + 1):
            h = rfile.readline(_MAX_LINE + 1)
            if h in (b"\r\n", b"\n"):
                break
            if not h or len(h) > _MAX_LINE:
                raise _BadAnswer("headers cut off or too long")
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep:
                raise _BadAnswer("malformed header")
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        else:
            raise _BadAnswer("too many headers")
        if status >= 200 or status == 101:
            break  # 1xx interim answers (100 Continue) are skipped
    conn_tokens = headers.get("connection", "").lower()
    keep = "close" not in conn_tokens if version != "HTTP/1.0" else "keep-alive" in conn_tokens
    if method == "HEAD" or status in (204, 304) or status < 200:
        return status, reason, headers, b"", keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size_line = rfile.readline(_MAX_LINE + 1)
            if not size_line:
                raise _BadAnswer("chunked body cut off")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while rfile.readline(_MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            chunk = rfile.read(size)
            if len(chunk) != size or rfile.read(2) not in (b"\r\n",):
                raise _BadAnswer("chunked body cut off")
            chunks.append(chunk)
        return status, reason, headers, b"".join(chunks), keep
    length = headers.get("content-length")
    if length is not None:
        n = int(length.split(",")[0])
        content = rfile.read(n) if n else b""
        if len(content) != n:
            raise _BadAnswer("body cut off")
        return status, reason, headers, content, keep
    return status, reason, headers, rfile.read(), False  # until the server closes


# -- late replies: the RQ job (or a thread when there is no Redis) ---------------------------------
class RetryLater(Exception):
    """Raised by the job so RQ's bounded Retry policy tries the delivery again later."""


_job_runtime: Any = None
_job_lock = threading.Lock()


def bind_job_runtime(rt: Any) -> None:
    """Use this runtime for jobs run in this process (tests, or a worker started from our CLI)."""
    global _job_runtime
    _job_runtime = rt


def _runtime() -> Any:
    global _job_runtime
    with _job_lock:
        if _job_runtime is None:
            from ..runtime import build_runtime

            _job_runtime = build_runtime()
        return _job_runtime


def job_runtime() -> Any:
    """The runtime jobs of this process use (bound by `bind_job_runtime`, else built from the environment)."""
    return _runtime()


def deliver_reply(openid: str, text: str, request_id: str) -> str:
    """RQ job on the `replies` queue: send a reply that missed WeChat's 5-second window."""
    rt = _runtime()
    result = WechatAPI(rt.config.wechat, rt.store).send_text(openid, text)
    log.info("late reply to %s: %s %s request_id=%s", short(openid), result.status, result.reason, request_id)
    if result.status == "retry":
        raise RetryLater(result.reason)
    return result.status
