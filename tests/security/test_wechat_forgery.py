"""Attack 4: a signed URL from a log reused for another body; plaintext in safe mode; secrets in access logs."""

from __future__ import annotations

import logging
import threading
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from bot.runtime import Runtime
from bot.web import runtime_of
from data.models import ChannelIdentity, MessageLog
from tests.drivers.wechat import build_xml, signature

from .conftest import AppMaker, wechat


def _rows(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(MessageLog)) or 0)


def test_one_signature_cannot_carry_another_body(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    victim, attacker = wechat(app), wechat(app)
    victim.event("subscribe")
    # The attacker saw one signed URL (in an access log) and posts their own body with it.
    query, body = attacker.sign(build_xml(attacker._fields("text", Content="找活动", MsgId=1001)))
    assert attacker.post(query, body).status == 200
    before = _rows(rt)
    forged = build_xml({**victim._fields("text", Content="删除我的信息", MsgId=1002)})
    assert attacker.post(query, forged.encode("utf-8")).status == 403
    assert _rows(rt) == before
    with rt.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ChannelIdentity)
                        .where(ChannelIdentity.external_id == victim.openid)) == 1


def test_wechats_own_retry_with_the_same_body_is_answered_once(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    d = wechat(app)
    d.event("subscribe")
    query, body = d.sign(build_xml(d._fields("text", Content="找活动", MsgId=2001)))
    first = d.post(query, body)
    after_first = _rows(rt)
    again = d.post(query, body)
    assert first.status == again.status == 200
    assert again.text == first.text and _rows(rt) == after_first  # the dedup marker answered, no new turn


def test_safe_mode_refuses_plaintext(make_app: AppMaker) -> None:
    app = make_app(aes=True)
    rt = runtime_of(app)
    plain = wechat(app, "plain")
    before = _rows(rt)
    assert plain.event("subscribe").status == 403  # correctly signed, but not encrypted
    assert _rows(rt) == before
    safe = wechat(app, "safe")
    assert "同意" in safe.event("subscribe").text
    assert "同意" in wechat(app, "compat").event("subscribe").text


def test_plaintext_allowed_without_a_key_or_when_switching_modes(make_app: AppMaker) -> None:
    assert wechat(make_app()).event("subscribe").status == 200
    assert wechat(make_app(aes=True, **{"wechat.accept_plaintext": True})).event("subscribe").status == 200


@pytest.fixture
def served(make_app: AppMaker) -> Iterator[str]:
    app = make_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_signatures_stay_out_of_the_access_log(served: str, caplog: pytest.LogCaptureFixture) -> None:
    from tests.drivers.wechat import TOKEN

    timestamp, nonce = "1700000000", uuid.uuid4().hex[:10]
    sig = signature(TOKEN, timestamp, nonce)
    url = f"{served}/wechat?signature={sig}&timestamp={timestamp}&nonce={nonce}&echostr=42&openid=oSecret1"
    caplog.set_level(logging.INFO, logger="werkzeug")
    try:
        urllib.request.urlopen(url, timeout=10).read()  # noqa: S310 - loopback
    except urllib.error.HTTPError:
        pass  # too old a timestamp: 403, still logged
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/wechat?" in line for line in lines), lines
    joined = "\n".join(lines)
    assert sig not in joined and nonce not in joined and "oSecret1" not in joined
    assert "signature=***" in joined


def test_gunicorn_access_log_atoms_are_redacted(make_app: AppMaker) -> None:
    from gunicorn.glogging import SafeAtoms

    make_app()
    atoms = SafeAtoms({"r": "POST /wechat?signature=abcdef123&timestamp=1&nonce=n1 HTTP/1.1",
                       "q": "signature=abcdef123&timestamp=1&nonce=n1", "s": "200"})
    record = logging.LogRecord("gunicorn.access", logging.INFO, __file__, 1, '%(r)s %(s)s', (atoms,), None)
    for f in logging.getLogger("gunicorn.access").filters:
        f.filter(record)
    line = record.getMessage()
    assert "abcdef123" not in line and "n1" not in line and "signature=***" in line and line.endswith(" 200")
