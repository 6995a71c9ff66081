"""A test driver that talks to /wechat exactly as WeChat's servers do: sign, optionally encrypt, post XML, parse."""

from __future__ import annotations

import hashlib
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from defusedxml.ElementTree import fromstring
from wechatpy.crypto import PrpCrypto, WeChatCrypto

# (method, path with query, body) -> (status, body)
Transport = Callable[[str, str, bytes], tuple[int, bytes]]

TOKEN = "yinlingTestToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as the back office generates
APP_ID = "wx0123456789abcdef"
ACCOUNT = "gh_0123456789ab"

_msg_ids = itertools.count(int(time.time()) * 1000)


def signature(*parts: str) -> str:
    """SHA-1 over the sorted parts: WeChat's `signature` and `msg_signature`."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def build_xml(fields: dict[str, Any]) -> str:
    """WeChat's message XML: strings in CDATA, numbers bare."""
    inner = "".join(f"<{k}>{v}</{k}>" if isinstance(v, int | float) else f"<{k}>{cdata(str(v))}</{k}>"
                    for k, v in fields.items())
    return f"<xml>{inner}</xml>"


def flask_transport(client: Any) -> Transport:
    def call(method: str, path: str, body: bytes) -> tuple[int, bytes]:
        res = client.open(path, method=method, data=body, content_type="text/xml")
        return res.status_code, res.get_data()

    return call


@dataclass
class Reply:
    """What the webhook answered: HTTP status, raw body, and the decoded reply fields (None = empty)."""

    status: int
    body: bytes
    fields: dict[str, str] | None

    @property
    def empty(self) -> bool:
        return self.status == 200 and self.fields is None

    @property
    def text(self) -> str:
        assert self.fields is not None, f"no passive reply (status {self.status}, body {self.body[:80]!r})"
        return self.fields.get("Content", "")


class WechatDriver:
    """One WeChat user (an openid) talking to one official account through the webhook.

    mode: "plain" (明文), "compat" (兼容: plaintext fields plus <Encrypt>) or "safe" (安全: only <Encrypt>).
    """

    def __init__(self, transport: Transport, *, openid: str | None = None, mode: str = "plain",
                 token: str = TOKEN, aes_key: str = AES_KEY, app_id: str = APP_ID, account: str = ACCOUNT,
                 path: str = "/wechat") -> None:
        assert mode in ("plain", "compat", "safe")
        self.transport = transport
        self.openid = openid or "o" + uuid.uuid4().hex[:27]
        self.mode = mode
        self.token = token
        self.app_id = app_id
        self.account = account
        self.path = path
        self.crypto = WeChatCrypto(token, aes_key, app_id)
        self.clock = int(time.time())

    # -- messages and events ------------------------------------------------------------------------
    def _fields(self, msg_type: str, **extra: Any) -> dict[str, Any]:
        self.clock += 1  # WeChat's CreateTime: seconds; each action here is one second apart
        return {"ToUserName": self.account, "FromUserName": self.openid, "CreateTime": self.clock,
                "MsgType": msg_type, **extra}

    def text(self, content: str) -> Reply:
        return self.send(self._fields("text", Content=content, MsgId=next(_msg_ids)))

    def voice(self, recognition: str = "", media_id: str = "media-voice-1") -> Reply:
        return self.send(self._fields("voice", MediaId=media_id, Format="amr", Recognition=recognition,
                                      MsgId=next(_msg_ids)))

    def location(self, lat: float, lon: float, label: str = "") -> Reply:
        return self.send(self._fields("location", Location_X=lat, Location_Y=lon, Scale=15, Label=label,
                                      MsgId=next(_msg_ids)))

    def image(self) -> Reply:
        return self.send(self._fields("image", PicUrl="http://mmbiz.qpic.cn/x", MediaId="media-img-1",
                                      MsgId=next(_msg_ids)))

    def event(self, event: str, key: str | None = None, **extra: Any) -> Reply:
        fields = self._fields("event", Event=event, **({} if key is None else {"EventKey": key}), **extra)
        return self.send(fields)

    # -- the wire ---------------------------------------------------------------------------------------
    def send(self, fields: dict[str, Any]) -> Reply:
        """Post one message, signed (and encrypted) for the driver's mode; return the decoded reply."""
        self.last_fields = fields
        query, body = self.sign(build_xml(fields))
        return self.post(query, body)

    def sign(self, plain_xml: str, *, timestamp: str | None = None, nonce: str | None = None
             ) -> tuple[dict[str, str], bytes]:
        """The query string and body WeChat would send for this message."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or uuid.uuid4().hex[:10]
        query = {"signature": signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                 "openid": self.openid}
        if self.mode == "plain":
            return query, plain_xml.encode("utf-8")
        encrypted = PrpCrypto(self.crypto.key).encrypt(plain_xml, self.app_id).decode("ascii")
        query["encrypt_type"] = "aes"
        query["msg_signature"] = signature(self.token, timestamp, nonce, encrypted)
        outer = f"<ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt>"
        if self.mode == "compat":
            outer = plain_xml[len("<xml>"):-len("</xml>")] + f"<Encrypt>{cdata(encrypted)}</Encrypt>"
        return query, f"<xml>{outer}</xml>".encode()

    def post(self, query: dict[str, str], body: bytes) -> Reply:
        status, raw = self.transport("POST", f"{self.path}?{urlencode(query)}", body)
        return Reply(status, raw, self.decode(status, raw))

    def decode(self, status: int, raw: bytes) -> dict[str, str] | None:
        """The passive reply's fields, checking MsgSignature and decrypting in safe/compat mode."""
        if status != 200 or raw.strip() in (b"", b"success"):
            return None
        fields = _children(raw)
        if "Encrypt" in fields:
            expected = signature(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
            assert fields["MsgSignature"] == expected, "reply MsgSignature does not match"
            fields = _children(PrpCrypto(self.crypto.key).decrypt(fields["Encrypt"], self.app_id))
        else:
            assert self.mode == "plain", "an encrypted request got a plaintext reply"
        assert fields["ToUserName"] == self.openid and fields["FromUserName"] == self.account
        assert fields["MsgType"] == "text"
        assert abs(int(fields["CreateTime"]) - time.time()) < 60, "CreateTime must be in seconds"
        return fields

    def verify(self, echostr: str, *, good: bool = True) -> tuple[int, bytes]:
        """WeChat's GET URL check."""
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        sig = signature(self.token, timestamp, nonce) if good else "0" * 40
        q = urlencode({"signature": sig, "timestamp": timestamp, "nonce": nonce, "echostr": echostr})
        return self.transport("GET", f"{self.path}?{q}", b"")


def _children(raw: bytes | str) -> dict[str, str]:
    root = fromstring(raw, forbid_dtd=True)
    return {c.tag: (c.text or "") for c in root}
