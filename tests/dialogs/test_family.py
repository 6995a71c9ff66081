"""亲情助手 in the dialogs: a parent asks, the child sends the code, the parent says yes; the child signs the
parent up through the usual screens; the parent is told and can undo; unlinking; what a helper cannot reach."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import family
from data.crypto import PhoneVault
from data.kv import Store
from data.models import Consent, Signup, SignupStatus
from data.models_family import FamilyLink, LinkState

from .conftest import Chat, new_volunteer


@pytest.fixture
def son(session: Session, store: Store, now: datetime, vault: PhoneVault, zhang: Chat, parser: object) -> Chat:
    v = new_volunteer(session, now, "李明")
    session.add(Consent(volunteer_id=v.id, kind="privacy", granted=True, channel="wechat", at=now))
    session.flush()
    return Chat(session, store, v, now, parser=parser.parse, vault=vault, hooks=zhang.hooks)  # type: ignore[attr-defined]


@pytest.fixture
def mum(zhang: Chat, parser: object) -> Chat:
    zhang.parser = parser.parse  # type: ignore[attr-defined]
    return zhang


def _code(reply: str) -> str:
    m = re.search(r"家人(\d{6})", reply)
    assert m, reply
    return m.group(1)


def _told(chat: Chat, volunteer_id: int) -> list[str]:
    return [args[2] for args in chat.hooks.named("tell_family") if volunteer_id in args[0]]


def link(mum: Chat, son: Chat) -> None:
    out = mum.send("叫我儿子帮我弄")
    son.now = mum.now
    out = son.send(f"家人{_code(out)}")
    assert "确认" in out
    mum.now = son.now
    assert mum.at == "family.consent"
    out = mum.send("1")
    assert "可以帮您了" in out


def test_link_needs_the_parents_yes(mum: Chat, son: Chat, session: Session) -> None:
    out = mum.send("叫我儿子帮我弄")
    code = _code(out)
    assert "看不到您的手机号" in out
    assert mum.hooks.named("offer_family_qr") == [(mum.volunteer.id, f"family_{code}")]  # the same code as a QR
    out = son.send(f"家人 {code}")
    asked = _told(mum, mum.volunteer.id)
    assert asked and "您的儿子（李明）" in asked[-1] and "同意" in asked[-1]
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is None
    out = mum.send("不同意")
    assert "没有绑定" in out
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is None
    assert any("没有同意" in t for t in _told(mum, son.volunteer.id))
    # the code was used up: sending it again links nothing
    out = son.send(f"家人{code}")
    assert "不对" in out


def test_child_signs_the_parent_up_and_the_parent_can_undo(mum: Chat, son: Chat, session: Session) -> None:
    link(mum, son)
    row = session.scalars(select(FamilyLink).where(FamilyLink.parent_id == mum.volunteer.id)).one()
    assert row.state == LinkState.ACTIVE and row.consent_channel == "wechat"
    out = son.send("帮我妈看看明天有啥活")
    assert "为您母亲张桂兰办理" in out, out
    out = son.send("送棉衣的那个")
    out = son.send("报名")
    out = son.send("1")
    assert "报好了" in out and "已告诉您母亲张桂兰" in out, out
    signup = session.scalars(select(Signup).where(Signup.volunteer_id == mum.volunteer.id,
                                                  Signup.made_by_helper_id == son.volunteer.id)).one()
    assert "棉衣" in signup.activity.title and signup.status == SignupStatus.CONFIRMED
    assert not session.scalars(select(Signup).where(Signup.volunteer_id == son.volunteer.id)).all()
    told = _told(mum, mum.volunteer.id)
    assert told and "帮您报了名" in told[-1] and "撤销" in told[-1]
    mum.now = son.now + timedelta(minutes=2)
    out = mum.send("撤销")
    session.refresh(signup)
    assert signup.status == SignupStatus.CANCELLED, out
    assert any("撤回了您代报" in t for t in _told(mum, son.volunteer.id))


def test_unlinked_helper_cannot_act(mum: Chat, son: Chat, session: Session) -> None:
    out = son.send("给我妈报名明天送棉衣的")
    assert "还没有绑定" in out
    assert not session.scalars(select(Signup).where(Signup.volunteer_id == mum.volunteer.id,
                                                    Signup.made_by_helper_id.is_not(None))).all()
    link(mum, son)
    out = son.send("解除家人")
    out = son.send("1")
    assert "已解除" in out
    assert any("解除了和您的家人绑定" in t for t in _told(mum, mum.volunteer.id))
    out = son.send("给我妈报名明天送棉衣的")
    assert "还没有绑定" in out


def test_guessing_codes_is_limited(mum: Chat, son: Chat) -> None:
    out = mum.send("绑定家人")
    code = _code(out)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(family_guesses()):
        assert "不对" in son.send(f"家人{wrong}")
    out = son.send(f"家人{code}")  # even the right one, after too many tries
    assert "太多" in out
    assert family.between(son.session, son.volunteer.id, mum.volunteer.id) is None


def family_guesses() -> int:
    from dialogs.flows.family import GUESSES_PER_PERSON

    return GUESSES_PER_PERSON


def test_forgetting_either_side_removes_the_link_and_tells_the_other(mum: Chat, son: Chat,
                                                                     session: Session) -> None:
    link(mum, son)
    son.send("删除我的信息")
    son.send("1")
    assert session.scalars(select(FamilyLink).where(FamilyLink.parent_id == mum.volunteer.id)).all() == []
    assert any("家人绑定已经解除" in t for t in _told(mum, mum.volunteer.id))


def test_a_helper_never_sees_the_parents_phone_hours_or_conversation(mum: Chat, son: Chat) -> None:
    link(mum, son)
    hours = mum.send("我的服务时长")
    records = [line.strip() for line in hours.splitlines() if re.search(r"月\d+日.*\d小时", line)]
    assert records, hours
    seen = [son.send(t) for t in ("帮我妈看看明天有啥活", "我妈的服务时长", "给我妈报名明天下午读报的", "1",
                                  "我妈报了啥", "再说一遍")]
    phone = mum.volunteer.phone_masked or "139****0001"
    for out in seen:
        assert phone not in out and "13900000001" not in out
        assert not any(r in out for r in records), out
    assert "13900000001" not in "".join(str(args) for args in son.hooks.named("tell_family"))


def test_welcome_says_what_a_helper_sees(newbie: Chat) -> None:
    out = newbie.send("你好", parse={"text": "你好", "intent": {"name": "greet", "confidence": 1.0}, "entities": []})
    assert "家人只看到您报名的活动和提醒" in out


def test_a_child_beside_the_parent_scans_the_code(mum: Chat, son: Chat, newbie: Chat, parser: object,
                                                  session: Session) -> None:
    from dialogs.flows.family import scene

    code = _code(mum.send("绑定家人"))
    newbie.parser = parser.parse  # type: ignore[attr-defined]
    out = newbie.send("", kind="event", event="subscribe", event_key="qrscene_" + scene(code))
    assert "同意" in out  # first the privacy question, the code kept for afterwards
    out = newbie.send("同意")
    assert "确认" in out, out
    link = family.awaiting(session, mum.volunteer.id)
    assert link is not None and link.helper_id == newbie.volunteer.id
    code2 = _code(mum.send("绑定家人"))
    out = son.send("", kind="event", event="SCAN", event_key=scene(code2))  # already following
    assert "确认" in out, out


def test_the_parents_own_sign_up_and_cancel_are_copied_to_helpers(mum: Chat, son: Chat) -> None:
    link(mum, son)
    son.send("给我妈看看明天有啥")  # the helper's word for her: 母亲
    mum.send("明天有啥活")
    mum.send("送棉衣的那个")
    mum.send("报名")
    out = mum.send("1")
    assert "报好了" in out
    copies = _told(mum, son.volunteer.id)
    assert any(t.startswith("您母亲张桂兰：报好了") for t in copies), copies
    mum.send("取消送棉衣的")
    mum.send("1")
    copies = _told(mum, son.volunteer.id)
    assert any(t.startswith("您母亲张桂兰：") and "取消" in t for t in copies), copies


def test_a_parent_with_a_basic_phone_agrees_by_sms(session: Session, store: Store, now: datetime,
                                                   vault: PhoneVault, son: Chat, parser: object) -> None:
    """The child names the parent's number; the parent gets the question by SMS and replies 1."""
    dad = new_volunteer(session, now, "李建国")
    phone = "13912340000"
    dad.phone_hash, dad.phone_enc, dad.phone_masked = vault.lookup_hash(phone), vault.encrypt(phone), "139****0000"
    session.add(Consent(volunteer_id=dad.id, kind="privacy", granted=True, channel="sms", at=now))
    session.flush()
    out = son.send(f"绑定我爸 {phone}")
    assert "139****0000" in out and phone not in out, out
    assert "登记过" in out  # the same words as for a number nobody uses
    asked = _told(son, dad.id)
    assert asked and "同意" in asked[-1]
    assert family.between(session, son.volunteer.id, dad.id) is None
    sms = Chat(session, store, dad, son.now, parser=parser.parse, channel="sms", vault=vault,  # type: ignore[attr-defined]
               hooks=son.hooks)
    out = sms.send("1")
    assert "可以帮您了" in out, out
    row = family.between(session, son.volunteer.id, dad.id)
    assert row is not None and row.consent_channel == "sms"
    assert any("同意了" in t for t in _told(son, son.volunteer.id))


