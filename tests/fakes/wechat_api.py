"""A fake WeChat API: a real HTTP server on loopback speaking api.weixin.qq.com's JSON and errcodes."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

APP_ID = "wx0123456789abcdef"
APP_SECRET = "fake-app-secret"

ERRMSG = {
    40001: "invalid credential, access_token is invalid or not latest",
    40007: "invalid media_id",
    40013: "invalid appid",
    40125: "invalid appsecret",
    42001: "access_token expired",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
    -1: "system error",
}


class FakeWechatAPI:
    """Implements /cgi-bin/stable_token, message/custom/send, message/template/send, menu/create and media/get.

    `fail(path, errcode=..., status=..., times=n)` makes the next n calls to `path` fail the way WeChat
    does: a 200 with `{"errcode": ..., "errmsg": ...}`, or an HTTP error status. Every accepted call is
    recorded (`custom`, `templates`, `menus`, `token_calls`) so tests can assert what went out.
    """

    def __init__(self, app_id: str = APP_ID, secret: str = APP_SECRET) -> None:
        self.app_id = app_id
        self.secret = secret
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.reset()

    def reset(self) -> None:
        """Forget every call, forced failure and token (the server keeps running)."""
        self.custom: list[dict[str, Any]] = []
        self.templates: list[dict[str, Any]] = []
        self.menus: list[dict[str, Any]] = []
        self.token_calls: list[bool] = []  # force_refresh of every stable_token call
        self.requests: list[str] = []  # every path called, in order
        self.served_media: dict[str, tuple[bytes, str]] = {}  # media_id → (bytes, Content-Type) for media/get
        self.media_downloads: list[str] = []  # media_id of every media/get answered with a file
        self._forced: dict[str, list[tuple[int | None, int]]] = {}
        self._tokens = (f"TOKEN-{n}" for n in itertools.count(1))
        self.token = next(self._tokens)
        self._valid = {self.token}

    # -- control --------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeWechatAPI:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-wechat", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def fail(self, path: str, errcode: int | None = None, status: int = 200, times: int = 1) -> None:
        """Make the next `times` calls to `path` (e.g. "message/custom/send") fail."""
        with self._lock:
            self._forced.setdefault(path, []).extend([(errcode, status)] * times)

    def add_media(self, media_id: str, data: bytes, content_type: str = "audio/amr") -> None:
        """A temporary media file (a voice message's AMR) that media/get serves until `reset`."""
        with self._lock:
            self.served_media[media_id] = (data, content_type)

    def expire_token(self) -> None:
        """The current token stops working (42001), as after 2 hours; stable_token hands out a new one."""
        with self._lock:
            self._valid.clear()
            self.token = next(self._tokens)
            self._valid.add(self.token)

    def wait_for_custom(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until `count` customer-service messages arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.custom) < count and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())
            return list(self.custom)

    # -- the protocol -------------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._dispatch(request)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path.removeprefix("/cgi-bin/")
        with self._lock:
            self.requests.append(path)
            forced = self._forced.get(path)
            failure = forced.pop(0) if forced else None
        if failure is not None:
            errcode, status = failure
            if status != 200:
                return Response("<html>upstream error</html>", status, content_type="text/html")
            return _json({"errcode": errcode, "errmsg": ERRMSG.get(errcode or 0, "error")})
        if path == "media/get" and request.method == "GET":
            return self._media_get(request)
        if request.method != "POST":
            return Response("not found", 404)
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _error(47001)
        if path == "stable_token":
            return self._stable_token(body)
        token = request.args.get("access_token", "")
        with self._lock:
            if token not in self._valid:
                return _error(42001 if token.startswith("TOKEN-") else 40001)
        if path == "message/custom/send":
            if not body.get("touser") or body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
                return _error(47001)
            return self._record(self.custom, body, {"errcode": 0, "errmsg": "ok"})
        if path == "message/template/send":
            if not body.get("touser") or not body.get("template_id") or not isinstance(body.get("data"), dict):
                return _error(47001)
            return self._record(self.templates, body, {"errcode": 0, "errmsg": "ok",
                                                       "msgid": 200228332 + len(self.templates)})
        if path == "menu/create":
            if not isinstance(body.get("button"), list) or not body["button"]:
                return _error(47001)
            return self._record(self.menus, body, {"errcode": 0, "errmsg": "ok"})
        return Response("not found", 404)

    def _media_get(self, request: Request) -> Response:
        """GET media/get: the file with its Content-Type, or errcode JSON (40007: unknown or expired id)."""
        token, media_id = request.args.get("access_token", ""), request.args.get("media_id", "")
        with self._lock:
            if token not in self._valid:
                return _error(42001 if token.startswith("TOKEN-") else 40001)
            found = self.served_media.get(media_id)
            if found is None:
                return _error(40007)
            self.media_downloads.append(media_id)
        data, ctype = found
        ext = "amr" if "amr" in ctype else "bin"
        return Response(data, 200, content_type=ctype,
                        headers={"Content-disposition": f'attachment; filename="{media_id}.{ext}"'})

    def _stable_token(self, body: dict[str, Any]) -> Response:
        if body.get("grant_type") != "client_credential" or body.get("appid") != self.app_id:
            return _error(40013)
        if body.get("secret") != self.secret:
            return _error(40125)
        with self._lock:
            force = bool(body.get("force_refresh"))
            self.token_calls.append(force)
            if force:
                # A forced refresh issues a new token; the previous one keeps working for 5 minutes.
                self.token = next(self._tokens)
                self._valid.add(self.token)
            return _json({"access_token": self.token, "expires_in": 7200})

    def _record(self, into: list[dict[str, Any]], body: dict[str, Any], answer: dict[str, Any]) -> Response:
        with self._changed:
            into.append(body)
            self._changed.notify_all()
        return _json(answer)


def _json(data: dict[str, Any]) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), 200, content_type="application/json; charset=utf-8")


def _error(errcode: int) -> Response:
    return _json({"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")})


@contextmanager
def running(app_id: str = APP_ID, secret: str = APP_SECRET) -> Iterator[FakeWechatAPI]:
    fake = FakeWechatAPI(app_id, secret).start()
    try:
        yield fake
    finally:
        fake.stop()
