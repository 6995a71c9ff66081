"""Activity import from CSV and YAML: all rows valid or nothing written, errors by row in Chinese."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.importer import ImportError_, import_activities, read_rows
from data.models import Activity

HEADER = "title,category,team,place,address,start,end,capacity,description,contact_name,contact_phone\n"


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Activity)) or 0)


def test_csv_import_then_reimport_updates(session: Session, seed_now: datetime, tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text("\ufeff" + HEADER +
                 "冬日送温暖,助老,阳光社区志愿服务队,阳光社区,服务站,2030-12-05 09:00,2030-12-05 11:30,8,送棉衣,王秀英,0471-6281234\n"
                 "河边捡垃圾,环境保护,赛罕区青年志愿者协会,如意社区,公园西门,2030-12-06 08:00,2030-12-06 10:00,20,,,\n",
                 encoding="utf-8")
    before = count(session)
    r = import_activities(session, read_rows(p), seed_now)
    assert (r.created, r.updated) == (2, 0)
    assert count(session) == before + 2
    act = session.scalars(select(Activity).where(Activity.title == "冬日送温暖")).one()
    assert act.starts_at == datetime(2030, 12, 5, 1, 0)  # stored in UTC
    assert act.landmark == "新华广场东侧"  # taken from the place when not given
    r2 = import_activities(session, read_rows(p), seed_now)
    assert (r2.created, r2.updated) == (0, 2)


def test_yaml_import(session: Session, seed_now: datetime, tmp_path: Path) -> None:
    p = tmp_path / "a.yaml"
    p.write_text("- {title: 义诊, category: 医疗健康, team: 巨海城社区志愿服务队, place: 巨海城社区,"
                 " start: '2030-01-02 09:00', end: '2030-01-02 11:00', capacity: 5, needs_review: 是}\n",
                 encoding="utf-8")
    assert import_activities(session, read_rows(p), seed_now).created == 1
    assert session.scalars(select(Activity).where(Activity.title == "义诊")).one().needs_review


def test_bad_rows_write_nothing_and_say_why(session: Session, seed_now: datetime, tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(HEADER +
                 "好活动,助老,阳光社区志愿服务队,阳光社区,,2030-12-05 09:00,2030-12-05 11:00,5,,,\n"
                 "坏类别,唱歌,阳光社区志愿服务队,阳光社区,,2030-12-05 09:00,2030-12-05 11:00,5,,,\n"
                 "没队伍,助老,不存在的队,阳光社区,,2030-12-05 09:00,2030-12-05 11:00,5,,,\n"
                 "倒着的,助老,阳光社区志愿服务队,阳光社区,,2030-12-05 11:00,2030-12-05 09:00,5,,,\n"
                 "怪时间,助老,阳光社区志愿服务队,阳光社区,,明天上午,2030-12-05 09:00,5,,,\n"
                 ",助老,阳光社区志愿服务队,阳光社区,,2030-12-05 09:00,2030-12-05 11:00,x,,,\n",
                 encoding="utf-8")
    before = count(session)
    with pytest.raises(ImportError_) as exc:
        import_activities(session, read_rows(p), seed_now)
    rows = [n for n, _ in exc.value.errors]
    assert rows == [3, 4, 5, 6, 7]
    assert "唱歌" in exc.value.errors[0][1]
    assert count(session) == before


def test_unsupported_file(tmp_path: Path) -> None:
    p = tmp_path / "a.xlsx"
    p.write_bytes(b"PK")
    with pytest.raises(ImportError_):
        read_rows(p)
    y = tmp_path / "a.yml"
    y.write_text("title: not a list\n", encoding="utf-8")
    with pytest.raises(ImportError_):
        read_rows(y)