def test_an_unknown_number_links_nobody_and_numbers_are_limited(son: Chat, session: Session) -> None:
    """Known or not, the answer is the same (nobody learns who uses the service); nothing is sent."""
    for i in range(3):
        out = son.send(f"绑定我妈 1391234{i:04d}")
        assert "登记过" in out
    assert "太多" in son.send("绑定我妈 13912349999")
    assert not session.scalars(select(FamilyLink).where(FamilyLink.helper_id == son.volunteer.id)).all()
    assert not son.hooks.named("tell_family")


def test_a_change_of_party_is_copied_to_helpers(mum: Chat, son: Chat) -> None:
    link(mum, son)
    for text in ("明天有啥活", "送棉衣的那个", "报名", "1"):
        out = mum.send(text)
    assert "报好了" in out
    out = mum.send("送棉衣那个改成两个人")
    out = mum.send("1")
    assert "2人" in out, out
    assert any("2人" in t and t.startswith("您") for t in _told(mum, son.volunteer.id)), _told(mum, son.volunteer.id)


def test_the_parent_chooses_whether_9_tells_the_helper(mum: Chat, son: Chat, session: Session) -> None:
    link(mum, son)
    assert mum.at == "family.ring"
    out = mum.send("1")
    assert "也会告诉" in out
    row = family.between(session, son.volunteer.id, mum.volunteer.id)
    assert row is not None and row.ring_on_handoff


