"""The passive reply is written without wechatpy's reply objects: byte for byte what wechatpy writes."""

from __future__ import annotations

import base64

import pytest
from flask import Flask
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.crypto.base import BasePrpCrypto
from wechatpy.replies import TextReply

from bot.app import security_headers
from bot.runtime import build_runtime
from bot.web.wechat import ENCRYPTED_REPLY, TEXT_REPLY, WechatChannel
from dialogs import Choices, Text
from tests.conftest import TEST_SECRET
from tests.drivers.wechat import AES_KEY, APP_ID, TOKEN

CONTENTS = ["你好", "", "a]]>b", "1. 找活动\n2. 我的活动\n\n回复数字", "<tag> & \"quotes\" 'x'", "x" * 3000]


@pytest.mark.parametrize("content", CONTENTS)
def test_text_reply_is_wechatpys(content: str) -> None:
    ours = TEXT_REPLY.format(content=content, source="gh_0123456789ab", target="oAbc-_123", time=1700000000)
    theirs = TextReply(source="gh_0123456789ab", target="oAbc-_123", content=content, time=1700000000).render()
    assert ours == theirs


@pytest.fixture(scope="module")
def safe_channel(tmp_path_factory: pytest.TempPathFactory) -> WechatChannel:
    db = tmp_path_factory.mktemp("wx") / "unused.db"
    rt = build_runtime(overrides={"database.url": f"sqlite:///{db}", "secret_key": TEST_SECRET,
                                  "wechat.token": TOKEN, "wechat.aes_key": AES_KEY, "wechat.app_id": APP_ID})
    return WechatChannel(rt)


def test_encrypted_reply_is_wechatpys(safe_channel: WechatChannel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BasePrpCrypto, "get_random_string", lambda self: "0123456789abcdef")
    monkeypatch.setattr(safe_channel._prp, "get_random_string", lambda: "0123456789abcdef")
    xml = TEXT_REPLY.format(content="报名成功 ]]]]><![CDATA[>", source="gh_x", target="oY", time=1700000000)
    ours = safe_channel.encrypt(xml, "nonce123", "1700000000")
    theirs = WeChatCrypto(TOKEN, AES_KEY, APP_ID).encrypt_message(xml, "nonce123", "1700000000")
    assert ours == theirs
    assert "Encrypt" in ENCRYPTED_REPLY


def test_encrypted_replies_open_with_fresh_random_characters(safe_channel: WechatChannel) -> None:
    assert safe_channel._prp is not None and safe_channel.crypto is not None
    cipher = PrpCrypto(safe_channel.crypto.key).cipher
    prefixes = {cipher.decrypt(base64.b64decode(safe_channel._prp.encrypt("<xml/>", APP_ID)))[:16] for _ in range(50)}
    assert len(prefixes) == 50 and all(len(p) == 16 for p in prefixes)
    assert PrpCrypto(safe_channel.crypto.key).decrypt(safe_channel._prp.encrypt("<xml>中</xml>", APP_ID),
                                                      APP_ID) == "<xml>中</xml>"


@pytest.mark.parametrize("content", CONTENTS[:4])
def test_render_round_trips_in_safe_mode(safe_channel: WechatChannel, content: str) -> None:
    app = Flask("t")
    with app.app_context():
        res = safe_channel.render({"ToUserName": "gh_x", "FromUserName": "oY"},
                                  [Text(content or "空"), Choices("选一个", ("甲", "乙"))], True, "n1")
    body = res.get_data(as_text=True)
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    from defusedxml.ElementTree import fromstring

    outer = {c.tag: c.text or "" for c in fromstring(body)}
    plain = PrpCrypto(crypto.key).decrypt(outer["Encrypt"], APP_ID)
    inner = {c.tag: c.text or "" for c in fromstring(plain)}
    assert inner["Content"] == f"{content or '空'}\n\n选一个\n1. 甲\n2. 乙"
    assert inner["ToUserName"] == "oY" and inner["FromUserName"] == "gh_x" and inner["MsgType"] == "text"
    assert outer["Nonce"] == "n1"


def test_security_headers_keep_what_the_view_set() -> None:
    app = Flask("t")
    with app.test_request_context():
        res = app.make_response(("x", 200, {"x-frame-options": "SAMEORIGIN"}))
        security_headers(res, secure=True)
        assert res.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        assert res.headers["Strict-Transport-Security"] == "max-age=31536000"
        plain = security_headers(app.make_response("y"), secure=False)
        assert "Strict-Transport-Security" not in plain.headers
        assert [k for k, _ in plain.headers.items()][-4:] == ["Content-Security-Policy", "X-Content-Type-Options",
                                                              "Referrer-Policy", "X-Frame-Options"]


def test_app_remembers_plain_functions_only() -> None:
    from bot.app import App

    app = App("t")

    def view() -> str:
        return "x"

    async def coro() -> str:
        return "y"

    wrapped: list[object] = []
    app.async_to_sync = lambda func: wrapped.append(func) or (lambda: "sync")  # type: ignore[method-assign]
    assert app.ensure_sync(view) is view and app.ensure_sync(view) is view
    assert app.ensure_sync(coro)() == "sync" and app.ensure_sync(coro)() == "sync"
    assert wrapped == [coro, coro]  # a coroutine function is wrapped every time, never remembered as plain


@pytest.mark.parametrize("text", [
    "POST /wechat?signature=ab&timestamp=1&nonce=9&openid=oX HTTP/1.1", "Msg_Signature=x&ECHOSTR=y", "mykey=1",
    "access_token=T&x=1", "no equals sign: signature nonce key", "default-src 'self'", "", "=", "sign='v' key=\"w\"",
])
def test_redact_is_the_expression_everywhere(text: str) -> None:
    from bot.web.wechat import _SECRET_PARAMS, redact

    assert redact(text) == _SECRET_PARAMS.sub(r"\1=***", text)
