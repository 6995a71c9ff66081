"""Outbound senders the push layer uses, the per-person channel fallback and the rate limits.

The registry maps a channel name to an `Outbound` (bot.channels.base): "wechat" (customer message via
`send_replies`, template message via `send_notice`) and "sms" (`send_notice`, `send_code` for bind codes),
built from the WeChat and SMS channel modules. Tests may hand in any other Outbound.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from bot.channels.base import Outbound, SendResult
from data.kv import Store
from dialogs import Text

log = logging.getLogger("yinling.push")
DEFAULT_SEND_THREADS = 16


def build_senders(rt: Any) -> dict[str, Outbound]:
    """The registry from configuration: WeChat when an app id and secret are set, SMS through the
    configured outbound provider (the console provider in development)."""
    senders: dict[str, Outbound] = {}
    wc = rt.config.wechat
    if wc.app_id and wc.app_secret:
        from bot.channels.wechat_api import WechatAPI, WechatOutbound

        api = WechatAPI(wc, rt.store)
        _pin_environment(getattr(api, "_http", None), api.base)
        senders["wechat"] = WechatOutbound(api)
    sms = getattr(rt.config, "sms", None)
    if sms is not None and sms.outbound == "console" and rt.config.app.env == "production":
        # The console provider prints each text (a notice, a hand-off with the conversation) to the journal
        # and calls it sent: in production nothing goes out by SMS rather than that (doctor says so too).
        log.warning("sms: the console provider is for development only; nothing is sent by SMS")
    elif sms is not None and sms.outbound:
        from bot.channels.sms import SmsChannel, provider_class

        senders["sms"] = SmsChannel(rt, provider_class(sms.outbound)(sms))
    return senders


def _pin_environment(http: Any, url: str) -> None:
    """Read the proxy and CA-bundle environment once instead of on every request (a requests.Session).

    requests re-scans os.environ on each call (`merge_environment_settings`): with a container's ~100
    variables that was ~10% of a delivery's CPU. The result is the same for a process's lifetime.
    (WechatAPI's own transport already reads the environment once per host.)
    """
    if not isinstance(http, requests.Session):
        return
    http.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        http.verify = bundle
    http.trust_env = False


class SendPool:
    """A few threads that send one batch's messages in parallel (the API round trip dominates).

    With `make_senders`, each thread builds its own senders on first use, so each keeps its own HTTP
    keep-alive session; without it (senders handed in, e.g. by tests), the threads share `shared`.
    """

    def __init__(self, threads: int, shared: dict[str, Outbound],
                 make_senders: Callable[[], dict[str, Outbound]] | None = None) -> None:
        self.threads = max(1, int(threads))
        self.shared = shared
        self._make = make_senders
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="yinling-send")
            return self._executor

    def senders(self) -> dict[str, Outbound]:
        """This thread's senders."""
        if self._make is None:
            return self.shared
        mine: dict[str, Outbound] | None = getattr(self._local, "senders", None)
        if mine is None:
            mine = self._local.senders = self._make()
        return mine

    def shutdown(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None


# -- per-person routes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One way to reach one person: `kind` is wechat_custom | wechat_template | sms."""

    kind: str
    address: str
    checked: bool = False  # WeChat: the push layer read the user's reachability for this chunk
    blocked: str | None = None  # … and it says this route cannot reach the user now (why)

    @property
    def channel(self) -> str:
        return "sms" if self.kind == "sms" else "wechat"


@dataclass
class Contact:
    """What the push layer knows about reaching one person (loaded in bulk for a batch)."""

    wechat_openid: str | None = None
    wechat_last_inbound: datetime | None = None
    wechat_opted_out: bool = False
    phone: Callable[[], str | None] | None = None  # decrypts lazily: most people never need it
    sms_opted_out: bool = False
    has_any: bool = False
    wechat_checked: bool = False  # wechat_unreachable was read from the store just before this chunk
    wechat_unreachable: str | None = None  # the store's `wechat:unreachable` reason, when checked
    wechat_template_blocked: str | None = None  # that reason when it stops template messages too


def plan_routes(c: Contact, now: datetime, window_hours: int, senders: dict[str, Outbound]) -> tuple[
        list[Route], str | None]:
    """Routes in fallback order, or (no routes, reason to skip/unreachable).

    Customer message inside the window → template message → SMS. Opted-out identities are never used.
    """
    routes: list[Route] = []
    if c.wechat_openid and not c.wechat_opted_out and "wechat" in senders:
        inside = c.wechat_last_inbound is not None and now - c.wechat_last_inbound < timedelta(hours=window_hours)
        known = c.wechat_unreachable if c.wechat_checked else None
        if inside:  # (the window and its quota are still checked by the sender)
            routes.append(Route("wechat_custom", c.wechat_openid, blocked=known))
        routes.append(Route("wechat_template", c.wechat_openid, checked=c.wechat_checked,
                            blocked=c.wechat_template_blocked if c.wechat_checked else None))
    phone = c.phone() if (c.phone is not None and not c.sms_opted_out and "sms" in senders) else None
    if phone:
        routes.append(Route("sms", phone))
    if routes:
        return routes, None
    opted = bool(c.wechat_openid and c.wechat_opted_out) or (c.phone is not None and c.sms_opted_out)
    usable = bool(c.wechat_openid and not c.wechat_opted_out) or (c.phone is not None and not c.sms_opted_out)
    if opted and not usable:
        return [], "opted_out"
    if not c.has_any:
        return [], "没有微信或手机号"
    return [], "没有可用的发送渠道"


def send_route(senders: dict[str, Outbound], route: Route, title: str, body: str,
               code: str | None = None) -> SendResult:
    """One attempt on one route; a sender that raises counts as a transient failure."""
    if route.blocked:
        return SendResult("unreachable", route.blocked)  # what the sender itself would have answered
    sender = senders[route.channel]
    try:
        if code is not None and hasattr(sender, "send_code"):
            result: SendResult = sender.send_code(route.address, code)
            return result
        if route.kind == "wechat_custom":
            return sender.send_replies(route.address, [Text(f"{title}\n{body}" if title else body)])
        if route.checked:
            return sender.send_notice(route.address, title, body, checked=True)  # type: ignore[call-arg]
        return sender.send_notice(route.address, title, body)
    except Exception as exc:  # noqa: BLE001 - reported as retry, never lost
        log.exception("sender %s raised", route.kind)
        return SendResult("retry", f"发送异常 {type(exc).__name__}", retry_after=30)


# -- rate limits ----------------------------------------------------------------------------------


class RateLimiter:
    """Fixed one-second windows counted in the shared store (Redis), so every worker on every host shares
    the limit.

    A process takes its messages' tokens in blocks: one `store.incr(key, ttl, block)` (an INCRBY on Redis)
    reserves up to `block` tokens of the current window (only those still under the limit are granted),
    and the process's send threads use them until the window ends — one round trip per block instead of
    one per message. The shared count never lets more than `limit` messages a second through; tokens a
    process still holds when its window ends are dropped (fewer than `block` per process, so a binding
    limit is used slightly less).
    """

    def __init__(self, store: Store, per_second: dict[str, int], clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, *, block: int | None = None) -> None:
        self.store = store
        self.per_second = per_second
        self.clock = clock
        self.sleep = sleep
        self.block = block
        self._held: dict[str, tuple[int, int]] = {}  # channel → (window, tokens still held in it)
        self._lock = threading.Lock()

    def block_size(self, limit: int) -> int:
        """Tokens taken at once: a twentieth of the limit, 1 to 64 (300/s → 15)."""
        return max(1, min(self.block or max(1, limit // 20), 64, limit))

    def acquire(self, channel: str) -> None:
        limit = self.per_second.get(channel)
        if not limit:
            return
        while True:
            now = self.clock()
            window = int(now)
            if self._take(channel, window, limit):
                return
            self.sleep(max(0.001, window + 1 - now))

    def _take(self, channel: str, window: int, limit: int) -> bool:
        with self._lock:
            held_window, left = self._held.get(channel, (window, 0))
            if held_window == window and left > 0:
                self._held[channel] = (window, left - 1)
                return True
            want = self.block_size(limit)
            total = self.store.incr(f"push:rate:{channel}:{window}", 2, want)
            granted = max(0, min(want, limit - (total - want)))
            self._held[channel] = (window, max(0, granted - 1))
            return granted > 0

    def try_minute(self, key: str, limit: int) -> float:
        """For per-minute limits (WeCom robot): 0 when allowed now, else seconds until the next window."""
        now = self.clock()
        window = int(now // 60)
        if self.store.incr(f"push:rate:{key}:{window}", 120) <= limit:
            return 0.0
        return (window + 1) * 60 - now
