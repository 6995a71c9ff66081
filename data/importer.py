"""Import activities from CSV or YAML: validate every row first, then write all or nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import InvalidInput
from .models import CATEGORIES, Activity, ActivityStatus, Place, Team
from .timeutil import to_utc

COLUMNS = (
    "title", "category", "team", "place", "address", "start", "end", "capacity",
    "description", "contact_name", "contact_phone",
)
REQUIRED = ("title", "category", "team", "place", "start", "end", "capacity")
OPTIONAL = ("landmark", "physical_load", "requirements", "needs_review", "external_key")
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M")


class ImportError_(InvalidInput):
    """Rows that failed validation; `errors` lists (row number, message) in Chinese for coordinators."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        super().__init__("; ".join(f"第{n}行：{m}" for n, m in errors))
        self.errors = errors


@dataclass
class ImportResult:
    created: int
    updated: int


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows from a .csv (UTF-8, with or without BOM) or .yaml/.yml file (a list of mappings)."""
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ImportError_([(0, "YAML 文件应当是活动的列表")])
        return data
    if path.suffix.lower() == ".csv":
        return list(csv.DictReader(io.StringIO(text)))
    raise ImportError_([(0, "只支持 .csv、.yaml、.yml 文件")])


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    s = str(value).strip()
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    raise ValueError(f"时间“{s}”看不懂，请写成 2026-12-05 09:00")


def import_activities(session: Session, rows: list[dict[str, Any]], now: datetime, *,
                      team_ids: Collection[int] | None = None,
                      place_ids: Collection[int] | None = None) -> ImportResult:
    """Validate all rows (times are local), then insert or update by `external_key` (or title+start).

    `team_ids` / `place_ids` limit a coordinator's import to their own teams and the places those teams
    serve: a row naming another team or place, or whose key matches an activity of a team outside
    `team_ids`, is an error (None = no limit, for the operator's command line).
    Raises ImportError_ listing every bad row; nothing is written in that case.
    """
    errors: list[tuple[int, str]] = []
    teams = {t.name: t for t in session.scalars(select(Team))}
    places: dict[str, list[Place]] = {}
    for p in session.scalars(select(Place)):
        places.setdefault(p.name, []).append(p)
    prepared: list[dict[str, Any]] = []
    for n, row in enumerate(rows, start=2):  # row 1 is the CSV header
        row = {str(k).strip(): (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k}
        unknown = set(row) - set(COLUMNS) - set(OPTIONAL)
        if unknown:
            errors.append((n, f"不认识的列：{'、'.join(sorted(unknown))}"))
            continue
        missing = [c for c in REQUIRED if row.get(c) in (None, "")]
        if missing:
            errors.append((n, f"缺少：{'、'.join(missing)}"))
            continue
        try:
            if row["category"] not in CATEGORIES:
                raise ValueError(f"类别“{row['category']}”不在规定的类别里")
            if row["team"] not in teams:
                raise ValueError(f"没有叫“{row['team']}”的队伍")
            if team_ids is not None and teams[row["team"]].id not in team_ids:
                raise ValueError("只能导入您负责的队伍的活动")
            if row["place"] not in places:
                raise ValueError(f"没有叫“{row['place']}”的地方")
            if len(places[row["place"]]) > 1:
                raise ValueError(f"“{row['place']}”有重名，请写得更具体")
            start, end = _parse_time(row["start"]), _parse_time(row["end"])
            if end <= start:
                raise ValueError("结束时间要晚于开始时间")
            capacity = int(row["capacity"])
            if not 1 <= capacity <= 10000:
                raise ValueError("人数要在 1 到 10000 之间")
            load = int(row.get("physical_load") or 1)
            if load not in (1, 2, 3):
                raise ValueError("体力要求只能是 1、2、3")
            title = str(row["title"])
            if len(title) > 128:
                raise ValueError("标题太长（最多128字）")
        except (ValueError, TypeError) as exc:
            errors.append((n, str(exc)))
            continue
        place = places[row["place"]][0]
        if place_ids is not None and place.id not in place_ids:
            errors.append((n, f"“{row['place']}”不在您的队伍服务的范围里"))
            continue
        key = str(row.get("external_key") or f"import:{title}:{start.isoformat()}")
        if team_ids is not None:
            owner = session.scalar(select(Activity.team_id).where(Activity.external_key == key))
            if owner is not None and owner not in team_ids:
                errors.append((n, "这个活动编号已经被别的队伍的活动用了，请换一个编号"))
                continue
        prepared.append(dict(
            title=title, category=row["category"], team_id=teams[row["team"]].id, place_id=place.id,
            address=row.get("address") or None, landmark=row.get("landmark") or place.landmark,
            starts_at=to_utc(start), ends_at=to_utc(end), capacity=capacity, physical_load=load,
            description=row.get("description") or None, requirements=row.get("requirements") or None,
            contact_name=row.get("contact_name") or None, contact_phone=str(row.get("contact_phone") or "") or None,
            needs_review=str(row.get("needs_review", "")).lower() in ("1", "true", "yes", "是"),
            external_key=key,
        ))
    if errors:
        raise ImportError_(errors)
    created = updated = 0
    for values in prepared:
        existing = session.scalars(select(Activity).where(Activity.external_key == values["external_key"])).first()
        if existing is None:
            session.add(Activity(**values, status=ActivityStatus.PUBLISHED, created_at=now, updated_at=now))
            created += 1
        else:
            for k, v in values.items():
                setattr(existing, k, v)
            existing.updated_at = now
            updated += 1
    session.flush()
    return ImportResult(created, updated)
