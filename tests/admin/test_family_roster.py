"""The roster shows a masked family contact (亲情助手) and marks sign-ups a family helper made (家人代报)."""

from __future__ import annotations

from sqlalchemy import select

from bot.runtime import Runtime
from data import family
from data.models import Activity, Signup, SignupStatus, Team
from data.timeutil import utcnow
from tests.push.helpers import person

from .conftest import Admin


def test_roster_shows_masked_family_contact_and_made_by(admin: Admin, rt: Runtime) -> None:
    now = utcnow()
    with rt.sessions() as s:
        act = s.scalars(select(Activity).join(Team).where(Team.name == "阳光社区志愿服务队",
                                                          Activity.starts_at > now)).first()
        assert act is not None
        mum = person(s, rt, now, "赵桂芝", openid="oZhaoMum")
        son = person(s, rt, now, "赵小军", openid="oZhaoSon", phone="13812341234")
        s.add(Signup(activity_id=act.id, volunteer_id=mum.id, status=SignupStatus.CONFIRMED, party_size=1,
                     created_at=now, updated_at=now, made_by_helper_id=son.id))
        _, code = family.issue_code(s, mum.id, now, family.plain_digest, relation="儿子")
        link = family.claim(s, code, son.id, now, family.plain_digest).link
        assert link is not None
        family.decide(s, link.id, mum.id, True, "wechat", now)
        s.commit()
        act_id = act.id
    page = admin.get(f"/admin/activities/{act_id}").text
    assert "赵桂芝" in page and "家人（儿子）138****1234" in page and "家人代报" in page
    assert "13812341234" not in page
