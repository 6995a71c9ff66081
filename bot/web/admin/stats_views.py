"""Statistics for the operator and team leaders (with CSV per table), and the teams page where a leader
registers the team's WeCom group robot."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from data.models import TEAM_KIND_NAMES, Team, TeamMember
from data.stats import RegionStats, region_stats, table_csv
from data.timeutil import to_local, utcnow

from . import bp
from .auth import login_required
from .charts import charts_for

WECOM_HOST = "qyapi.weixin.qq.com"
WECOM_PATH = "/cgi-bin/webhook/send"
_KEY = re.compile(r"[A-Za-z0-9-]{8,64}")


def valid_wecom_webhook(url: str) -> str | None:
    """The normalised robot address, or None: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>."""
    try:
        parts = urlsplit(url.strip())
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    if (parts.scheme != "https" or parts.netloc != WECOM_HOST or parts.path != WECOM_PATH or parts.fragment
            or len(query) != 1 or query[0][0] != "key" or not _KEY.fullmatch(query[0][1])):
        return None
    return f"https://{WECOM_HOST}{WECOM_PATH}?key={query[0][1]}"


def _stats_scope() -> list[int] | None:
    """None (whole region) for the operator; the led teams for a leader; 403 for anyone else."""
    if g.coordinator.is_operator:
        return None
    if not g.leader_team_ids:
        abort(403, description="统计页面只对运营方和队长开放。")
    return list(g.leader_team_ids)


def _stats() -> RegionStats:
    return region_stats(g.db, _stats_scope(), utcnow())


@bp.get("/stats")
@login_required
def stats() -> Any:
    scope = _stats_scope()
    figures = region_stats(g.db, scope, utcnow())
    teams = [] if scope is None else list(g.db.scalars(select(Team.name).where(Team.id.in_(scope)).order_by(Team.name)))
    return render_template("admin/stats.html", s=figures, teams=teams, region=scope is None,
                           today=to_local(utcnow()).strftime("%Y-%m-%d"), charts=charts_for(figures))


@bp.get("/stats.csv")
@login_required
def stats_csv() -> Any:
    table = _stats().table(request.args.get("table", ""))
    if table is None:
        abort(404)
    name = f"stats-{table.key}-{to_local(utcnow()).strftime('%Y%m%d')}.csv"
    return Response(table_csv(table), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/teams")
@login_required
def teams() -> Any:
    rows = list(g.db.scalars(select(Team).where(Team.id.in_(g.team_ids)).order_by(Team.name)))
    members = {int(tid): int(n) for tid, n in g.db.execute(
        select(TeamMember.team_id, func.count()).where(TeamMember.team_id.in_(g.team_ids)).group_by(TeamMember.team_id))}
    return render_template("admin/teams.html", teams=rows, members=members, kinds=TEAM_KIND_NAMES,
                           can_edit=set(g.leader_team_ids))


@bp.post("/teams/<int:team_id>/webhook")
@login_required
def team_webhook(team_id: int) -> Any:
    if team_id not in g.team_ids:
        abort(404)
    if team_id not in g.leader_team_ids:
        abort(403, description="只有队长可以设置工作群机器人。")
    team = g.db.get(Team, team_id)
    if team is None:
        abort(404)
    raw = request.form.get("webhook", "").strip()
    if not raw:
        team.wecom_webhook = None
        g.db.commit()
        flash(f"已取消“{team.name}”的工作群机器人，通知不再发到群里。")
        return redirect(url_for("admin.teams") + f"#team-{team_id}")
    url = valid_wecom_webhook(raw)
    if url is None:
        flash("机器人地址不对。请在企业微信群里“添加群机器人”，复制以 "
              "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key= 开头的完整地址。", "error")
        return redirect(url_for("admin.teams") + f"#team-{team_id}")
    team.wecom_webhook = url
    g.db.commit()
    flash(f"已保存。“{team.name}”的通知会同时发到工作群（每分钟最多20条）。")
    return redirect(url_for("admin.teams") + f"#team-{team_id}")
