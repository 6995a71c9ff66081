"""Attack 1: a coordinator imports a CSV row whose key names another team's activity."""

from __future__ import annotations

import io

from sqlalchemy import select

from bot.runtime import Runtime
from data.models import Activity, Team

from .conftest import Admin

HEADER = "title,category,team,place,start,end,capacity,external_key\n"


def _upload(admin: Admin, csv_text: str) -> str:
    r = admin.post("/admin/activities/import",
                   data={"file": (io.BytesIO(csv_text.encode("utf-8")), "rows.csv")},
                   content_type="multipart/form-data", follow_redirects=True)
    assert r.status_code == 200
    return r.text


def test_csv_import_cannot_take_over_another_teams_activity(admin: Admin, rt: Runtime) -> None:
    title = "德润草原·文明之行宣讲"  # 西乌旗草原志愿服务队 (batu), not wangxy's team
    with rt.sessions() as s:
        victim = s.scalars(select(Activity).where(Activity.external_key == f"demo:{title}")).one()
        victim_id, victim_team = victim.id, victim.team_id
    page = _upload(admin, HEADER + f"被接管,助老,阳光社区志愿服务队,阳光社区,2030-01-05 09:00,2030-01-05 11:00,5,"
                                   f"demo:{title}\n")
    assert "没有导入任何活动" in page and "别的队伍" in page
    with rt.sessions() as s:
        act = s.get(Activity, victim_id)
        assert act is not None and act.team_id == victim_team and act.title == title
    assert admin.get(f"/admin/activities/{victim_id}").status_code == 404  # roster still hidden


def test_generated_key_of_another_team_is_refused_too(admin: Admin, rt: Runtime) -> None:
    """Without an external_key column the key is `import:<title>:<start>`, also guessable."""
    with rt.sessions() as s:
        batu = s.scalars(select(Team).where(Team.name == "西乌旗草原志愿服务队")).one()
        victim = s.scalars(select(Activity).where(Activity.team_id == batu.id)).first()
        assert victim is not None
        victim.external_key = "import:草原宣讲:2030-01-05T09:00:00"
        s.commit()
        victim_id = victim.id
    page = _upload(admin, HEADER.replace(",external_key", "")
                   + "草原宣讲,助老,阳光社区志愿服务队,阳光社区,2030-01-05 09:00,2030-01-05 11:00,5\n")
    assert "没有导入任何活动" in page
    with rt.sessions() as s:
        assert s.get(Activity, victim_id).team_id == batu.id  # type: ignore[union-attr]


def test_import_only_in_places_the_team_serves(admin: Admin, rt: Runtime) -> None:
    page = _upload(admin, HEADER + "牧区活动,助老,阳光社区志愿服务队,宝日图嘎查,2030-01-05 09:00,"
                                   "2030-01-05 11:00,5,mine:1\n")
    assert "没有导入任何活动" in page and "范围" in page
    with rt.sessions() as s:
        assert s.scalars(select(Activity).where(Activity.external_key == "mine:1")).first() is None


def test_own_rows_still_import_and_update(admin: Admin, rt: Runtime) -> None:
    row = "自己的活动,助老,阳光社区志愿服务队,阳光社区,2030-01-05 09:00,2030-01-05 11:00,5,mine:2\n"
    assert "新增1个" in _upload(admin, HEADER + row)
    assert "更新1个" in _upload(admin, HEADER + row.replace(",5,", ",6,"))
    with rt.sessions() as s:
        assert s.scalars(select(Activity.capacity).where(Activity.external_key == "mine:2")).one() == 6
