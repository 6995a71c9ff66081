"""The monthly hours summary: on the configured day after 9:00 local, once per month, each live volunteer
with records gets last month's count and hours and the running total; people who turned notices off are
counted as skipped and get nothing; month boundaries are local (Asia/Shanghai) midnight."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.push import PushService
from bot.push.scheduled import monthly_summary
from data.models import ServiceRecord
from data.models_push import Delivery, Notice
from data.timeutil import LOCAL, to_utc
from tests.fakes.push_apis import FakeApis

from .helpers import person


def _local(*args: int) -> datetime:
    return to_utc(datetime(*args, tzinfo=LOCAL))


def _record(s: Session, vid: int, when: datetime, hours: str) -> None:
    s.add(ServiceRecord(volunteer_id=vid, activity_name="陪老人聊天", service_date=when, place_text="阳光社区",
                        content="陪伴", hours=Decimal(hours), organiser="阳光社区志愿服务队", person_in_charge="王",
                        recorded_by="王", recorded_at=when))


def test_monthly_summary_once_with_local_month_and_opt_out(push: PushService, fake: FakeApis) -> None:
    day = _local(2031, 4, 1, 10, 0)
    with push.rt.sessions() as s:
        a = person(s, push.rt, day, "赵阿姨", openid="oA", in_window=True)
        b = person(s, push.rt, day, "钱大爷", openid="oB")
        c = person(s, push.rt, day, "孙阿姨", openid="oC", notices_off=True)
        d = person(s, push.rt, day, "李大爷", openid="oD")  # no records at all
        e = person(s, push.rt, day, "周阿姨", openid="oE")
        _record(s, a.id, _local(2031, 3, 1, 0, 0), "1.5")  # first minute of March, local (Feb 28 in UTC)
        _record(s, a.id, _local(2031, 3, 31, 23, 30), "2")  # last half hour of March, local
        _record(s, a.id, _local(2031, 2, 10, 9, 0), "3")  # February: only in the total
        _record(s, a.id, _local(2031, 4, 1, 0, 10), "1")  # April already: not March
        _record(s, b.id, _local(2031, 2, 28, 23, 59), "2")  # last minute of February, local
        _record(s, c.id, _local(2031, 3, 12, 9, 0), "2")
        _record(s, e.id, _local(2031, 3, 12, 9, 0), "2")
        e.deleted_at = day
        ids = {"a": a.id, "b": b.id, "c": c.id, "d": d.id, "e": e.id}
        s.commit()
    push.ctx.senders["wechat"].api.note_inbound("oA")  # type: ignore[attr-defined]

    assert monthly_summary(push, _local(2031, 4, 1, 8, 59)) == 0  # not before 9:00
    assert monthly_summary(push, _local(2031, 3, 31, 10, 0)) == 0  # not on another day
    assert monthly_summary(push, day) == 1
    assert monthly_summary(push, _local(2031, 4, 1, 11, 0)) == 0  # once a month, however often the tick runs
    push.ctx.queue.drain()  # type: ignore[attr-defined]

    with push.rt.sessions() as s:
        notice = s.scalars(select(Notice).where(Notice.key == "monthly:2031-03")).one()
        assert notice.kind == "monthly"
        rows = {r.volunteer_id: r for r in s.scalars(select(Delivery).where(Delivery.notice_id == notice.id))}
        assert s.scalar(select(func.count()).select_from(Notice).where(Notice.kind == "monthly")) == 1
    back = {v: k for k, v in ids.items()}
    mine = {back[v]: r for v, r in rows.items() if v in back}
    assert set(mine) == {"a", "b", "c"}  # d has no records, e deleted their data
    assert mine["a"].body == ("赵阿姨您好，3月您参加了2次志愿服务，共3.5小时，累计7.5小时。谢谢您！"
                              "不想再收到每月小结和其他通知请回复“退订”。")
    assert mine["b"].body is not None and mine["b"].body.startswith("钱大爷您好，3月您没有参加志愿服务。")
    assert (mine["a"].status.value, mine["a"].channel) == ("sent", "wechat_custom")
    assert (mine["b"].status.value, mine["b"].channel) == ("sent", "wechat_template")
    assert (mine["c"].status.value, mine["c"].reason) == ("skipped", "本人已关闭通知")

    assert fake.sent[("custom", "oA")] == 1 and fake.sent[("template", "oB")] == 1
    assert not any(addr in ("oC", "oD", "oE") for _, addr in fake.sent)
    custom = [body for kind, body in fake.requests if kind == "custom" and body["to"] == "oA"]
    assert "共3.5小时，累计7.5小时" in custom[0]["text"]["content"]  # the whole text inside the window
