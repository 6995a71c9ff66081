"""Fan-out in embedded mode on SQLite and PostgreSQL: channel fallback, opt-outs, retries, idempotency,
the report the coordinator sees, WeCom robot posts, and the hooks the dialogs call."""

from __future__ import annotations

from sqlalchemy import select

from bot.push import LocalJobQueue, PushService
from bot.push.jobs import deliver_batch, fanout, sweep
from data.models_push import Delivery, DeliveryStatus, Notice, NoticeStatus
from data.timeutil import utcnow
from tests.fakes.push_apis import FakeApis

from .helpers import Clock, new_team, person


def _open_window(push: PushService, openid: str) -> None:
    push.ctx.senders["wechat"].api.note_inbound(openid)  # type: ignore[attr-defined]


def test_team_notice_falls_back_per_person_and_reports(push: PushService, fake: FakeApis) -> None:
    clock = Clock(utcnow())
    push.ctx.clock = clock
    now = clock.now
    with push.rt.sessions() as s:
        team = new_team(s)
        person(s, push.rt, now, "甲", openid="oA", in_window=True, team=team)
        person(s, push.rt, now, "乙", openid="oB", team=team)
        person(s, push.rt, now, "丙", openid="oC", phone="13800000003", team=team)
        person(s, push.rt, now, "丁", phone="13800000004", team=team)
        person(s, push.rt, now, "戊", openid="oE", notices_off=True, team=team)
        person(s, push.rt, now, "己", openid="oF", opted_out="wechat", team=team)
        person(s, push.rt, now, "庚", team=team)
        person(s, push.rt, now, "辛", openid="oH", in_window=True, team=team)
        team_id = team.id
        s.commit()
    _open_window(push, "oA")
    _open_window(push, "oH")
    fake.fail("template", "oC", 43004)  # stopped following: SMS instead
    fake.fail("custom", "oH", -1)  # WeChat busy once: retried later

    with push.rt.sessions() as s:
        audience = {"kind": "team", "team_id": team_id}
        pv = push.preview(s, audience)
        assert (pv.total, pv.opted_out) == (8, 1)
        notice = push.create(s, title="停水通知", body="明天上午9点到12点停水，活动照常。", audience=audience,
                             now=now, team_id=team_id)
        assert notice is not None
        push.queue(s, notice, now)
        nid = notice.id
        s.commit()
    push.kick([nid])
    push.ctx.queue.drain()  # type: ignore[attr-defined]

    with push.rt.sessions() as s:
        rows = {d.volunteer_id: d for d in s.scalars(select(Delivery).where(Delivery.notice_id == nid))}
        by_status = {str(d.status.value) for d in rows.values()}
        assert {"sent", "skipped", "unreachable", "retry"} == by_status
        progress = push.progress(s, nid)
        assert progress.counts == {"sent": 4, "skipped": 2, "unreachable": 1, "retry": 1}
        assert s.get(Notice, nid).status == NoticeStatus.SENDING  # one still waiting for its retry

    assert fake.sent[("custom", "oA")] == 1
    assert fake.sent[("template", "oB")] == 1
    assert fake.sent[("sms", "13800000003")] == 1 and fake.sent[("template", "oC")] == 0
    assert fake.sent[("sms", "13800000004")] == 1
    assert not any(addr in ("oE", "oF") for _, addr in fake.sent)

    clock.advance(seconds=10)
    push.ctx.queue.drain(include_delayed=True)  # type: ignore[attr-defined]
    with push.rt.sessions() as s:
        h = s.scalars(select(Delivery).where(Delivery.notice_id == nid, Delivery.status == DeliveryStatus.SENT,
                                             Delivery.channel == "wechat_custom")).all()
        assert len(h) == 2 and max(d.attempts for d in h) == 2
        assert s.get(Notice, nid).status == NoticeStatus.DONE
        reasons = dict(push.progress(s, nid).reasons)
        assert "没有微信或手机号" in reasons
    assert fake.sent[("custom", "oH")] == 1