def test_a_bare_code_works_and_a_bare_wrong_number_is_not_taken_for_one(mum: Chat, son: Chat,
                                                                        session: Session) -> None:
    code = _code(mum.send("加个家人"))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    out = son.send(wrong)
    assert "家人码" not in out  # six digits that are no live code: not answered as a family code
    out = son.send(code)
    assert "确认" in out
    link = family.awaiting(session, mum.volunteer.id)
    assert link is not None and link.helper_id == son.volunteer.id


def test_acting_for_a_parent_who_is_a_coordinator_never_runs_their_commands(
        session: Session, store: Store, now: datetime, vault: PhoneVault, son: Chat, parser: object) -> None:
    """The screens about activities only: 名单/通知 typed by the helper are not the coordinator's commands."""
    from data.models import Coordinator, Volunteer

    coord = session.scalars(select(Coordinator).where(Coordinator.name == "李建国")).one()
    dad_v = session.get(Volunteer, coord.volunteer_id)
    assert dad_v is not None
    dad_v.gender = "男"  # the demo's genders are drawn at random; 帮我爸 never acts for a woman
    if not session.scalars(select(Consent).where(Consent.volunteer_id == dad_v.id, Consent.kind == "privacy")).first():
        session.add(Consent(volunteer_id=dad_v.id, kind="privacy", granted=True, channel="wechat", at=now))
        session.flush()
    dad = Chat(session, store, dad_v, now, parser=parser.parse, vault=vault, hooks=son.hooks)  # type: ignore[attr-defined]
    link(dad, son)
    out = son.send("帮我爸看看明天有啥活")
    assert "为您" in out
    for text in ("通知 阳光社区：明天停", "1", "审核"):
        out = son.send(text)
        assert son.state.data.get("coord_id") is None and not son.hooks.named("send_team_notice"), out
        assert son.state.flow != "coordinator", out


