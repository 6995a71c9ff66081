"""WechatAPI's keep-alive transport (LeanHTTP) against a scripted raw-socket server on loopback:
connection reuse, idle connections the server closed, chunked and close-delimited bodies, errors as
requests' exceptions, and no request ever written twice once the server has read it."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from bot.channels.wechat_api import LeanHTTP

Answer = Callable[[bytes], bytes | None]  # request bytes → raw answer (None: close without answering)


def _ok(body: bytes = b'{"errcode":0}', extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            .encode() + body)


class Scripted:
    """Accepts connections; answers each request with the next scripted answer (default: 200 JSON)."""

    def __init__(self, tls: Any = None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        if tls is not None:  # an ssl.SSLContext: accept() then hands out TLS connections
            self.sock = tls.wrap_socket(self.sock, server_side=True)
        self.port = self.sock.getsockname()[1]
        self.script: list[Answer] = []
        self.requests: list[bytes] = []
        self.connections = 0
        self.closed = 0
        self.close_after_each = False
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except ssl.SSLError:
                continue  # a client that refused our certificate
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def wait_closed(self, n: int) -> None:
        """Until the server has closed `n` connections (so the client sees the close before it sends)."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.closed >= n, timeout=5)

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._exchange(conn)
        finally:
            conn.close()
            with self.changed:
                self.closed += 1
                self.changed.notify_all()

    def _exchange(self, conn: socket.socket) -> None:
        buf = b""
        if True:  # noqa: SIM108
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buf) < length:
                    buf += conn.recv(65536)
                body, buf = buf[:length], buf[length:]
                with self.lock:
                    self.requests.append(head + b"\r\n\r\n" + body)
                    answer = self.script.pop(0) if self.script else (lambda _r: _ok())
                out = answer(head + b"\r\n\r\n" + body)
                if out is None:
                    return
                conn.sendall(out)
                if self.close_after_each or out.startswith(b"HTTP/1.0") or b"Connection: close" in out:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


def test_keeps_one_connection_and_sends_params_and_body(server: Scripted) -> None:
    http = LeanHTTP()
    for i in range(5):
        res = http.post(server.url + "/cgi-bin/message/template/send", data=f'{{"n":{i}}}'.encode(),
                        params={"access_token": "T K"}, timeout=2)
        assert res.status_code == 200 and res.json() == {"errcode": 0}
    assert server.connections == 1
    first = server.requests[0]
    assert first.startswith(b"POST /cgi-bin/message/template/send?access_token=T+K HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in first and first.endswith(b'{"n":0}')
    http.close()


def test_idle_connection_closed_by_the_server_is_replaced(server: Scripted) -> None:
    http = LeanHTTP()
    server.close_after_each = True  # like a server whose keep-alive timeout ran out
    for i in range(3):
        assert http.get(server.url + "/x", timeout=2).status_code == 200
        server.wait_closed(i + 1)
    assert server.connections == 3
    assert len(server.requests) == 3  # each request written and read exactly once


def test_chunked_and_close_delimited_bodies(server: Scripted) -> None:
    http = LeanHTTP()
    server.script = [
        lambda _r: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=1\r\n{\"er\r\n"
                   b"9\r\nrcode\":0}\r\n0\r\nTrailer: y\r\n\r\n",
        lambda _r: b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b'{"a":1}'),
        lambda _r: b"HTTP/1.0 200 OK\r\n\r\n{\"until\":\"close\"}",
    ]
    assert http.get(server.url + "/a", timeout=2).json() == {"errcode": 0}
    assert http.get(server.url + "/b", timeout=2).json() == {"a": 1}
    assert http.get(server.url + "/c", timeout=2).json() == {"until": "close"}
    assert server.connections == 1
    server.wait_closed(1)
    assert http.get(server.url + "/d", timeout=2).status_code == 200  # a new connection after the close
    assert server.connections == 2


def test_connection_close_header_is_honoured(server: Scripted) -> None:
    http = LeanHTTP()
    server.script = [lambda _r: _ok(extra="Connection: close\r\n")]
    assert http.get(server.url + "/a", timeout=2).ok  # the client closes it (no wait for the server)
    assert http.get(server.url + "/b", timeout=2).ok
    assert server.connections == 2


def test_http_error_status_raises_requests_http_error(server: Scripted) -> None:
    http = LeanHTTP()
    server.script = [lambda _r: b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"]
    res = http.get(server.url + "/a", params={"access_token": "secret"}, timeout=2)
    assert (res.status_code, res.reason, res.ok) == (502, "Bad Gateway", False)
    with pytest.raises(requests.HTTPError) as info:
        res.raise_for_status()
    assert info.value.response is res
    assert "secret" not in str(info.value)  # the access token never lands in a log line


def test_server_dying_after_reading_is_not_retried(server: Scripted) -> None:
    http = LeanHTTP()
    assert http.get(server.url + "/warm", timeout=2).ok  # a kept-alive connection exists
    server.script = [lambda _r: None]  # reads the request, then closes without answering
    with pytest.raises(requests.ConnectionError):
        http.post(server.url + "/send", data=b"{}", timeout=2)
    assert [r.split(b" ")[1] for r in server.requests] == [b"/warm", b"/send"]  # /send written once only
    assert http.get(server.url + "/after", timeout=2).ok


def test_no_answer_is_a_read_timeout(server: Scripted) -> None:
    http = LeanHTTP()
    release = threading.Event()

    def silent(_r: bytes) -> bytes:
        release.wait(5)
        return _ok()

    server.script = [silent]
    with pytest.raises(requests.ReadTimeout):
        http.get(server.url + "/slow", timeout=0.2)
    release.set()
    assert len(server.requests) == 1


def test_refused_connection_is_a_connection_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    with pytest.raises(requests.ConnectionError):
        LeanHTTP().get(f"http://127.0.0.1:{port}/", timeout=2)


def test_garbage_answer_is_a_connection_error(server: Scripted) -> None:
    server.script = [lambda _r: b"SSH-2.0-OpenSSH\r\n\r\n"]
    with pytest.raises(requests.ConnectionError):
        LeanHTTP().get(server.url + "/", timeout=2)


def test_each_thread_has_its_own_connection(server: Scripted) -> None:
    http = LeanHTTP()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert http.post(server.url + "/t", data=b"{}", timeout=5).ok
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert server.connections == 4 and len(server.requests) == 80


def test_proxied_hosts_go_through_requests(server: Scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "")
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(requests.ConnectionError):
        LeanHTTP().get(server.url + "/", timeout=2)  # requests tried the proxy, as before
    assert server.requests == []


@pytest.mark.wall_clock  # OpenSSL checks the certificate against the real clock, not the moved one
def test_https_checks_the_certificate_and_keeps_the_connection(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = Scripted(tls=ctx)
    try:
        url = f"https://localhost:{server.port}"
        monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
        monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
        with pytest.raises(requests.exceptions.SSLError):
            LeanHTTP().post(url + "/x", data=b"{}", timeout=2)  # not signed by a CA requests trusts
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
        http = LeanHTTP()
        for _ in range(3):
            assert http.post(url + "/x", data=b'{"a":1}', timeout=2).json() == {"errcode": 0}
        assert b'{"a":1}' in server.requests[-1]
        http.close()
    finally:
        server.close()
