"""WeChat reachability known from the store (unsubscribed, not following, window closed) decides the route
the same way whether the push layer reads it for a whole chunk (Redis: one MGET) or each sender reads it
itself (in-process store)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.wechat_api import WechatAPI
from bot.push import LocalJobQueue, PushContext, PushService, get_push
from bot.runtime import build_runtime
from data.models_push import Delivery
from data.timeutil import utcnow
from tests.conftest import RUN_PREFIX
from tests.fakes.push_apis import FakeApis

from .conftest import push_config
from .helpers import new_team, person, send_notice


@pytest.fixture(params=["memory", "redis"])
def store_push(request: pytest.FixtureRequest, db_url: str, fake: FakeApis) -> Iterator[PushService]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    prefix = f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}:"
    rt = build_runtime(push_config(db_url, fake.url, redis_url=redis_url, prefix=prefix))
    yield get_push(rt, PushContext.build(rt, queue=LocalJobQueue(threaded=False)))
    if rt.redis is not None:
        for key in rt.redis.scan_iter(match=prefix + "*"):
            rt.redis.delete(key)
    rt.engine.dispose()


def test_known_unreachable_people_take_the_next_route(store_push: PushService, fake: FakeApis,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    push = store_push
    now = utcnow()
    asked: list[str] = []
    original = WechatAPI.unreachable_reason

    def counting(self: WechatAPI, openid: str, customer_service: bool = True) -> Any:
        asked.append(openid)
        return original(self, openid, customer_service)

    monkeypatch.setattr(WechatAPI, "unreachable_reason", counting)
    with push.rt.sessions() as s:
        team = new_team(s)
        ids = {
            "unsub": person(s, push.rt, now, "甲", openid="oU", phone="13800000011", team=team).id,
            "window": person(s, push.rt, now, "乙", openid="oW", in_window=True, team=team).id,
            "plain": person(s, push.rt, now, "丙", openid="oN", team=team).id,
            "gone": person(s, push.rt, now, "丁", openid="oX", team=team).id,
        }
        team_id = team.id
        s.commit()
    api = push.ctx.senders["wechat"].api  # type: ignore[attr-defined]
    api.mark_unreachable("oU", "unsubscribed")
    api.mark_unreachable("oW", "outside_48h_window")  # the window closed although the database thinks not
    api.mark_unreachable("oX", "not_subscribed")

    nid = send_notice(push, {"kind": "team", "team_id": team_id}, now, body="明天活动照常。", team_id=team_id)

    with push.rt.sessions() as s:
        rows = {d.volunteer_id: d for d in s.scalars(select(Delivery).where(Delivery.notice_id == nid))}
    got = {k: (rows[v].status.value, rows[v].channel) for k, v in ids.items()}
    assert got == {"unsub": ("sent", "sms"), "window": ("sent", "wechat_template"),
                   "plain": ("sent", "wechat_template"), "gone": ("unreachable", None)}
    assert "not_subscribed" in (rows[ids["gone"]].reason or "")
    assert fake.sent[("sms", "13800000011")] == 1
    assert not any(addr in ("oU", "oX") for _, addr in fake.sent)  # WeChat never asked for them
    assert fake.total("custom") == 0
    if push.rt.redis is not None:
        assert asked == []  # the chunk's reachability came from one read, not one per message
    else:
        assert set(asked) >= {"oU", "oN", "oX"}
