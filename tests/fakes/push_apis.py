"""Loopback fakes that speak WeChat's message APIs, an Android SMS Gateway and a WeCom group robot.

Each is a real HTTP server on 127.0.0.1 in a thread; it counts every request so tests can prove that
nothing was sent twice and nothing was lost. Behaviour per address is scripted with `errcodes`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class FakeApis:
    """One server for all three APIs (paths differ), so one base URL configures everything. WeChat's
    qrcode/create answers a ticket for a QR_STR_SCENE of at most 64 characters (errcode 40053 otherwise)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: Counter[tuple[str, str]] = Counter()  # (kind, address) -> accepted sends
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.qrcodes: list[dict[str, Any]] = []  # accepted qrcode/create bodies
        self.errcodes: dict[tuple[str, str], list[int]] = {}  # (kind, address) -> errcodes to answer first
        self.tokens_issued = 0
        self.delay = 0.0
        self.hold = threading.Event()  # when `holding`, the Nth request waits until released
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.count = 0
        self.quiet = True
        self.server: ThreadingHTTPServer | None = None

    # -- scripting -------------------------------------------------------------------------------
    def fail(self, kind: str, address: str, *codes: int) -> None:
        self.errcodes[(kind, address)] = list(codes)

    def total(self, kind: str | None = None) -> int:
        with self.lock:
            return sum(v for (k, _), v in self.sent.items() if kind is None or k == kind)

    def per_address(self) -> Counter[str]:
        with self.lock:
            out: Counter[str] = Counter()
            for (_, addr), v in self.sent.items():
                out[addr] += v
            return out

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- protocol --------------------------------------------------------------------------------
    def handle(self, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if path == "/cgi-bin/stable_token":
            with self.lock:
                self.tokens_issued += 1
            return 200, {"access_token": f"tok-{self.tokens_issued}", "expires_in": 7200}
        if path in ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send"):
            if not query.get("access_token", [""])[0].startswith("tok-"):
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            kind = "custom" if "custom" in path else "template"
            return self._send(kind, str(body.get("touser", "")), body)
        if path == "/cgi-bin/qrcode/create":
            if not query.get("access_token", [""])[0].startswith("tok-"):
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            scene = str(((body.get("action_info") or {}).get("scene") or {}).get("scene_str") or "")
            if body.get("action_name") != "QR_STR_SCENE" or not scene or len(scene) > 64:
                return 200, {"errcode": 40053, "errmsg": "invalid action info"}
            with self.lock:
                self.qrcodes.append(body)
            return 200, {"ticket": f"gQ{len(self.qrcodes)}+{scene}==", "expire_seconds": body.get("expire_seconds"),
                         "url": f"http://weixin.qq.com/q/{len(self.qrcodes)}"}
        if path == "/messages":  # SMS Gateway for Android, Local mode
            phones = [str(p) for p in body.get("phoneNumbers") or []]
            phone = phones[0].removeprefix("+86") if phones else ""
            code, data = self._send("sms", phone, body)
            if data.get("errcode"):
                return (429 if data["errcode"] == 429 else 400), {"message": "error"}
            return 202, {"id": f"sms-{self.count}", "state": "Pending", "isHashed": False, "isEncrypted": False,
                         "recipients": [{"phoneNumber": p, "state": "Pending"} for p in phones]}
        if path.startswith("/cgi-bin/webhook/send"):
            key = query.get("key", [""])[0]
            return self._send("wecom", key, body)
        return 404, {"errcode": 404}

    def _send(self, kind: str, address: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.count += 1
            n = self.count
            script = self.errcodes.get((kind, address))
            code = script.pop(0) if script else 0
            if code == 0:
                self.sent[(kind, address)] += 1
            self.requests.append((kind, {"to": address, **body}))
        if self.hold_at is not None and n == self.hold_at:
            self.held.set()
            self.hold.wait(30)
        if self.delay:
            time.sleep(self.delay)
        if code:
            return 200, {"errcode": code, "errmsg": "scripted"}
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": n}


def _handler(fake: FakeApis) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once (no 40 ms delayed-ACK stall)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b"{}"
            try:
                body = json.loads(raw.decode("utf-8") or "{}")
            except ValueError:
                body = {}
            u = urlparse(self.path)
            status, data = fake.handle(u.path, parse_qs(u.query), body)
            out = json.dumps(data, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
            if not fake.quiet:
                super().log_message(format, *args)

    return Handler


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the worker-crash test) is expected, not an error to print."""


@contextmanager
def serve() -> Iterator[FakeApis]:
    fake = FakeApis()
    server = _Server(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.server = server
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield fake
    finally:
        fake.hold.set()
        server.shutdown()
        server.server_close()
