"""WeChat official-account webhook: verify, decrypt, dedup, answer within the 5-second window or deliver later."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import logging
import math
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from pyexpat import ExpatError, ParserCreate
from typing import Any

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy import select
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from data.models import ChannelIdentity
from data.timeutil import utcnow
from dialogs import Reply, to_plain

from .. import metrics
from ..channels import asr, audio
from ..channels.wechat_api import WechatAPI, WechatAPIError, check_menu, deliver_reply, render_text, short
from ..pipeline import BUSY, SORRY, Inbound, Outcome, Pipeline
from ..push import get_push, read_aloud
from ..runtime import Runtime

log = logging.getLogger("yinling.wechat")

bp = Blueprint("wechat", __name__)

# Events a person causes; they go to the dialogs. Others (TEMPLATESENDJOBFINISH, ...) are server notices.
USER_EVENTS = {"subscribe", "unsubscribe", "click", "view", "location", "scan"}
OTHER_MEDIA = {"image", "video", "shortvideo", "link", "file", "music"}
# Events the person did not address to us: the dialogs see them, the person gets no message. An unfollowed
# user cannot receive one; a VIEW reply is never shown; LOCATION is reported each time the chat is opened.
SILENT_EVENTS = {"unsubscribe", "view", "location"}
UNSUBSCRIBED_TTL = 7 * 86400  # seconds the store remembers an unfollowed openid (notices already queued)


# A passive text reply and its safe-mode envelope, byte for byte as wechatpy's TextReply.render() and
# WeChatCrypto.encrypt_message() write them (tests/channels/test_wechat_render.py compares), without building
# a reply object per message.
TEXT_REPLY = ("<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[{content}]]></Content>\n"
              "<FromUserName><![CDATA[{source}]]></FromUserName>\n<ToUserName><![CDATA[{target}]]></ToUserName>\n"
              "<CreateTime>{time}</CreateTime>\n</xml>")
ENCRYPTED_REPLY = ("<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
                   "<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>")


class Refused(Exception):
    """The request is not from WeChat (bad signature): 403, nothing parsed or written."""


class Malformed(Exception):
    """Signed but unreadable (bad XML, missing fields, undecryptable): acknowledged, nothing written."""


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 over the sorted, concatenated parts."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison (wechatpy's own check uses `!=`)."""
    return given is not None and hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The direct children of a WeChat <xml> body, parsed without DTDs or entity expansion.

    Each child's text is what ElementTree calls its `.text` (the characters before its first sub-element),
    stripped; a repeated child keeps its last text. expat is driven directly, refusing what defusedxml refuses
    (a DTD, an entity declaration, an external reference), instead of building a tree per message (and two in
    safe mode); tests/channels/test_wechat_xml.py holds it to `defusedxml.ElementTree.fromstring`.
    """
    fields: dict[str, str] = {}
    depth = 0
    root = ""
    child: str | None = None  # the child whose text is being read
    text: list[str] = []

    def start(tag: str, _attrs: Any) -> None:
        nonlocal depth, root, child, text
        depth += 1
        if depth == 1:
            root = _tag(tag)
        elif depth == 2:
            child, text = _tag(tag), []
        elif depth == 3 and child is not None:
            fields[child] = "".join(text).strip()
            child = None

    def end(_tag_name: str) -> None:
        nonlocal depth, child
        if depth == 2 and child is not None:
            fields[child] = "".join(text).strip()
            child = None
        depth -= 1

    def data(chars: str) -> None:
        if child is not None:
            text.append(chars)

    parser = ParserCreate(None, "}")  # as ElementTree's: a namespaced name is "uri}name", read as "{uri}name"
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_entities
    parser.UnparsedEntityDeclHandler = _no_unparsed_entities
    parser.ExternalEntityRefHandler = _no_external
    try:
        parser.Parse(body, True)
    except ExpatError as exc:
        raise Malformed("xml: ParseError") from exc
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, ValueError) as exc:
        raise Malformed(f"xml: {type(exc).__name__}") from exc
    if root != "xml":
        raise Malformed(f"xml: root is <{root}>")
    return fields


def _tag(name: str) -> str:
    return "{" + name if "}" in name else name


def _no_dtd(name: str, sysid: str | None, pubid: str | None, _internal: bool) -> None:
    raise DTDForbidden(name, sysid, pubid)


def _no_entities(name: str, _is_parameter: bool, value: str | None, base: str | None, sysid: str | None,
                 pubid: str | None, notation: str | None) -> None:
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation)


def _no_unparsed_entities(name: str, base: str | None, sysid: str | None, pubid: str | None,
                          notation: str | None) -> None:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation)


def _no_external(context: str, base: str | None, sysid: str | None, pubid: str | None) -> None:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


class _Prp(PrpCrypto):
    """wechatpy's AES-CBC message cipher; the 16 random characters that open each encrypted reply come from
    os.urandom (hex digits) instead of `random.sample` over letters and digits: cheaper, and unpredictable."""

    def get_random_string(self) -> str:
        return os.urandom(8).hex()


class _Turn:
    """Whether the webhook already gave up waiting for a turn (then its reply goes out as a message)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.late = False


