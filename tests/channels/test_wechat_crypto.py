"""WeChat webhook building blocks: signatures, the official safe-mode vectors, safe XML, inbound mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from wechatpy.crypto import PrpCrypto

from bot.channels.wechat_api import MORE_TAIL, fit_text
from bot.runtime import build_runtime
from bot.web.wechat import Malformed, Refused, WechatChannel, parse_xml, same, sign
from tests.conftest import TEST_SECRET

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wechat"

# WXBizMsgCrypt's published sample (token, EncodingAESKey, appid) and its encrypted message.
SAMPLE_TOKEN = "QDG6eK"
SAMPLE_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_APPID = "wx5823bf96d3bd56c7"
SAMPLE_MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
SAMPLE_TIMESTAMP = "1409659813"
SAMPLE_NONCE = "1372623149"
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxa"
    "ccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7P"
    "F5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0"
    "MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
# The sample's URL-check vector (an encrypted echostr).
SAMPLE_ECHO_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
SAMPLE_ECHO_TIMESTAMP = "1409659589"
SAMPLE_ECHO_NONCE = "263014780"
SAMPLE_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="


@pytest.fixture(scope="module")
def sample_channel(tmp_path_factory: pytest.TempPathFactory) -> WechatChannel:
    """A channel configured with the published sample's token, key and appid (no database is opened)."""
    db = tmp_path_factory.mktemp("wx") / "unused.db"
    rt = build_runtime(overrides={"database.url": f"sqlite:///{db}", "secret_key": TEST_SECRET,
                                  "wechat.token": SAMPLE_TOKEN, "wechat.aes_key": SAMPLE_KEY,
                                  "wechat.app_id": SAMPLE_APPID,
                                  "wechat.signature_max_age_seconds": 0})  # the published vectors are from 2014
    return WechatChannel(rt)


def sample_args(**change: str) -> dict[str, str]:
    args = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE, "encrypt_type": "aes",
            "msg_signature": SAMPLE_MSG_SIGNATURE, "signature": sign(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE)}
    return {**args, **change}


SAMPLE_BODY = (f"<xml><ToUserName><![CDATA[{SAMPLE_APPID}]]></ToUserName>"
               f"<Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>").encode()


def test_official_sample_message_decrypts(sample_channel: WechatChannel) -> None:
    assert sample_channel.signed(sample_args())
    fields, encrypted = sample_channel.decode(SAMPLE_BODY, sample_args())
    assert encrypted
    assert fields["FromUserName"] == "mycreate"
    assert fields["MsgType"] == "text" and fields["Content"] == "hello"
    assert fields["CreateTime"] == "1409659813" and fields["MsgId"] == "4561255354251345929"


def test_official_sample_tampered_signature_refused(sample_channel: WechatChannel) -> None:
    bad = sample_args(msg_signature="577715d11cdb4164915debcba66cb864d751f3e6")
    with pytest.raises(Refused):
        sample_channel.decode(SAMPLE_BODY, bad)
    tampered = SAMPLE_BODY.replace(b"RypEv", b"RypEw")
    with pytest.raises(Refused):
        sample_channel.decode(tampered, sample_args())


def test_official_sample_echostr_vector() -> None:
    assert sign(SAMPLE_TOKEN, SAMPLE_ECHO_TIMESTAMP, SAMPLE_ECHO_NONCE, SAMPLE_ECHOSTR) == SAMPLE_ECHO_SIGNATURE
    key = __import__("base64").b64decode(SAMPLE_KEY + "=")
    assert PrpCrypto(key).decrypt(SAMPLE_ECHOSTR, SAMPLE_APPID) == "1616140317555161061"


def test_our_encrypted_reply_round_trips(sample_channel: WechatChannel) -> None:
    fields = {"ToUserName": "gh_sample", "FromUserName": "mycreate"}
    from dialogs import Text

    res = sample_channel.render(fields, [Text("您好]]>请回复1")], encrypted=True, nonce="42")
    outer = parse_xml(res.get_data())
    assert same(sign(SAMPLE_TOKEN, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]), outer["MsgSignature"])
    inner = parse_xml(PrpCrypto(sample_channel.crypto.key).decrypt(outer["Encrypt"], SAMPLE_APPID))  # type: ignore[union-attr]
    assert inner["Content"] == "您好]]>请回复1"  # CDATA terminator inside the text survives
    assert inner["ToUserName"] == "mycreate" and inner["FromUserName"] == "gh_sample"
    assert len(inner["CreateTime"]) == 10  # seconds, not milliseconds