def _helper(session: Session, store: Store, now: datetime, vault: PhoneVault, mum: Chat, parser: object,
            name: str | None = None) -> Chat:
    v = new_volunteer(session, now, name)
    session.add(Consent(volunteer_id=v.id, kind="privacy", granted=True, channel="wechat", at=now))
    session.flush()
    return Chat(session, store, v, now, parser=parser.parse, vault=vault, hooks=mum.hooks)  # type: ignore[attr-defined]


def test_a_helper_asks_what_the_parent_booked_and_cancels_it_in_plain_words(mum: Chat, son: Chat,
                                                                            session: Session) -> None:
    """我妈都报了啥 is the parent's list (not the helper's own, empty one); 帮我娘退了 cancels hers."""
    link(mum, son)
    for text in ("给我妈报名明天下午读报的", "1"):
        son.send(text)
    out = son.send("俺娘都报了啥")
    assert "为您母亲张桂兰办理" in out and "读报" in out and "没有报名" not in out, out
    out = son.send("帮我娘退了")
    assert "读报" in out and son.state.flow == "cancel", out
    out = son.send("1")
    assert "已取消" in out, out
    made = session.scalars(select(Signup).where(Signup.volunteer_id == mum.volunteer.id,
                                                Signup.made_by_helper_id == son.volunteer.id)).one()
    assert "读报" in made.activity.title and made.status == SignupStatus.CANCELLED
    assert any("帮您取消了" in t for t in _told(mum, mum.volunteer.id))


@pytest.mark.parametrize("answer", ["我不认识他", "不知道是谁", "不是我家的人", "我没让谁帮我"])
def test_a_parent_who_does_not_know_the_asker_is_not_linked(mum: Chat, son: Chat, session: Session,
                                                            answer: str) -> None:
    code = _code(mum.send("加个家人"))
    son.send(f"家人{code}")
    out = mum.send(answer)
    assert "没有绑定" in out and "信得过" in out, out
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is None
    assert any("没有同意" in t for t in _told(mum, son.volunteer.id))


@pytest.mark.parametrize("answer", ["是我儿子", "对 是我家老大", "让他弄吧", "我同意我儿子帮我", "嗯呢", "好嘞谢谢"])
def test_a_parent_who_says_who_it_is_agrees(mum: Chat, son: Chat, session: Session, answer: str) -> None:
    """是我儿子 is a yes to the question on screen, not a new request for a code."""
    son.send(f"家人{_code(mum.send('叫我儿子帮我弄'))}")
    out = mum.send(answer)
    assert "可以帮您了" in out and "家人码" not in out, out
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is not None


@pytest.mark.parametrize("answer", ["是我儿子吗", "不是我儿子", "他是谁"])
def test_a_question_or_a_denial_about_who_it_is_links_nobody(mum: Chat, son: Chat, session: Session,
                                                              answer: str) -> None:
    son.send(f"家人{_code(mum.send('叫我儿子帮我弄'))}")
    mum.send(answer)
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is None