def test_repeated_jobs_never_send_twice(push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    with push.rt.sessions() as s:
        team = new_team(s)
        for i in range(20):
            person(s, push.rt, now, f"人{i}", openid=f"o{i}", team=team)
        n = push.create(s, title="通知", body="内容", audience={"kind": "team", "team_id": team.id}, now=now)
        assert n is not None
        push.queue(s, n, now)
        nid = n.id
        s.commit()
    assert fanout(nid) == 3  # batch size 7
    assert fanout(nid) == 3  # a duplicated fan-out job finds the rows already there
    for b in range(3):
        deliver_batch(nid, b)
        deliver_batch(nid, b)
    push.ctx.queue.drain()  # type: ignore[attr-defined]  # and the enqueued copies run too
    assert fake.total() == 20
    assert set(fake.per_address().values()) == {1}
    with push.rt.sessions() as s:
        assert s.scalar(select(Notice.total).where(Notice.id == nid)) == 20
        assert s.get(Notice, nid).status == NoticeStatus.DONE


def test_sweep_marks_dead_claims_uncertain_and_requeues_orphans(push: PushService, fake: FakeApis) -> None:
    clock = Clock(utcnow())
    push.ctx.clock = clock
    with push.rt.sessions() as s:
        team = new_team(s)
        for i in range(10):
            person(s, push.rt, clock.now, f"人{i}", openid=f"o{i}", team=team)
        n = push.create(s, title="通知", body="内容", audience={"kind": "team", "team_id": team.id}, now=clock.now)
        assert n is not None
        push.queue(s, n, clock.now)
        nid = n.id
        s.commit()
    fanout(nid)
    push.ctx.queue = LocalJobQueue(threaded=False)  # the process died with the batches queued
    with push.rt.sessions() as s:
        first = s.scalars(select(Delivery).where(Delivery.notice_id == nid).order_by(Delivery.id)).first()
        first.status, first.updated_at = DeliveryStatus.SENDING, clock.now  # claimed, then the worker died
        s.commit()
    clock.advance(seconds=5)
    out = sweep(clock.now)
    assert out["uncertain"] == 1 and out["batches"] == 2
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.total() == 9
    with push.rt.sessions() as s:
        p = push.progress(s, nid)
        assert p.counts == {"sent": 9, "uncertain": 1}
        assert s.get(Notice, nid).status == NoticeStatus.DONE


def test_wecom_group_robot_gets_the_team_notice_within_its_limit(push: PushService, fake: FakeApis) -> None:
    now = utcnow()
    with push.rt.sessions() as s:
        team = new_team(s, webhook=f"{fake.url}/cgi-bin/webhook/send?key=ROBOT1")
        person(s, push.rt, now, "甲", openid="oA", team=team)
        ids = []
        for i in range(22):
            n = push.create(s, title=f"通知{i}", body="内容", audience={"kind": "team", "team_id": team.id},
                            now=now, team_id=team.id)
            assert n is not None
            push.queue(s, n, now)
            ids.append(n.id)
        s.commit()
    push.kick(ids)
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("wecom", "ROBOT1")] == 20  # the other two wait for the next minute
    with push.rt.sessions() as s:
        states = sorted(s.scalars(select(Notice.wecom_status).where(Notice.id.in_(ids))))
    assert states.count("已发到工作群") == 20 and states.count("等待群机器人限速") == 2
    text = [b for k, b in fake.requests if k == "wecom"][0]["text"]["content"]
    assert text.startswith("【测试推送队】通知")


def test_hooks_notify_promoted_reviewers_handoff_and_bind_code(push: PushService, fake: FakeApis) -> None:
    from data.models import Coordinator, Signup, SignupStatus, TeamCoordinator
    from tests.data.helpers import make_activity

    now = utcnow()
    with push.rt.sessions() as s:
        act = make_activity(s, now, needs_review=True, capacity=5)
        v = person(s, push.rt, now, "候补", openid="oW", in_window=True)
        coord_v = person(s, push.rt, now, "协调员本人", openid="oCoord", in_window=True)
        coord = Coordinator(name="王协调", contact_phone="13900001111", volunteer_id=coord_v.id)
        phone_coord = Coordinator(name="李协调", contact_phone="13900002222")
        s.add_all([coord, phone_coord])
        s.flush()
        s.add_all([TeamCoordinator(team_id=act.team_id, coordinator_id=coord.id, is_leader=True),
                   TeamCoordinator(team_id=act.team_id, coordinator_id=phone_coord.id)])
        su = Signup(activity_id=act.id, volunteer_id=v.id, status=SignupStatus.PENDING, party_size=1,
                    created_at=now, updated_at=now)
        s.add(su)
        s.commit()
        sid, vid, cid = su.id, v.id, coord.id
    _open_window(push, "oW")
    _open_window(push, "oCoord")
    push.waitlist_promoted([sid])  # promoted into a place that needs review: volunteer + coordinators told
    push.signup_needs_review(sid)  # a second call is a no-op
    push.handoff_requested(vid, cid, ["用户：我想问问活动的事", "助手：好的"])
    push.send_bind_code(vid, "13912345678", "246810")
    push.ctx.queue.drain()  # type: ignore[attr-defined]
    assert fake.sent[("custom", "oW")] == 1  # 候补成功
    assert fake.sent[("custom", "oCoord")] == 2  # review request + hand-off
    # The coordinator without WeChat gets the review request by SMS (long texts go out in parts).
    parts = [str(b) for k, b in fake.requests if k == "sms" and b["to"] == "13900002222"]
    assert parts and "审核" in "".join(parts)
    assert fake.sent[("sms", "13912345678")] == 1
    code_sms = [b for k, b in fake.requests if k == "sms" and b["to"] == "13912345678"][0]
    assert "246810" in str(code_sms)