def test_signature_is_sha1_of_sorted_parts() -> None:
    # token "QDG6eK", timestamp and nonce from the sample: a known value computed independently.
    assert sign("b", "a", "c") == sign("c", "b", "a")
    assert same(sign("t", "1", "2"), sign("2", "t", "1"))
    assert not same(sign("t", "1", "2"), None)
    assert not same(sign("t", "1", "2"), "签名")  # non-ASCII input is compared, not a TypeError


@pytest.mark.parametrize("body", [
    (FIXTURES / "billion_laughs.xml").read_bytes(),
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><C>&x;</C></xml>',
    (FIXTURES / "malformed.xml").read_bytes(),
    b"<notxml><a>1</a></notxml>",
    b"",
    b"\xff\xfe garbage",
])
def test_unsafe_or_broken_xml_is_refused(body: bytes) -> None:
    with pytest.raises(Malformed):
        parse_xml(body)


INBOUND_TABLE = [
    ("text.xml", {"kind": "text", "text": "礼拜六有啥活动", "dedup_key": "oUSER:24871653001"}),
    ("voice.xml", {"kind": "voice", "text": "明天有什么活动", "media_id": "media-voice-1"}),
    ("voice_no_recognition.xml", {"kind": "voice", "text": "", "media_id": "media-voice-2"}),
    ("location.xml", {"kind": "location", "location": (40.842585, 111.749181), "text": ""}),
    ("image.xml", {"kind": "image", "media_id": "media-image-1"}),
    ("video.xml", {"kind": "image", "media_id": "media-video-1"}),
    ("link.xml", {"kind": "image", "text": ""}),
    ("event_subscribe.xml", {"kind": "event", "event": "subscribe", "event_key": None,
                             "dedup_key": "oUSER:1733366407:subscribe:"}),
    ("event_subscribe_qrscene.xml", {"kind": "event", "event": "subscribe", "event_key": "qrscene_team_1"}),
    ("event_scan.xml", {"kind": "event", "event": "scan", "event_key": "team_1",
                        "dedup_key": "oUSER:1733366409:scan:team_1"}),
    ("event_unsubscribe.xml", {"kind": "event", "event": "unsubscribe"}),
    ("event_click.xml", {"kind": "event", "event": "click", "event_key": "MENU_FIND"}),
    ("event_view.xml", {"kind": "event", "event": "view", "event_key": "https://www.example.org/guide"}),
    ("event_location.xml", {"kind": "event", "event": "location", "location": (40.842585, 111.749181)}),
]


@pytest.mark.parametrize(("name", "expected"), INBOUND_TABLE, ids=[n for n, _ in INBOUND_TABLE])
def test_fixture_maps_to_inbound(sample_channel: WechatChannel, name: str, expected: dict[str, object]) -> None:
    inbound = sample_channel.inbound(parse_xml((FIXTURES / name).read_bytes()), "rid")
    assert inbound is not None
    assert inbound.channel == "wechat" and inbound.sender == "oUSER" and inbound.request_id == "rid"
    for attr, value in expected.items():
        assert getattr(inbound, attr) == value, attr


def test_server_notices_do_not_reach_the_dialogs(sample_channel: WechatChannel) -> None:
    fields = parse_xml((FIXTURES / "event_templatesendjobfinish.xml").read_bytes())
    assert sample_channel.inbound(fields, "rid") is None
    assert sample_channel.api.unreachable_reason("oUSER", customer_service=False) == "user_block"


@pytest.mark.parametrize("fields", [
    {"FromUserName": "o1", "CreateTime": "1733366400"},  # no MsgType
    {"MsgType": "text", "CreateTime": "1733366400"},  # no sender
    {"FromUserName": "o1", "MsgType": "text", "CreateTime": "yesterday"},
])
def test_missing_fields_are_malformed(sample_channel: WechatChannel, fields: dict[str, str]) -> None:
    with pytest.raises(Malformed):
        sample_channel.inbound(fields, "rid")


def test_fit_text_cuts_at_bytes_with_a_tail() -> None:
    assert fit_text("短消息", 100) == "短消息"
    long = "\n".join(f"{i}. 暖冬行动·为独居老人送棉衣 12月5日（星期六）上午9点 阳光社区服务站" for i in range(1, 60))
    cut = fit_text(long, 2000)
    assert len(cut.encode("utf-8")) <= 2000
    assert cut.endswith(MORE_TAIL) and "更多" in cut
    body = cut.removesuffix(MORE_TAIL)
    assert long.startswith(body) and body.endswith("阳光社区服务站")  # cut at a line break, not mid-line
