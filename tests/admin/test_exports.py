"""Exports of service records: today's CSV and the national system's import sheet (xlsx), full phone numbers
only for operators, every export in the audit table, and the operator's page that lists them."""

from __future__ import annotations

import argparse
import csv
import io
import zipfile
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from bot.runtime import Runtime
from bot.web.admin.commands import cmd_admin_export_check, cmd_admin_exports
from data.exports import FORMATS, NATIONAL_HEADERS, write_xlsx
from data.models import Activity, ActivityStatus, ServiceRecord, Team
from data.models_push import ExportAudit
from data.records import RECORD_FIELDS
from data.timeutil import to_utc
from tests.push.helpers import person

from .conftest import Admin

DAY = datetime(2025, 3, 8, 9, 0)  # local time


def _records(rt: Runtime) -> None:
    """Two records on 阳光社区 (赵大妈 1.5 h, 钱大爷 2 h), one on 西乌旗 (巴特尔 3 h), all on 2025-03-08."""
    with rt.sessions.begin() as s:
        now = to_utc(DAY)
        for team_name, people in (("阳光社区志愿服务队", (("赵大妈", "13811112222", "1.5"), ("钱大爷", "13933334444", "2"))),
                                  ("西乌旗草原志愿服务队", (("巴特尔", "15047475858", "3"),))):
            team = s.scalars(select(Team).where(Team.name == team_name)).one()
            act = Activity(title=f"{team_name[:4]}服务", category="助老", team_id=team.id, starts_at=now,
                           ends_at=now + timedelta(hours=2), capacity=5, created_at=now, updated_at=now,
                           status=ActivityStatus.FINISHED, description="=HYPERLINK(\"http://x\")")
            s.add(act)
            s.flush()
            for name, phone, hours in people:
                v = person(s, rt, now, name, phone=phone)
                s.add(ServiceRecord(volunteer_id=v.id, activity_id=act.id, activity_name=act.title,
                                    service_date=now, place_text="社区活动室", content=act.description or "",
                                    hours=Decimal(hours), organiser=team.name, person_in_charge="王秀英",
                                    recorded_by="王秀英", recorded_at=now + timedelta(days=1)))


def _audits(rt: Runtime) -> list[ExportAudit]:
    with rt.sessions() as s:
        rows = list(s.scalars(select(ExportAudit).order_by(ExportAudit.id)))
        s.expunge_all()
        return rows


def _sheet(body: bytes) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(body)).active
    assert ws is not None
    return [list(r) for r in ws.iter_rows(values_only=True)]


QUERY = "start=2025-03-08&end=2025-03-08"


def test_csv_is_todays_layout_masked_and_audited(admin: Admin, rt: Runtime) -> None:
    _records(rt)
    r = admin.get(f"/admin/export.csv?{QUERY}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"] == 'attachment; filename="service-records-2025-03-08-2025-03-08.csv"'
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == RECORD_FIELDS
    assert sorted((row[0], row[2], row[10]) for row in rows[1:]) == [("赵大妈", "138****2222", "1.50"),
                                                                   ("钱大爷", "139****4444", "2.00")]
    assert all(row[9].startswith("'=") for row in rows[1:])  # a formula in the content is defused
    [audit] = _audits(rt)
    assert (audit.format, audit.coordinator_name, audit.row_count, audit.full_phones) == ("csv", "王秀英", 2, False)
    assert audit.filter_text == "2025-03-08 至 2025-03-08；阳光社区志愿服务队"


