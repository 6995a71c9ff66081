"""Attacks 6 and 7: verification-code SMS bombing, and typed phone/ID numbers kept in clear."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.web import runtime_of
from data.crypto import normalize_phone
from data.models import MessageLog
from data.models_push import Notice

from .conftest import AppMaker, wechat

STRANGER = "13912344321"


def _codes(rt: Runtime) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Notice).where(Notice.kind == "bind_code")) or 0)


def _onboarded(app: Flask) -> Any:
    d = wechat(app)
    d.event("subscribe")
    for message in ("1", "阳光社区", "跳过", "跳过"):
        d.text(message)
    return d


def _store_values(rt: Runtime) -> list[str]:
    if rt.redis is not None:
        prefix = rt.config.redis.prefix
        out = []
        for key in rt.redis.scan_iter(match=f"{prefix}*"):
            if rt.redis.type(key) == "string":
                out.append(f"{key}={rt.redis.get(key)}")
        return out
    return [f"{k}={v[0]}" for k, v in rt.store._data.items()]  # type: ignore[attr-defined]


def test_one_user_cannot_bomb_a_stranger_with_codes(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    attacker = _onboarded(app)
    replies = [attacker.text(f"绑定手机{STRANGER}").text for _ in range(12)]
    assert _codes(rt) == 3
    assert "请过一小时再试" in replies[-1] and "回复0" in replies[-1]
    # Another account cannot go on where the first stopped: the number itself is limited.
    assert "请过一小时再试" in _onboarded(app).text(f"绑定手机{STRANGER}").text
    assert _codes(rt) == 3


def test_one_user_cannot_spray_codes_over_many_numbers(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    attacker = _onboarded(app)
    for n in range(8):
        attacker.text(f"绑定手机1391234{n:04d}")
    assert _codes(rt) == 5


def test_typed_numbers_are_masked_in_the_log_and_the_bind_state(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    d = _onboarded(app)
    assert "139****4321" in d.text(f"绑定手机{STRANGER}").text
    d.text("我的身份证号是110101199003071234，电话 139 1234 4321")
    with rt.sessions() as s:
        texts = list(s.scalars(select(MessageLog.text).where(MessageLog.address == d.openid)))
    joined = "\n".join(texts)
    assert STRANGER not in joined and "110101199003071234" not in joined and "139 1234 4321" not in joined
    assert "绑定手机139****4321" in joined and "1101**********1234" in joined
    values = "\n".join(_store_values(rt))
    assert "bind:" in values and STRANGER not in values


def test_the_masked_bind_state_still_binds(make_app: AppMaker) -> None:
    app = make_app()
    rt = runtime_of(app)
    d = _onboarded(app)
    d.text(f"绑定手机{STRANGER}")
    with rt.sessions() as s:
        body = s.scalars(select(Notice.body).where(Notice.kind == "bind_code")).one()
    code = re.search(r"验证码是(\d{6})", body).group(1)  # type: ignore[union-attr]
    assert "绑定好了" in d.text(code).text


def test_phone_numbers_in_other_scripts_are_the_same_number() -> None:
    assert normalize_phone("١٣٩١٢٣٤٤٣٢١") == normalize_phone("１３９１２３４４３２１") == STRANGER
