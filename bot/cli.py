"""Command line: `python -m bot <command>`; each module adds its own subcommands with one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import chat, doctor, logs
from .app import create_app
from .config import ConfigError, load_config
from .push import worker
from .runtime import Runtime, build_runtime, require_production_services
from .web import wechat
from .web.admin import commands as admin_commands

log = logging.getLogger("yinling")

Handler = Callable[[argparse.Namespace, Runtime], int]


def _rt(args: argparse.Namespace) -> Runtime:
    overrides: dict[str, Any] = {}
    if getattr(args, "database_url", None):
        overrides["database.url"] = args.database_url
    return build_runtime(load_config(overrides=overrides))


def cmd_db_upgrade(args: argparse.Namespace, rt: Runtime) -> int:
    from data.migrate import current_revision, upgrade

    upgrade(rt.engine)
    print(f"数据库已是最新版本（{current_revision(rt.engine)}）：{rt.engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_db_seed(args: argparse.Namespace, rt: Runtime) -> int:
    from data.migrate import upgrade
    from data.seed import is_empty, load_demo
    from data.timeutil import utcnow

    upgrade(rt.engine)
    with rt.sessions.begin() as s:
        if not is_empty(s) and not args.force:
            print("数据库里已经有活动了，没有加载演示数据（要强制加载请加 --force）。")
            return 0
        counts = load_demo(s, utcnow(), rt.vault)
    print("已加载演示数据：" + "，".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_activities_import(args: argparse.Namespace, rt: Runtime) -> int:
    from data.importer import ImportError_, import_activities, read_rows
    from data.timeutil import utcnow

    path = Path(args.file)
    if not path.exists():
        print(f"找不到文件：{path}", file=sys.stderr)
        return 2
    try:
        rows = read_rows(path)
        with rt.sessions.begin() as s:
            result = import_activities(s, rows, utcnow())
    except ImportError_ as exc:
        print("没有导入任何活动，请改正后重试：", file=sys.stderr)
        for n, msg in exc.errors:
            print(f"  第{n}行：{msg}", file=sys.stderr)
        return 1
    print(f"导入完成：新增 {result.created} 个，更新 {result.updated} 个。")
    return 0


def cmd_activities_list(args: argparse.Namespace, rt: Runtime) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import joinedload

    from data.models import Activity
    from data.services import places_left
    from data.timeutil import format_when, utcnow

    now = utcnow()
    with rt.sessions() as s:
        stmt = select(Activity).options(joinedload(Activity.place)).order_by(Activity.starts_at)
        if not args.all:
            stmt = stmt.where(Activity.ends_at > now)
        for a in s.scalars(stmt):
            place = a.place.name if a.place else ""
            print(f"{a.id:>4}  {format_when(a.starts_at, a.ends_at)}  {a.title}  "
                  f"[{a.category}] {place}  剩{places_left(s, a)}/{a.capacity}  {a.status.value}")
    return 0


def cmd_serve(args: argparse.Namespace, rt: Runtime) -> int:
    try:
        require_production_services(rt.config)
    except ConfigError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    host = args.host or rt.config.app.host
    port = args.port or rt.config.app.port
    app = create_app(runtime=rt)
    rt.load_nlu()
    print(f"银龄志愿助手已启动：http://{host}:{port}/")
    print(f"  健康检查      http://{host}:{port}/healthz")
    print(f"  微信公众号    http://{host}:{port}/wechat   （需设置 WECHAT_TOKEN）")
    print(f"  短信网关回调  http://{host}:{port}/sms/<provider>")
    print(f"  协调员后台    http://{host}:{port}/admin   （先用 python -m bot admin create-user 设密码）")
    print("  在终端里聊天  .venv/bin/python -m bot chat --user 张桂兰")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False)
    return 0


def cmd_keys_generate(args: argparse.Namespace, rt: Runtime) -> int:
    import secrets

    print(secrets.token_urlsafe(48))
    return 0


def cmd_keys_rotate(args: argparse.Namespace, rt: Runtime) -> int:
    from data.keys import rotate_keys

    def progress(table: str, rows: int) -> None:
        print(f"  {table}：又检查了 {rows} 行", file=sys.stderr)

    report = rotate_keys(rt.sessions, rt.vault, batch_size=args.batch_size, after_batch=progress)
    for table, c in report.tables.items():
        print(f"{table}：换成新密钥 {c.rotated}，本来就是新密钥 {c.current}，服务同时改过 {c.changed}，"
              f"解不开 {c.unreadable}")
    if report.unreadable:
        print(f"有 {report.unreadable} 个号码用给出的密钥都解不开，没有改动它们。请把旧密钥放进 YINLING_SECRET_KEY_OLD"
              "（多个用英文逗号分隔）后再运行一次。", file=sys.stderr)
        return 1
    print("全部号码已在新密钥下。再运行一次 python -m bot keys status 确认；等一个小时（Redis 里待确认的绑定和待发的短信"
          "还用旧密钥），再从环境里去掉 YINLING_SECRET_KEY_OLD，重启网页和工作进程。")
    return 0


def cmd_keys_status(args: argparse.Namespace, rt: Runtime) -> int:
    from data.keys import pending

    left = pending(rt.sessions, rt.vault)
    print("还没换成当前密钥的行：" + "，".join(f"{k} {v}" for k, v in left.items()))
    return 1 if any(left.values()) else 0


# Subcommand registry: (path, help, arguments, handler). Other modules append with one line.
COMMANDS: list[tuple[tuple[str, ...], str, Callable[[argparse.ArgumentParser], None], Handler]] = [
    (("serve",), "启动网页服务（开发用；生产请用 gunicorn 'bot.wsgi:app'）",
     lambda p: (p.add_argument("--host"), p.add_argument("--port", type=int)) and None, cmd_serve),
    (("db", "upgrade"), "把数据库升级到最新结构", lambda p: None, cmd_db_upgrade),
    (("db", "seed-demo"), "数据库为空时加载演示数据",
     lambda p: p.add_argument("--force", action="store_true") and None, cmd_db_seed),
    (("activities", "import"), "从 CSV 或 YAML 导入活动",
     lambda p: p.add_argument("file") and None, cmd_activities_import),
    (("activities", "list"), "列出活动",
     lambda p: p.add_argument("--all", action="store_true", help="包括已结束的") and None, cmd_activities_list),
    (("keys", "generate"), "生成一个新的 YINLING_SECRET_KEY", lambda p: None, cmd_keys_generate),
    (("keys", "rotate"), "把所有手机号换成新密钥加密（旧密钥放在 YINLING_SECRET_KEY_OLD）",
     lambda p: p.add_argument("--batch-size", type=int, default=500, help="每个事务处理多少行") and None,
     cmd_keys_rotate),
    (("keys", "status"), "还有多少手机号没换成当前密钥（全部换好时退出码为 0）", lambda p: None, cmd_keys_status),
]


def extra_commands() -> None:
    """Modules that bring their own subcommands register them here (one line each)."""
    for module in (chat, wechat, worker, admin_commands, doctor):
        for entry in module.CLI_COMMANDS:
            if entry not in COMMANDS:
                COMMANDS.append(entry)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="银龄志愿助手")
    parser.add_argument("--database-url", help="覆盖 YINLING_DATABASE_URL")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, Any] = {}
    for path, help_text, add_args, handler in COMMANDS:
        if len(path) == 1:
            p = sub.add_parser(path[0], help=help_text, description=help_text)
        else:
            if path[0] not in groups:
                gp = sub.add_parser(path[0], help=f"{path[0]} …")
                groups[path[0]] = gp.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
            p = groups[path[0]].add_parser(path[1], help=help_text, description=help_text)
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        logs.setup(logging.INFO)
    except ValueError as exc:
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    extra_commands()
    args = build_parser().parse_args(argv)
    try:
        rt = _rt(args)
    except ConfigError as exc:
        if getattr(args, "handler", None) is doctor.cmd_doctor:
            return doctor.cmd_doctor(args, None, config_error=str(exc))
        print(f"配置错误：{exc}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(rt.config.app.log_level)
    handler: Handler = args.handler
    try:
        return handler(args, rt)
    finally:
        rt.engine.dispose()  # a command's connections end with it (tests call main() many times)