class WechatChannel:
    """The webhook's logic for one app: verify → decrypt → dedup → pipeline within the budget → reply."""

    def __init__(self, rt: Runtime, pipeline: Pipeline | None = None) -> None:
        self.rt = rt
        self.cfg = rt.config.wechat
        self.pipeline = pipeline or Pipeline(rt, push=get_push(rt))
        self.api = WechatAPI(self.cfg, rt.store)
        self.recognizer = asr.build(rt.config)  # None: voice without WeChat's transcript is answered kindly
        self.crypto: WeChatCrypto | None = None
        self._prp: PrpCrypto | None = None  # the AES cipher, made once: a message needs only a fresh context
        if self.cfg.aes_key and self.cfg.token and self.cfg.app_id:
            self.crypto = WeChatCrypto(self.cfg.token, self.cfg.aes_key, self.cfg.app_id)
            self._prp = _Prp(self.crypto.key)
        self.pool = ThreadPoolExecutor(max(1, self.cfg.worker_threads), thread_name_prefix="wechat-turn")
        self._queue: Any = None
        self._queue_lock = threading.Lock()

    # -- verification ------------------------------------------------------------------------
    def signed(self, args: Any) -> bool:
        token = self.cfg.token
        if not token:
            log.error("WECHAT_TOKEN is not set: every /wechat request is refused")
            return False
        timestamp, nonce = args.get("timestamp"), args.get("nonce")
        if not timestamp or not nonce:
            return False
        if not same(sign(token, timestamp, nonce), args.get("signature")):
            return False
        max_age = self.cfg.signature_max_age_seconds
        if max_age:
            try:
                age = time.time() - int(timestamp)  # seconds, as WeChat sends them
            except ValueError:
                return False
            if abs(age) > max_age:
                log.warning("wechat request signed %.0f s ago refused (replay, or this server's clock is off)", age)
                return False
        return True

    def first_use(self, args: Any, body: bytes) -> bool:
        """Remember each signed (timestamp, nonce) for the replay window with a digest of its body.

        In plain mode the signature does not cover the body, so a URL copied from a log could carry any
        message: a second use of the pair with a different body is refused. The same body again is
        WeChat's own retry (or a harmless replay): the dedup marker answers it without a second turn.
        """
        timestamp, nonce = str(args.get("timestamp", "")), str(args.get("nonce", ""))
        if len(timestamp) > 16 or len(nonce) > 64:
            return False
        window = max(2 * self.cfg.signature_max_age_seconds, self.cfg.dedup_ttl_seconds, 60)
        digest = hashlib.sha256(body).hexdigest()[:32]
        key = f"wechat:nonce:{timestamp}:{nonce}"
        if self.rt.store.set_nx(key, digest, window):
            return True
        return self.rt.store.get(key) == digest

    def plaintext_allowed(self) -> bool:
        """In compatible or safe mode (an AES key is set) WeChat always encrypts: plaintext is a forgery."""
        if self.cfg.accept_plaintext is not None:
            return bool(self.cfg.accept_plaintext)
        return self.crypto is None

    def decode(self, body: bytes, args: Any) -> tuple[dict[str, str], bool]:
        """Fields of the message and whether it came encrypted (safe or compatible mode)."""
        outer = parse_xml(body)
        if args.get("encrypt_type", "raw").lower() != "aes":
            if not self.plaintext_allowed():
                raise Refused("plaintext message while the account encrypts (WECHAT_AES_KEY is set)")
            return outer, False
        if self.crypto is None or self._prp is None:
            log.error("WeChat sends encrypted messages (safe mode) but WECHAT_AES_KEY / WECHAT_APP_ID are not set")
            raise Malformed("encrypt_type=aes without a key")
        encrypted = outer.get("Encrypt")
        if not encrypted:
            raise Malformed("encrypt_type=aes without <Encrypt>")
        token = self.cfg.token or ""
        if not same(sign(token, args.get("timestamp", ""), args.get("nonce", ""), encrypted),
                    args.get("msg_signature")):
            raise Refused("msg_signature")
        try:
            # msg_signature is checked just above (in constant time): wechatpy's decrypt_message would only
            # check it again and make a cipher per message.
            plain = self._prp.decrypt(encrypted, self.crypto.app_id)
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise Refused(type(exc).__name__) from exc
        except Exception as exc:  # noqa: BLE001 - bad padding, bad base64, bad key: all "cannot read it"
            raise Malformed(f"decrypt: {type(exc).__name__}") from exc
        return parse_xml(plain), True

    # -- inbound mapping -------------------------------------------------------------------------
    def inbound(self, f: dict[str, str], request_id: str) -> Inbound | None:
        """An Inbound for the pipeline, or None for a server notice that no person sent."""
        sender, msg_type = f.get("FromUserName"), f.get("MsgType", "").lower()
        if not sender or not msg_type:
            raise Malformed("FromUserName or MsgType missing")
        try:
            created = int(f.get("CreateTime", ""))  # seconds since the epoch, as WeChat sends it
        except ValueError as exc:
            raise Malformed("CreateTime is not a number") from exc
        msg_id = f.get("MsgId") or f.get("MsgID")
        dedup = f"{sender}:{msg_id}" if msg_id else f"{sender}:{created}:{msg_type}"
        base: dict[str, Any] = {"channel": "wechat", "sender": sender, "dedup_key": dedup, "request_id": request_id}
        if msg_type == "text":
            return Inbound(text=f.get("Content", ""), kind="text", **base)
        if msg_type == "voice":
            return Inbound(text=f.get("Recognition", ""), kind="voice", media_id=f.get("MediaId"), **base)
        if msg_type == "location":
            return Inbound(kind="location", location=_point(f.get("Location_X"), f.get("Location_Y")), **base)
        if msg_type in OTHER_MEDIA:
            return Inbound(kind="image", media_id=f.get("MediaId"), **base)
        if msg_type != "event":
            log.info("wechat message type %s ignored request_id=%s", msg_type, request_id)
            return None
        event = f.get("Event", "").lower()
        if event not in USER_EVENTS:
            self._server_notice(sender, event, f, request_id)
            return None
        key = f.get("EventKey", "")
        base["dedup_key"] = f"{sender}:{created}:{event}:{key}"
        base["opens_window"] = event not in SILENT_EVENTS  # WeChat opens the window on messages and clicks
        location = _point(f.get("Latitude"), f.get("Longitude")) if event == "location" else None
        return Inbound(kind="event", event=event, event_key=key or None, location=location, **base)

    def _server_notice(self, openid: str, event: str, f: dict[str, str], request_id: str) -> None:
        status = f.get("Status", "")
        if event == "templatesendjobfinish" and status == "failed:user block":
            self.api.mark_unreachable(openid, "user_block")
        log.info("wechat server event %s %s for %s request_id=%s", event, status, short(openid), request_id)

    # -- the turn ----------------------------------------------------------------------------------
    def _handle(self, inbound: Inbound) -> Outcome:
        # The pipeline runs one turn at a time per person (on a renewed lease), and takes "now" once the
        # previous turn is done. A voice message without WeChat's transcript is heard once the delivery is
        # claimed: WeChat's retries of the same MsgId wait for that turn instead of recognizing it again.
        hear = self.hear if inbound.kind == "voice" and not inbound.text.strip() and inbound.media_id else None
        outcome = self.pipeline.handle(inbound, dedup_ttl=self.cfg.dedup_ttl_seconds,
                                       dup_wait=self.cfg.reply_budget_seconds * 0.8,
                                       dedup_lease=self.cfg.lease_seconds, prepare=hear)
        if inbound.event == "unsubscribe" and not outcome.duplicate:
            self._opt_out(inbound.sender, utcnow())
        return outcome

    def hear(self, inbound: Inbound) -> None:
        """Download the voice message, decode it to 16 kHz mono and recognize it: `inbound.text` becomes the
        transcript. Without a recognizer, or when any step fails, the text stays empty and the dialogs ask
        kindly again, with the menu. Runs inside the turn, so inside the webhook's budget: a slow recognizer
        moves the reply to a customer-service message."""
        if self.recognizer is None or not inbound.media_id:
            return
        started = time.monotonic()
        try:
            data, _ctype = self.api.get_media(inbound.media_id, timeout=self.rt.config.asr.timeout_seconds)
            pcm = audio.decode(data, self.rt.config.asr.max_seconds)
            inbound.text = self.recognizer.recognize(pcm.data, pcm.rate)
        except WechatAPIError as exc:
            log.warning("voice not downloaded (%s) request_id=%s", exc.reason, inbound.request_id)
        except audio.AudioError as exc:
            log.warning("voice not decoded (%s) request_id=%s", exc, inbound.request_id)
        except asr.AsrError as exc:
            log.warning("voice not recognized (%s) request_id=%s", exc.reason, inbound.request_id)
        else:
            log.info("voice of %.1f s recognized in %.2f s request_id=%s", pcm.seconds,
                     time.monotonic() - started, inbound.request_id)

    def _opt_out(self, openid: str, now: datetime) -> None:
        """Keep a trace that this openid left, if the dialogs kept the identity (they own data deletion)."""
        with self.rt.sessions() as s:
            ident = s.scalars(select(ChannelIdentity).where(
                ChannelIdentity.channel == "wechat", ChannelIdentity.external_id == openid)).first()
            if ident is not None:
                ident.opted_out_at = now
                ident.opted_out_reason = "unsubscribed"
                s.commit()

    def run(self, inbound: Inbound) -> list[Reply] | None:
        """Replies to answer passively, or None when the turn missed the budget (delivered later)."""
        turn = _Turn()
        future = self.pool.submit(self._handle, inbound)
        future.add_done_callback(lambda fut: self._finished(turn, fut, inbound))
        try:
            outcome = future.result(timeout=self.cfg.reply_budget_seconds)
        except FutureTimeout:
            with turn.lock:
                if not future.done():
                    turn.late = True
                    metrics.WECHAT_LATE.inc()
                    self.rt.store.set(f"wechat:late:{inbound.dedup_key}", "1", self.cfg.dedup_ttl_seconds)
                    log.info("turn exceeded %.1fs; answering empty, reply follows request_id=%s",
                             self.cfg.reply_budget_seconds, inbound.request_id)
                    return None
            outcome = future.result()
        if outcome.duplicate:
            if self.rt.store.get(f"wechat:late:{inbound.dedup_key}") or outcome.replies == [BUSY]:
                return None  # the first delivery's reply goes out as a customer-service message
        elif outcome.speak and inbound.event not in SILENT_EVENTS:
            self.read_aloud(inbound.sender, outcome.speak, inbound.request_id)
        return outcome.replies

    def _finished(self, turn: _Turn, future: Future[Outcome], inbound: Inbound) -> None:
        with turn.lock:
            if not turn.late:
                return
        try:
            outcome = future.result()
            if outcome.duplicate or not outcome.replies or inbound.event in SILENT_EVENTS:
                return
            self.deliver_late(inbound.sender, render_text(outcome.replies, self.cfg.max_reply_bytes),
                              inbound.request_id)
            if outcome.speak:
                self.read_aloud(inbound.sender, outcome.speak, inbound.request_id)
        except Exception:  # noqa: BLE001 - runs in a pool thread; nobody else would see it
            log.exception("late reply not delivered request_id=%s", inbound.request_id)

    def deliver_late(self, openid: str, text: str, request_id: str) -> None:
        """A reply that missed the window: an RQ job on the `replies` queue, or a thread without Redis."""
        if self.rt.redis is not None and self.rt.config.redis.url:
            from rq import Retry

            attempts = max(1, self.cfg.send_attempts)
            intervals = [5, 30, 120, 600][: attempts - 1] or [5]
            try:
                self._rq_queue().enqueue(deliver_reply, openid, text, request_id,
                                         retry=Retry(max=attempts - 1, interval=intervals) if attempts > 1 else None,
                                         job_timeout=60, result_ttl=3600, failure_ttl=7 * 86400)
                return
            except Exception:  # noqa: BLE001 - Redis unavailable: this process sends it itself
                log.exception("late reply not queued; sending from this process request_id=%s", request_id)
        threading.Thread(target=self._deliver_in_thread, args=(openid, text, request_id),
                         name="wechat-late-reply", daemon=True).start()

    def read_aloud(self, openid: str, replies: list[Reply], request_id: str) -> None:
        """念给我听: the replies also as voice, after the text (an RQ job, or a thread without Redis).

        Never raises: the text reply must go out whatever happens to its voice."""
        text = to_plain(replies)
        if self.rt.redis is not None and self.rt.config.redis.url:
            try:
                self._rq_queue().enqueue("bot.push.read_aloud.speak_job", openid, text, request_id,
                                         job_timeout=120, result_ttl=3600, failure_ttl=7 * 86400)
                return
            except Exception:  # noqa: BLE001 - Redis unavailable: this process speaks it itself
                log.exception("read aloud not queued; speaking from this process request_id=%s", request_id)
        try:
            threading.Thread(target=read_aloud.read_aloud, name="wechat-read-aloud", daemon=True,
                             args=(self.api, read_aloud.speaker(self.rt.config.tts), openid, text,
                                   request_id)).start()
        except Exception:  # noqa: BLE001
            log.exception("read aloud not started request_id=%s", request_id)

    def _rq_queue(self) -> Any:
        with self._queue_lock:
            if self._queue is None:
                import redis
                from rq import Queue

                # RQ needs raw bytes: its own connection, not the store's decoding client.
                connection = redis.Redis.from_url(self.rt.config.redis.url or "", socket_timeout=5)
                self._queue = Queue(self.cfg.reply_queue, connection=connection)
            return self._queue

    def _deliver_in_thread(self, openid: str, text: str, request_id: str) -> None:
        for attempt in range(max(1, self.cfg.send_attempts)):
            result = self.api.send_text(openid, text)
            log.info("late reply to %s: %s %s request_id=%s", short(openid), result.status, result.reason,
                     request_id)
            if result.status != "retry":
                return
            time.sleep(min(result.retry_after or 5.0, 30.0) * (attempt + 1))

    # -- the reply ---------------------------------------------------------------------------------
    def render(self, f: dict[str, str], replies: list[Reply], encrypted: bool, nonce: str) -> Response:
        """A passive text reply (encrypted in safe mode), or `success` when there is nothing to say."""
        if not replies:
            return _success()
        content = render_text(replies, self.cfg.max_reply_bytes).replace("]]>", "]]]]><![CDATA[>")
        now = int(time.time())
        xml = TEXT_REPLY.format(content=content, source=f.get("ToUserName", ""), target=f.get("FromUserName", ""),
                                time=now)
        if encrypted and self.crypto is not None and self._prp is not None:
            xml = self.encrypt(xml, nonce or "0", str(now))
        return Response(xml, 200, content_type="application/xml; charset=utf-8")

    def encrypt(self, xml: str, nonce: str, timestamp: str) -> str:
        """The reply in safe mode: wechatpy's `WeChatCrypto.encrypt_message` envelope, with the cipher made once."""
        assert self._prp is not None and self.crypto is not None
        encrypt = self._prp.encrypt(xml, self.crypto.app_id).decode("ascii")
        return ENCRYPTED_REPLY.format(encrypt=encrypt, signature=sign(self.crypto.token, timestamp, nonce, encrypt),
                                      timestamp=timestamp, nonce=nonce)

    def receive(self) -> Response:
        """POST /wechat."""
        req = request._get_current_object()  # type: ignore[attr-defined]  # once, not a proxy lookup per use
        args = req.args
        rid = g.request_id
        if not self.signed(args):
            log.warning("wechat POST with a bad signature refused request_id=%s", rid)
            return Response("forbidden", 403)
        limit = self.rt.config.app.max_body_bytes
        if req.content_length is not None and req.content_length > limit:
            return Response("body too large", 413)
        body = req.get_data(cache=False)
        if len(body) > limit:
            return Response("body too large", 413)
        if not self.first_use(args, body):
            log.warning("wechat POST reused a signature for another body, refused request_id=%s", rid)
            return Response("forbidden", 403)
        try:
            fields, encrypted = self.decode(body, args)
        except Refused as exc:
            log.warning("wechat POST refused (%s) request_id=%s", exc, rid)
            return Response("forbidden", 403)
        except Malformed as exc:
            log.warning("wechat POST unreadable, acknowledged (%s) request_id=%s", exc, rid)
            return _success()
        try:
            inbound = self.inbound(fields, rid)
            if inbound is None:
                return _success()
            if inbound.event == "unsubscribe":
                # Not kept for ever: the dialogs delete the openid's records; this only stops notices in flight.
                self.api.mark_unreachable(inbound.sender, "unsubscribed", ttl=UNSUBSCRIBED_TTL)
            elif inbound.opens_window:
                self.api.note_inbound(inbound.sender)
            replies = self.run(inbound)
            if replies is None or inbound.event in SILENT_EVENTS:
                return _success()
            return self.render(fields, replies, encrypted, args.get("nonce", ""))
        except Malformed as exc:
            log.warning("wechat message unreadable, acknowledged (%s) request_id=%s", exc, rid)
            return _success()
        except Exception:  # noqa: BLE001 - never a 500 to WeChat: the user would see "暂时无法提供服务"
            log.exception("wechat webhook failed request_id=%s", rid)
            try:
                return self.render(fields, [SORRY], encrypted, args.get("nonce", ""))
            except Exception:  # noqa: BLE001
                log.exception("wechat polite reply failed too request_id=%s", rid)
                return _success()


