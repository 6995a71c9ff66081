"""Service-record exports as a small registry of formats (today's CSV, the national system's import sheet),
full phone numbers only for operators and only where a format needs them, and one audit row per export.

A format is a header, a function from one record line to its cells, and a writer. Adding a format is one
`register(Format(...))` and one test; data/EXPORT_FORMATS.md says where each layout comes from and what
could not be verified.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import InvalidInput, NotFound
from .models import Activity, Coordinator, ServiceRecord, Team, Volunteer
from .models_push import ExportAudit
from .records import RECORD_FIELDS
from .timeutil import to_local

Cell = str | Decimal
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MIMETYPE_CSV = "text/csv; charset=utf-8"
MIMETYPE_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Line:
    """One service record with everything any format needs; times are local (Asia/Shanghai)."""

    name: str
    gender: str
    phone: str  # masked, or the full number for an operator's export of a format that needs it
    activity: str
    category: str
    start: datetime
    end: datetime | None
    place: str
    content: str
    hours: Decimal
    organiser: str
    person_in_charge: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class Filter:
    """Which records: teams (None = the whole region), local days [start, end) as UTC datetimes."""

    team_ids: Sequence[int] | None
    start: datetime | None
    end: datetime | None

    def describe(self, session: Session) -> str:
        first = to_local(self.start).strftime("%Y-%m-%d") if self.start else "最早"
        last = to_local(self.end - timedelta(days=1)).strftime("%Y-%m-%d") if self.end else "最近"
        if self.team_ids is None:
            teams = "全部队伍"
        else:
            names = list(session.scalars(select(Team.name).where(Team.id.in_(list(self.team_ids)))
                                         .order_by(Team.name)))
            teams = "、".join(names) or "无队伍"
        return f"{first} 至 {last}；{teams}"[:255]


@dataclass(frozen=True)
class Format:
    key: str
    label: str  # shown on the export page
    extension: str
    mimetype: str
    headers: tuple[str, ...]
    cells: Callable[[Line, int], list[Cell]]  # (line, 1-based row number) → cells in header order
    write: Callable[[tuple[str, ...], list[list[Cell]]], bytes]
    full_phone: bool = False  # the receiving system matches people by phone: operators get the full number
    stem: str = "service-records"  # file name: <stem>-<first day>-<last day>.<extension>


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    if fmt.key in FORMATS:
        raise ValueError(f"export format {fmt.key} registered twice")
    FORMATS[fmt.key] = fmt
    return fmt


# -- writers ---------------------------------------------------------------------------------------------


def defuse(value: str) -> str:
    """A cell starting with = + - @ (or a tab or CR) would be run as a formula by spreadsheets."""
    return "'" + value if value[:1] in FORMULA_START else value


def write_csv(headers: tuple[str, ...], rows: list[list[Cell]]) -> bytes:
    """UTF-8 with BOM so Excel on a coordinator's PC opens the Chinese headers correctly."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(headers)
    for row in rows:
        w.writerow([defuse(c) if isinstance(c, str) else f"{c:.2f}" for c in row])
    return buf.getvalue().encode("utf-8")


def write_xlsx(headers: tuple[str, ...], rows: list[list[Cell]]) -> bytes:
    """One sheet, the header in row 1, hours as numbers, every text cell stored as text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "服务时长"
    ws.append(list(headers))
    for row in rows:
        ws.append([float(c) if isinstance(c, Decimal) else "" for c in row])
        for col, value in enumerate(row, start=1):
            if isinstance(value, str):
                cell = ws.cell(row=ws.max_row, column=col)
                cell.value = value
                cell.data_type = "s"  # openpyxl would take a leading "=" as a formula
            else:
                ws.cell(row=ws.max_row, column=col).number_format = "0.00"
    for col, head in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(col)].width = max(10, 2 * len(head) + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# -- the formats -----------------------------------------------------------------------------------------


def _day(t: datetime) -> str:
    return t.strftime("%Y-%m-%d")


def _minute(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M") if t else ""


def _record_cells(x: Line, _n: int) -> list[Cell]:
    """Today's CSV (data.records.RECORD_FIELDS), unchanged."""
    return [x.name, x.gender, x.phone, x.activity, x.category, _day(x.start), x.start.strftime("%H:%M"),
            x.end.strftime("%H:%M") if x.end else "", x.place, x.content, f"{x.hours:.2f}", x.organiser,
            x.person_in_charge, x.recorded_by, _day(x.recorded_at)]


register(Format("csv", "服务记录（CSV，可用 Excel 打开）", "csv", MIMETYPE_CSV, RECORD_FIELDS, _record_cells,
                write_csv))

# 全国志愿服务信息系统 (中国志愿服务网) service-hours import. The columns are the record items the 办法 fixes
# plus the identity columns the system matches people by; see data/EXPORT_FORMATS.md for what is verified.
NATIONAL_HEADERS = (
    "序号", "姓名", "证件类型", "证件号码", "手机号码", "项目名称", "服务开始时间", "服务结束时间",
    "服务时长（小时）", "服务地点", "服务内容", "服务类别", "组织单位", "项目负责人", "记录人", "记录日期",
)


