"""Export of service records in a chosen format (data.exports registry), and the operator's list of every
export taken (who, when, which format, which filter, how many rows, full numbers or not)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Response, abort, g, render_template, request

from data.exports import FORMATS, Filter, audit_log, run_export
from data.timeutil import to_utc, utcnow

from . import bp
from .auth import login_required

log = logging.getLogger("yinling.admin")


def _day(name: str) -> datetime | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return to_utc(datetime.strptime(value, "%Y-%m-%d"))
    except ValueError:
        abort(400, description="日期格式应为 2025-01-31")


def download(key: str) -> Any:
    """The file of format `key` for the coordinator's teams (the operator: every team), audited."""
    if key not in FORMATS:
        abort(404)
    start, end = _day("start"), _day("end")
    if end is not None:
        end += timedelta(days=1)
    scope = None if g.coordinator.is_operator else list(g.team_ids)
    out = run_export(g.db, key, Filter(scope, start, end), g.coordinator, utcnow(), reveal=g.rt.vault.decrypt)
    g.db.commit()
    log.info("admin: coordinator %s exported %s rows as %s (full numbers: %s)", g.coordinator.id, out.rows, key,
             out.full_phones)
    return Response(out.body, mimetype=out.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{out.filename}"'})


@bp.get("/export/<key>")
@login_required
def export_download(key: str) -> Any:
    return download(key)


@bp.get("/exports")
@login_required
def exports_audit() -> Any:
    if not g.coordinator.is_operator:
        abort(403, description="导出记录只对运营方开放。")
    return render_template("admin/exports_audit.html", rows=audit_log(g.db),
                           labels={k: f.label for k, f in FORMATS.items()})