def test_national_sheet_for_the_operator_has_full_numbers(app: Flask, rt: Runtime) -> None:
    _records(rt)
    ops = Admin(app.test_client())
    assert ops.login("ops").status_code == 302
    r = ops.get(f"/admin/export/cvs_national?{QUERY}")
    assert r.status_code == 200 and r.mimetype == FORMATS["cvs_national"].mimetype
    assert r.headers["Content-Disposition"] == \
        'attachment; filename="national-service-hours-2025-03-08-2025-03-08.xlsx"'
    rows = _sheet(r.data)
    assert tuple(rows[0]) == NATIONAL_HEADERS
    by_name = {row[1]: dict(zip(NATIONAL_HEADERS, row, strict=True)) for row in rows[1:]}
    assert set(by_name) == {"赵大妈", "钱大爷", "巴特尔"}  # the operator: every team
    bater = by_name["巴特尔"]
    assert bater["手机号码"] == "15047475858"
    assert bater["证件类型"] is None and bater["证件号码"] is None  # we store no ID numbers
    assert bater["服务时长（小时）"] == 3.0 and bater["服务开始时间"] == "2025-03-08 09:00"
    assert bater["服务结束时间"] == "2025-03-08 11:00" and bater["组织单位"] == "西乌旗草原志愿服务队"
    assert bater["服务内容"] == '=HYPERLINK("http://x")' and bater["记录日期"] == "2025-03-09"
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    [audit] = _audits(rt)
    assert (audit.format, audit.coordinator_name, audit.row_count, audit.full_phones) == \
        ("cvs_national", "运营", 3, True)
    assert audit.filter_text.endswith("全部队伍")


def test_national_sheet_for_a_coordinator_is_masked_and_own_teams(admin: Admin, rt: Runtime) -> None:
    _records(rt)
    rows = _sheet(admin.get(f"/admin/export/cvs_national?{QUERY}").data)
    assert sorted((row[1], row[4]) for row in rows[1:]) == [("赵大妈", "138****2222"), ("钱大爷", "139****4444")]
    assert _audits(rt)[0].full_phones is False


def test_every_export_is_listed_for_the_operator_only(app: Flask, admin: Admin, rt: Runtime) -> None:
    _records(rt)
    admin.get(f"/admin/export.csv?{QUERY}")
    admin.get("/admin/export/cvs_national")
    assert admin.get("/admin/export/nope").status_code == 404
    assert admin.get("/admin/export/csv?start=3月8日").status_code == 400
    assert len(_audits(rt)) == 2  # nothing written for the refused ones
    assert admin.get("/admin/exports").status_code == 403
    ops = Admin(app.test_client())
    assert ops.login("ops").status_code == 302
    page = ops.get("/admin/exports").text
    assert page.count("<tr>") == 3 and "全国志愿服务信息系统导入表" in page and "最早 至 最近；阳光社区志愿服务队" in page
    assert "查看导出记录" in ops.get("/admin/export").text and "查看导出记录" not in admin.get("/admin/export").text


def test_xlsx_keeps_formula_text_as_text() -> None:
    body = write_xlsx(("a", "b"), [["=1+1", Decimal("1.50")]])
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula anywhere
    assert _sheet(body)[1] == ["=1+1", 1.5]


def test_the_audit_on_the_command_line(admin: Admin, rt: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    assert cmd_admin_exports(argparse.Namespace(limit=5), rt) == 0
    assert "还没有人导出过" in capsys.readouterr().out
    _records(rt)
    admin.get(f"/admin/export/cvs_national?{QUERY}")
    assert cmd_admin_exports(argparse.Namespace(limit=5), rt) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    assert "王秀英" in line and "全国志愿服务信息系统导入表" in line and "2条" in line and "手机号已遮盖" in line
    assert "2025-03-08 至 2025-03-08；阳光社区志愿服务队" in line


def test_an_official_template_is_compared_with_our_header(rt: Runtime, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    same = tmp_path / "same.xlsx"
    same.write_bytes(write_xlsx(tuple(h.replace("（", "(").replace("）", ")") for h in NATIONAL_HEADERS), []))
    assert cmd_admin_export_check(argparse.Namespace(template=str(same)), rt) == 0
    assert "一致" in capsys.readouterr().out
    other = tmp_path / "other.xlsx"
    other.write_bytes(write_xlsx(("姓名", "证件号码", "志愿者编号", "服务时长（小时）"), []))
    assert cmd_admin_export_check(argparse.Namespace(template=str(other)), rt) == 1
    out = capsys.readouterr().out
    assert "模板有、我们没有的列：志愿者编号" in out and "项目名称" in out
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    assert cmd_admin_export_check(argparse.Namespace(template=str(broken)), rt) == 2
    assert "读不了这个文件" in capsys.readouterr().err
