"""`python -m bot chat`: talk to the bot in a terminal with the real NLU, database and state store.

Messages come from the keyboard, or from stdin one per line when piped (then each reply is printed after
an echo of the message, so a script can read the conversation). A few slash commands stand in for what
only a phone can send: /关注 [场景], /取关, /位置 纬度 经度, /语音, /图片, /点击 MENU_FIND.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from typing import Any, TextIO

from sqlalchemy import select

from data.crypto import normalize_phone
from data.errors import InvalidInput
from data.models import ChannelIdentity, Volunteer
from data.timeutil import utcnow

from .pipeline import Inbound, Pipeline
from .runtime import Runtime

log = logging.getLogger("yinling.chat")


class ConsolePush:
    """Shows what would go to the push layer, on stderr, so the conversation on stdout stays clean."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def _say(self, text: str) -> None:
        print(f"（后台）{text}", file=self.out)

    def waitlist_promoted(self, signup_ids: list[int]) -> None:
        self._say(f"候补转正，通知报名记录 {signup_ids}")

    def handoff_requested(self, volunteer_id: int, coordinator_id: int | None, transcript: list[str],
                          handoff_id: int | None = None) -> None:
        self._say(f"转人工：协调员 {coordinator_id}，附最近 {len(transcript)} 条对话")

    def signup_needs_review(self, signup_id: int) -> None:
        self._say(f"报名 {signup_id} 等待审核")

    def send_bind_code(self, volunteer_id: int, phone: str, code: str) -> None:
        self._say(f"验证码短信：{code}")

    def signup_reviewed(self, signup_id: int, approved: bool) -> None:
        self._say(f"报名 {signup_id} {'通过' if approved else '没通过'}审核，通知本人")

    def send_team_notice(self, coordinator_id: int, team_id: int, text: str) -> None:
        self._say(f"队伍 {team_id} 群发通知：{text[:30]}")

    def tell_family(self, volunteer_ids: list[int], title: str, body: str, key: str) -> None:
        self._say(f"告诉家人 {volunteer_ids}：{body[:30]}")

    def offer_family_qr(self, volunteer_id: int, scene: str) -> None:
        self._say(f"家人绑定二维码（场景 {scene}）")


def _sms_sender(rt: Runtime, user: str) -> str:
    """The phone number to chat as over SMS: the user's own, a demo volunteer's, or a made-up one."""
    try:
        return normalize_phone(user)
    except InvalidInput:
        pass
    with rt.sessions() as s:
        v = s.scalars(select(Volunteer).where(Volunteer.name == user, Volunteer.phone_enc.is_not(None))).first()
        if v is not None and v.phone_enc:
            return rt.vault.decrypt(v.phone_enc)
    digits = int(hashlib.sha256(user.encode()).hexdigest(), 16) % 10**8
    return f"199{digits:08d}"


def _link_console_name(rt: Runtime, user: str) -> None:
    """`--user 张桂兰` talks as the demo volunteer of that name instead of creating a new one."""
    now = utcnow()
    with rt.sessions.begin() as s:
        exists = s.scalars(select(ChannelIdentity).where(
            ChannelIdentity.channel == "console", ChannelIdentity.external_id == user)).first()
        if exists is not None:
            return
        v = s.scalars(select(Volunteer).where(Volunteer.name == user, Volunteer.deleted_at.is_(None))
                      .order_by(Volunteer.id)).first()
        if v is not None:
            s.add(ChannelIdentity(volunteer_id=v.id, channel="console", external_id=user, created_at=now,
                                  last_inbound_at=now))


def _inbound(line: str, channel: str, sender: str) -> Inbound:
    """A typed line, or a slash command standing in for an event / non-text message."""
    parts = line.split()
    head = parts[0] if parts else ""
    if head == "/关注":
        return Inbound(channel, sender, kind="event", event="subscribe",
                       event_key=f"qrscene_{parts[1]}" if len(parts) > 1 else None)
    if head == "/取关":
        return Inbound(channel, sender, kind="event", event="unsubscribe")
    if head == "/点击" and len(parts) > 1:
        return Inbound(channel, sender, kind="event", event="CLICK", event_key=parts[1])
    if head == "/位置" and len(parts) == 3:
        try:
            return Inbound(channel, sender, kind="location", location=(float(parts[1]), float(parts[2])))
        except ValueError:
            pass
    if head == "/语音":
        return Inbound(channel, sender, text=" ".join(parts[1:]), kind="voice")
    if head == "/图片":
        return Inbound(channel, sender, kind="image")
    return Inbound(channel, sender, text=line)


def run_chat(rt: Runtime, user: str, channel: str, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    from data.seed import is_empty
    from dialogs import to_plain

    try:
        with rt.sessions() as s:
            empty = is_empty(s)
    except Exception:  # noqa: BLE001 - a missing table means the database was never set up
        empty = True
    if empty:
        print("数据库里还没有活动。请先运行：python -m bot db seed-demo", file=stderr)
        return 2
    if channel == "sms":
        wire, sender = "sms", _sms_sender(rt, user)
    else:
        wire, sender = "console", user
        _link_console_name(rt, user)
    rt.load_nlu()
    pipeline = Pipeline(rt, push=ConsolePush(stderr))
    interactive = stdin.isatty()
    if interactive:
        print(f"银龄志愿助手（{'短信' if channel == 'sms' else '微信'}）—— 以“{user}”的身份聊天，"
              "按 Ctrl+D 结束。", file=stdout)
    while True:
        if interactive:
            print("您：", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if not interactive:
            print(f"> {text}", file=stdout)
        outcome = pipeline.handle(_inbound(text, wire, sender))
        prefix = "助手：\n" if interactive else ""
        print(prefix + to_plain(outcome.replies) + "\n", file=stdout, flush=True)
    return 0


def cmd_chat(args: argparse.Namespace, rt: Runtime) -> int:
    if not args.verbose:
        logging.getLogger("yinling").setLevel(logging.WARNING)
    return run_chat(rt, args.user, args.channel, sys.stdin, sys.stdout, sys.stderr)


def _add_args(p: argparse.ArgumentParser) -> Any:
    p.add_argument("--user", default="张桂兰", help="聊天身份：演示志愿者的名字、手机号或任意新名字")
    p.add_argument("--channel", choices=("wechat", "sms"), default="wechat", help="按微信还是短信的长度回复")
    p.add_argument("--verbose", action="store_true", help="显示日志")


CLI_COMMANDS = [(("chat",), "在终端里和助手聊天（也可以从标准输入逐行读消息）", _add_args, cmd_chat)]
