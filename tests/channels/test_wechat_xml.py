"""parse_xml drives expat itself: it reads every body as defusedxml's ElementTree did, and refuses what it refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from bot.web.wechat import Malformed, parse_xml
from tests.drivers.wechat import build_xml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "wechat"


def reference(body: bytes | str) -> dict[str, str] | str:
    """What parse_xml returned when it built an ElementTree with defusedxml (or the name of its refusal)."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        return f"xml: {type(exc).__name__}"
    if root.tag != "xml":
        return f"xml: root is <{root.tag}>"
    return {child.tag: (child.text or "").strip() for child in root}


def ours(body: bytes | str) -> dict[str, str] | str:
    try:
        return parse_xml(body)
    except Malformed as exc:
        return str(exc)


BODIES: list[bytes | str] = [
    *(p.read_bytes() for p in sorted(FIXTURES.glob("*.xml"))),
    build_xml({"ToUserName": "gh_1", "FromUserName": "oX", "CreateTime": 1, "MsgType": "text",
               "Content": "礼拜六上午有啥 ]]> <b>&amp;", "MsgId": 42}),
    build_xml({"ToUserName": "gh_1", "Content": "  空白  \n"}).encode("utf-8"),
    '<?xml version="1.0" encoding="utf-8"?><xml><A>x</A></xml>',
    '<?xml version="1.0" encoding="GBK"?><xml><A>中</A></xml>'.encode("gbk"),
    b"<xml><A>1</A><A>2</A><B/></xml>",
    b"<xml>\n  <A>\n text \n</A>\n  tail <B>b</B>\n</xml>",
    b"<xml><Info>before<Sub>inner</Sub>after</Info><Next>n</Next></xml>",
    b"<xml><Info><Sub>inner</Sub>after</Info></xml>",
    b"<xml><ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType><ScanResult>1</ScanResult></ScanCodeInfo></xml>",
    b"<xml><A>a<!-- comment -->b<?pi data?>c</A></xml>",
    b"<xml><A>&lt;&gt;&amp;&quot;&apos;&#20013;&#x6587;</A></xml>",
    b"<xml><A><![CDATA[x]]>y<![CDATA[z]]></A></xml>",
    b'<xml xmlns="urn:x"><A>1</A></xml>',
    b'<xml xmlns:w="urn:w"><w:A>1</w:A><B xmlns="urn:b">2</B></xml>',
    b'<w:xml xmlns:w="urn:w"><A>1</A></w:xml>',
    b'<xml a="1"><A b="2">1</A></xml>',
    b"<xml><A>&undefined;</A></xml>",
    b'<!DOCTYPE xml SYSTEM "http://example.org/x.dtd"><xml><A>1</A></xml>',
    b'<!DOCTYPE xml [<!ENTITY e "boom">]><xml><A>&e;</A></xml>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><xml/>',
    b"<xml><A>1</A></xml><xml/>",
    b"<xml><A>1</A>",
    b"<xml/>",
    b"<other><A>1</A></other>",
    b"",
    b"   ",
    b"\xff\xfe garbage",
    "<xml><A>\ud800</A></xml>",
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_reads_as_defusedxml_did(body: bytes | str) -> None:
    assert ours(body) == reference(body)


def test_a_message_reads_the_same_as_text() -> None:
    body = build_xml({"ToUserName": "gh_1", "FromUserName": "oX", "MsgType": "event", "Event": "CLICK",
                      "EventKey": "MENU_FIND", "CreateTime": 1733366407})
    assert parse_xml(body) == parse_xml(body.encode("utf-8")) == {
        "ToUserName": "gh_1", "FromUserName": "oX", "MsgType": "event", "Event": "CLICK", "EventKey": "MENU_FIND",
        "CreateTime": "1733366407"}
