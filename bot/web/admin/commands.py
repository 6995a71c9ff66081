"""`python -m bot admin create-user`: a coordinator's log-in for the admin pages; `python -m bot admin exports`:
the audit of service-record exports (who, when, which format and filter, how many rows), from the command line."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from .auth import create_coordinator_login


def _say(message: str, err: bool = False) -> None:
    """Command-line output for people (the CLI's whole job), not logging."""
    print(message, file=sys.stderr if err else sys.stdout)  # noqa: T201


def cmd_admin_create_user(args: argparse.Namespace, rt: Any) -> int:
    password = os.environ.get("YINLING_ADMIN_PASSWORD") or getpass.getpass("密码（至少10位）：")
    with rt.sessions.begin() as s:
        try:
            coord = create_coordinator_login(s, username=args.username, password=password, name=args.name,
                                             phone=args.phone, team_names=args.team or [], leader=args.leader,
                                             operator=args.operator)
        except ValueError as exc:
            _say(f"没有创建：{exc}", err=True)
            return 1
        _say(f"协调员 {coord.name}（{coord.username}）可以登录 /admin 了。")
    return 0


def cmd_admin_exports(args: argparse.Namespace, rt: Any) -> int:
    from data.exports import FORMATS, audit_log
    from data.timeutil import to_local

    with rt.sessions() as s:
        rows = audit_log(s, limit=args.limit)
        if not rows:
            _say("还没有人导出过服务记录。")
            return 0
        for r in rows:
            label = FORMATS[r.format].label if r.format in FORMATS else r.format
            _say(f"{to_local(r.created_at):%Y-%m-%d %H:%M}  {r.coordinator_name}  {label}  {r.filter_text}  "
                 f"{r.row_count}条  {'完整手机号' if r.full_phones else '手机号已遮盖'}")
    return 0


def cmd_admin_export_check(args: argparse.Namespace, rt: Any) -> int:
    from data.errors import InvalidInput
    from data.exports import compare_header

    try:
        theirs, ours = compare_header(args.template)
    except InvalidInput as exc:
        _say(str(exc), err=True)
        return 2
    if not theirs and not ours:
        _say("模板的表头和我们导出的一致。")
        return 0
    if theirs:
        _say("模板有、我们没有的列：" + "、".join(theirs))
    if ours:
        _say("我们有、模板没有的列：" + "、".join(ours))
    _say("请按模板修改 data/exports.py 里的 NATIONAL_HEADERS 和 _national_cells。")
    return 1


def _check_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("template", help="从全国志愿服务信息系统下载的导入模板（.xlsx）")


def _exports_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--limit", type=int, default=50, help="显示最近多少次（默认50）")


def _user_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username")
    p.add_argument("--name", help="姓名（已有协调员时可不填）")
    p.add_argument("--phone", help="工作电话")
    p.add_argument("--team", action="append", help="负责的队伍名称，可写多次")
    p.add_argument("--leader", action="store_true", help="是队长（审核超时会通知）")
    p.add_argument("--operator", action="store_true", help="运营方：能看全部队伍")


CLI_COMMANDS: list[tuple[tuple[str, ...], str, Any, Any]] = [
    (("admin", "create-user"), "创建或更新协调员网页登录（密码从提示或 YINLING_ADMIN_PASSWORD 读取）",
     _user_args, cmd_admin_create_user),
    (("admin", "exports"), "列出最近的服务记录导出（谁、什么时候、什么格式、多少条）", _exports_args, cmd_admin_exports),
    (("admin", "export-check"), "把系统下载的导入模板和我们的导入表对比表头", _check_args, cmd_admin_export_check),
]