def _national_cells(x: Line, n: int) -> list[Cell]:
    # We store no ID numbers (data minimisation): 证件类型 and 证件号码 stay empty; the operator fills them or
    # the system matches by name and phone.
    return [str(n), x.name, "", "", x.phone, x.activity, _minute(x.start), _minute(x.end), x.hours, x.place,
            x.content, x.category, x.organiser, x.person_in_charge, x.recorded_by, _day(x.recorded_at)]


register(Format("cvs_national", "全国志愿服务信息系统导入表（Excel）", "xlsx", MIMETYPE_XLSX, NATIONAL_HEADERS,
                _national_cells, write_xlsx, full_phone=True, stem="national-service-hours"))


def compare_header(path: str, key: str = "cvs_national") -> tuple[list[str], list[str]]:
    """The first row of an official template (xlsx) against a format's header: (columns the template has
    that we do not write, columns we write that the template lacks). Spaces and full-width brackets do not
    count as differences."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    def norm(text: object) -> str:
        return str(text or "").strip().replace(" ", "").replace("(", "（").replace(")", "）")

    try:
        ws = load_workbook(path, read_only=True).active
    except (OSError, ValueError, KeyError, BadZipFile, InvalidFileException) as exc:  # .xls, not a workbook
        raise InvalidInput("读不了这个文件，请给出从系统下载的 .xlsx 模板") from exc
    first = next(ws.iter_rows(max_row=1, values_only=True), ()) if ws is not None else ()
    theirs = [norm(c) for c in first if norm(c)]
    ours = [norm(h) for h in FORMATS[key].headers]
    return [c for c in theirs if c not in ours], [c for c in ours if c not in theirs]


# -- reading and running ---------------------------------------------------------------------------------


def lines(session: Session, flt: Filter, reveal: Callable[[str], str] | None = None) -> list[Line]:
    """The records of the filter, oldest first. `reveal(phone_enc)` gives the full number; without it (or
    when it fails) the masked number stays."""
    stmt = (select(ServiceRecord, Volunteer, Activity)
            .outerjoin(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
            .outerjoin(Activity, Activity.id == ServiceRecord.activity_id)
            .order_by(ServiceRecord.service_date, ServiceRecord.id))
    if flt.team_ids is not None:
        stmt = stmt.where(Activity.team_id.in_(list(flt.team_ids)))
    if flt.start is not None:
        stmt = stmt.where(ServiceRecord.service_date >= flt.start)
    if flt.end is not None:
        stmt = stmt.where(ServiceRecord.service_date < flt.end)
    out: list[Line] = []
    for rec, vol, act in session.execute(stmt):
        phone = (vol.phone_masked if vol else "") or ""
        if reveal is not None and vol is not None and vol.phone_enc:
            try:
                phone = reveal(vol.phone_enc)
            except InvalidInput:  # a number stored under another key: keep the masked one
                pass
        out.append(Line(
            name=(vol.name if vol else "") or "", gender=(vol.gender if vol else "") or "", phone=phone,
            activity=rec.activity_name, category=act.category if act else "", start=to_local(rec.service_date),
            end=to_local(act.ends_at) if act is not None else None, place=rec.place_text, content=rec.content,
            hours=Decimal(rec.hours), organiser=rec.organiser, person_in_charge=rec.person_in_charge,
            recorded_by=rec.recorded_by, recorded_at=to_local(rec.recorded_at)))
    return out


@dataclass(frozen=True)
class Export:
    body: bytes
    filename: str
    mimetype: str
    rows: int
    full_phones: bool


def run_export(session: Session, key: str, flt: Filter, coordinator: Coordinator, now: datetime,
               reveal: Callable[[str], str] | None = None) -> Export:
    """Build the file and add its audit row (the caller commits). Full numbers only when the format needs
    them and the coordinator is an operator; everyone else gets masked numbers."""
    fmt = FORMATS.get(key)
    if fmt is None:
        raise NotFound(f"export format {key}")
    full = bool(fmt.full_phone and coordinator.is_operator and reveal is not None)
    found = lines(session, flt, reveal if full else None)
    body = fmt.write(fmt.headers, [fmt.cells(x, n) for n, x in enumerate(found, start=1)])
    session.add(ExportAudit(coordinator_id=coordinator.id, coordinator_name=coordinator.name[:64], created_at=now,
                            format=fmt.key, filter_text=flt.describe(session), row_count=len(found),
                            full_phones=full))
    session.flush()
    first = to_local(flt.start).strftime("%Y-%m-%d") if flt.start else "all"
    last = to_local(flt.end - timedelta(days=1)).strftime("%Y-%m-%d") if flt.end else "all"
    name = f"{fmt.stem}-{first}-{last}.{fmt.extension}"  # nothing of the query reaches a header
    return Export(body, name, fmt.mimetype, len(found), full)


def audit_log(session: Session, limit: int = 200) -> list[ExportAudit]:
    """The latest exports, newest first."""
    return list(session.scalars(select(ExportAudit).order_by(ExportAudit.created_at.desc(), ExportAudit.id.desc())
                                .limit(limit)))