def _success() -> Response:
    return Response("success", 200, content_type="text/plain; charset=utf-8")


def _point(lat: str | None, lon: str | None) -> tuple[float, float] | None:
    """A (latitude, longitude) on Earth, or None: `nan`, `inf` and out-of-range values are not a place."""
    try:
        point = (float(lat or ""), float(lon or ""))
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in point) or abs(point[0]) > 90 or abs(point[1]) > 180:
        return None
    return point


def _channel() -> WechatChannel:
    ch: WechatChannel = current_app.extensions["wechat"]
    return ch


@bp.get("/wechat")
def verify() -> Response:
    """WeChat's URL check: echo `echostr` when the signature over (token, timestamp, nonce) is right."""
    ch = _channel()
    echo = request.args.get("echostr")
    if echo is None or not ch.signed(request.args):
        log.warning("wechat URL check refused request_id=%s", g.request_id)
        return Response("forbidden", 403)
    return Response(echo, 200, content_type="text/plain; charset=utf-8")


@bp.post("/wechat")
def receive() -> Response:
    return _channel().receive()


_SECRET_PARAMS = re.compile(r"((?:msg_)?signature|echostr|nonce|openid|token|access_token|sign|key)=[^&\s\"']*",
                            re.IGNORECASE)
ACCESS_LOGGERS = ("gunicorn.access", "werkzeug")


