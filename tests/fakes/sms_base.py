"""A loopback HTTP server base for the SMS provider fakes: records requests, replays queued errors."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class LoopbackFake:
    """Runs `handle(request) -> Response` on 127.0.0.1 in a thread; `errors` are answered first."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []  # what we (the bot) asked the provider to send
        self.errors: deque[Callable[[Request], Response]] = deque()
        self.requests = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, *answers: Callable[[Request], Response]) -> None:
        self.errors.extend(answers)

    def texts_to(self, phone: str) -> list[str]:
        with self._lock:
            return [m["text"] for m in self.sent if m["phone"] == phone]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    def record(self, item: dict[str, Any]) -> None:
        with self._lock:
            self.sent.append(item)

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.requests += 1
            error = self.errors.popleft() if self.errors else None
        response = error(request) if error is not None else self.handle(request)
        return response(environ, start_response)


def json_response(data: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(data, ensure_ascii=False), status, content_type="application/json")
