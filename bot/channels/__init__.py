"""Channels: one module each behind one small interface, registered here with one line each."""

from __future__ import annotations

from typing import Any


def registrars() -> list[Any]:
    """Functions `register(app, runtime)` of every web-facing channel, in order."""
    from ..web import wechat
    from . import sms

    out: list[Any] = []
    out.append(wechat.register)
    out.append(sms.register)
    out.append(__import__("bot.web.admin", fromlist=["register"]).register)  # coordinator pages
    return out