@pytest.mark.parametrize("question", ["这是干啥的", "他能看见我的时长不", "谁啊？"])
def test_a_question_on_the_consent_screen_is_answered_and_the_question_stays(mum: Chat, son: Chat, session: Session,
                                                                           question: str) -> None:
    son.send(f"家人{_code(mum.send('叫我儿子帮我弄'))}")
    out = mum.send(question)
    assert "看不到您的手机号" in out and "您同意吗" in out and mum.at == "family.consent", out
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is None
    mum.send("那好")
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is not None


@pytest.mark.parametrize("ask", ["我妈干了多少小时", "我妈手机号多少", "帮我妈改一下住址", "我妈住哪"])
def test_what_only_the_parent_sees_is_said_to_be_hers(mum: Chat, son: Chat, ask: str) -> None:
    """Not the helper's own hours or phone answered as if they were the mother's, nor a misunderstanding."""
    link(mum, son)
    out = son.send(ask)
    assert "只有本人能看" in out and "张桂兰" in out, out
    assert "小时" not in out.split("只有本人")[1] and "13900000001" not in out and "139****0001" not in out


def test_the_words_of_an_option_answer_a_two_option_question(mum: Chat, son: Chat, session: Session) -> None:
    link(mum, son)
    out = mum.send("也告诉家人")
    assert "也会告诉" in out, out
    out = son.send("解除家人")
    out = son.send("不解除")
    assert "没有解除" in out, out
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is not None
    son.send("解除家人")
    out = son.send("解除")
    assert "已解除" in out, out
    assert family.between(session, son.volunteer.id, mum.volunteer.id) is None


@pytest.mark.parametrize("form", ["家人 {a} {b}", "{wa}{wb}", "我妈让我发家人{a}-{b}", "{a} {b}", "家人码：{wa} {wb}",
                                  "家人{ca}，{cb}。", "码是{a}{b}", "{a}{b} 我妈给的"])
def test_a_code_as_people_copy_it(mum: Chat, son: Chat, session: Session, form: str) -> None:
    """Spaces, dashes, full-width digits, inside a sentence, said aloud (家人幺二三四五六): the same code."""
    code = _code(mum.send("绑定家人"))
    wide = code.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})
    said = code.translate({ord(c): "零幺二三四五六七八九"[int(c)] for c in "0123456789"})
    out = son.send(form.format(a=code[:3], b=code[3:], wa=wide[:3], wb=wide[3:], ca=said[:3], cb=said[3:]))
    assert "已请" in out, out
    link_ = family.awaiting(session, mum.volunteer.id)
    assert link_ is not None and link_.helper_id == son.volunteer.id


def test_a_father_is_not_the_mother_linked(mum: Chat, son: Chat, session: Session) -> None:
    """帮我爸 with only the mother linked: not acting for her under the word 父亲."""
    link(mum, son)
    out = son.send("帮我爸看看明天有啥活")
    assert "还没有绑定父亲" in out and "张桂兰" not in out, out
    out = son.send("帮我妈看看明天有啥活")
    assert "为您母亲张桂兰办理" in out, out


def test_two_helpers_without_names_are_told_apart(mum: Chat, session: Session, store: Store, now: datetime,
                                                  vault: PhoneVault, parser: object) -> None:
    first, second = (_helper(session, store, now, vault, mum, parser) for _ in range(2))
    for helper in (first, second):
        code = _code(mum.send("绑定家人"))
        helper.send(f"家人{code}")
        mum.send("同意")
        mum.send("不用")
    out = mum.send("解除家人")
    assert "第1位家人" in out and "第2位家人" in out, out
    mum.send("2")
    mum.send("1")
    assert family.between(session, first.volunteer.id, mum.volunteer.id) is not None
    assert family.between(session, second.volunteer.id, mum.volunteer.id) is None