def redact(text: str) -> str:
    """`/wechat?signature=ab12&nonce=9` → `/wechat?signature=***&nonce=***`.

    Text without "=" has nothing to mask and skips the expression: gunicorn's access-log record carries some
    sixty values (every request and response header and WSGI variable), few of them a query string."""
    return _SECRET_PARAMS.sub(r"\1=***", text) if "=" in text else text


class RedactSecrets(logging.Filter):
    """Keeps signatures, nonces and tokens of query strings out of access logs (gunicorn's and werkzeug's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, dict):  # gunicorn's atoms: changed in place, its dict class kept
            for k, v in list(record.args.items()):
                if isinstance(v, str) and "=" in v:
                    record.args[k] = redact(v)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_log_redaction() -> None:
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


def register(app: Flask, rt: Runtime) -> None:
    """Mount /wechat on the app."""
    app.extensions["wechat"] = WechatChannel(rt)
    app.register_blueprint(bp)
    install_log_redaction()


# -- command line: `python -m bot wechat menu` ---------------------------------------------------
def cmd_menu(args: argparse.Namespace, rt: Runtime) -> int:
    buttons = rt.config.wechat.menu
    try:
        check_menu(buttons)
    except ValueError as exc:
        print(f"config.yaml 里的 wechat.menu 有问题：{exc}")  # noqa: T201 - CLI output
        return 1
    if args.dry_run:
        print(f"菜单检查通过（{len(buttons)} 个按钮），没有安装。")  # noqa: T201
        return 0
    if not (rt.config.wechat.app_id and rt.config.wechat.app_secret):
        print("请先设置环境变量 WECHAT_APP_ID 和 WECHAT_APP_SECRET。")  # noqa: T201
        return 2
    try:
        WechatAPI(rt.config.wechat, rt.store).create_menu(buttons)
    except WechatAPIError as exc:
        print(f"微信没有接受菜单：{exc.reason}")  # noqa: T201
        return 1
    names = "、".join(str(b.get("name")) for b in buttons)
    print(f"自定义菜单已安装：{names}（微信客户端最多5分钟后生效）")  # noqa: T201
    return 0


CLI_COMMANDS = [
    (("wechat", "menu"), "把 config.yaml 里的自定义菜单装到公众号",
     lambda p: p.add_argument("--dry-run", action="store_true", help="只检查，不安装") and None, cmd_menu),
]

