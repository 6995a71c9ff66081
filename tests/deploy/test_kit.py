"""The deployment kit (deploy/): each file passes its own checker, and agrees with the app's configuration.

The files name their real places (/opt/yinling, /etc/yinling, /etc/letsencrypt, /var/log); the tests render a
copy with those places moved under a temporary directory, so nothing here needs root or touches the host.
"""

from __future__ import annotations

import dataclasses
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.config import ENV_MAP, SECRET_KEYS, load_config
from data.crypto import PhoneVault
from data.db import make_engine
from data.migrate import upgrade
from data.models import Base
from data.seed import load_demo
from tests.conftest import new_database_url
from tests.deploy.kit import DEPLOY, ROOT, render_nginx, run, tool

UNITS = ["yinling-web.service", "yinling-worker.service", "yinling-backup.service", "yinling-backup.timer"]
SECRET = "deploy-test-secret-0123456789"


def production_config(env: dict[str, str] | None = None) -> Any:
    return load_config(DEPLOY / "config.yaml", env={"YINLING_SECRET_KEY": SECRET, **(env or {})})


# -- systemd -----------------------------------------------------------------------------------------------
def render_units(tmp_path: Path) -> Path:
    """The units with /opt/yinling and /etc/yinling under tmp_path, and the programs they start in place."""
    root, units = tmp_path / "opt", tmp_path / "units"
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / "deploy").mkdir()
    units.mkdir()
    os.symlink(sys.executable, root / ".venv" / "bin" / "python")
    os.symlink(Path(sys.executable).parent / "gunicorn", root / ".venv" / "bin" / "gunicorn")
    shutil.copy2(DEPLOY / "pg-backup.sh", root / "deploy" / "pg-backup.sh")
    (tmp_path / "yinling.env").write_text((DEPLOY / "yinling.env.example").read_text(encoding="utf-8"),
                                          encoding="utf-8")
    for name in UNITS:
        body = (DEPLOY / "systemd" / name).read_text(encoding="utf-8")
        body = body.replace("/opt/yinling", str(root)).replace("/etc/yinling/yinling.env",
                                                               str(tmp_path / "yinling.env"))
        (units / name).write_text(body, encoding="utf-8")
    return units


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = tool("systemd-analyze")
    units = render_units(tmp_path)
    result = run([analyze, "verify", "--man=no", *(f"./{n}" for n in UNITS)], cwd=units)
    complaints = [line for line in (result.stdout + result.stderr).splitlines()
                  if any(n in line for n in UNITS) or "Unknown" in line or "not executable" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_services_are_hardened(tmp_path: Path) -> None:
    """systemd's own exposure score (0 = locked down, 10 = none), each service at most 2.0 ("OK")."""
    analyze = tool("systemd-analyze")
    units = render_units(tmp_path)
    for name in UNITS[:3]:
        result = run([analyze, "security", "--offline=true", "--no-pager", f"./{name}"], cwd=units)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout + result.stderr)
        assert m is not None, result.stdout + result.stderr
        assert float(m.group(1)) <= 2.0, (name, m.group(1))


def test_a_broken_unit_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a misspelt hardening option and a missing program are reported."""
    analyze = tool("systemd-analyze")
    units = render_units(tmp_path)
    web = units / "yinling-web.service"
    web.write_text(web.read_text(encoding="utf-8").replace("NoNewPrivileges=", "NoNewPrivilege="), encoding="utf-8")
    result = run([analyze, "verify", "--man=no", "./yinling-web.service"], cwd=units)
    assert "Unknown key 'NoNewPrivilege'" in result.stderr
    (tmp_path / "opt" / ".venv" / "bin" / "gunicorn").unlink()
    assert run([analyze, "verify", "--man=no", "./yinling-web.service"], cwd=units).returncode != 0


def unit(name: str) -> str:
    return (DEPLOY / "systemd" / name).read_text(encoding="utf-8")


def test_units_start_what_exists_and_are_hardened() -> None:
    from bot.cli import build_parser, extra_commands

    web, worker = unit("yinling-web.service"), unit("yinling-worker.service")
    assert "bot.wsgi:app" in web and (ROOT / "bot" / "wsgi.py").exists()
    cfg = production_config()
    assert f"--bind {cfg.app.host}:{cfg.app.port}" in web
    command = re.search(r"ExecStart=\S+/python -m bot (.+)", worker)
    assert command is not None
    extra_commands()
    args = build_parser().parse_args(command.group(1).split())  # a command and options the CLI has
    assert args.command == "worker" and not args.no_duties  # this worker also runs the scheduled duties
    for text_ in (web, worker, unit("yinling-backup.service")):
        for option in ("User=yinling", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                       "PrivateTmp=yes", "CapabilityBoundingSet=\n", "EnvironmentFile=/etc/yinling/yinling.env"):
            assert option in text_, option


# -- nginx -------------------------------------------------------------------------------------------------
def nginx_t(tmp_path: Path, main: Path) -> subprocess.CompletedProcess[str]:
    return run([tool("nginx"), "-t", "-p", str(tmp_path), "-c", str(main), "-e", f"{tmp_path}/logs/error.log"])


def test_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    result = nginx_t(tmp_path, render_nginx(tmp_path))
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


def test_a_broken_nginx_site_is_caught(tmp_path: Path) -> None:
    site = (DEPLOY / "nginx" / "yinling.conf").read_text(encoding="utf-8").replace("proxy_read_timeout 5s;",
                                                                                 "proxy_read_timeout 5s")
    assert nginx_t(tmp_path, render_nginx(tmp_path, site)).returncode != 0


def directive(block: str, name: str) -> str:
    m = re.search(rf"^\s*{name}\s+([^;]+);", block, re.M)
    assert m is not None, name
    return m.group(1).strip()


def seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert m is not None, value
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[m.group(2)]


def test_nginx_agrees_with_the_app() -> None:
    site = (DEPLOY / "nginx" / "yinling.conf").read_text(encoding="utf-8")
    cfg = production_config()
    size = directive(site, "client_max_body_size")
    assert int(size.rstrip("k")) * (1024 if size.endswith("k") else 1) == cfg.app.max_body_bytes
    assert cfg.admin.trusted_proxies == 1 and directive(site, "proxy_set_header X-Forwarded-For") \
        == "$proxy_add_x_forwarded_for"
    assert f"server {cfg.app.host}:{cfg.app.port};" in site
    wechat = site[site.index("location = /wechat"):]
    wechat = wechat[:wechat.index("}")]
    # WeChat waits 5 s: the app's budget is inside it, and nginx holds the request no longer than WeChat does
    assert cfg.wechat.reply_budget_seconds < seconds(directive(wechat, "proxy_read_timeout")) <= 5
    assert directive(wechat, "proxy_next_upstream") == "off"
    assert "$request " not in site and "$args" not in site  # the log format leaves query strings out


# -- logrotate ---------------------------------------------------------------------------------------------
def test_logrotate_config_passes_logrotate_d(tmp_path: Path) -> None:
    logrotate = tool("logrotate")
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "access.log").write_text("x\n", encoding="utf-8")
    me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    body = (DEPLOY / "logrotate.conf").read_text(encoding="utf-8")
    assert "create 0640 yinling yinling" in body and "su yinling yinling" in body
    body = body.replace("/var/log/yinling", str(logs)).replace("yinling yinling", f"{me} {group}")
    conf = tmp_path / "yinling"
    conf.write_text(body, encoding="utf-8")
    conf.chmod(0o644)
    result = run([logrotate, "-d", "-s", str(tmp_path / "state"), str(conf)])
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "error" not in out.lower(), out
    assert f"considering log {logs}/access.log" in out


# -- environment and production configuration ---------------------------------------------------------------
def env_template() -> tuple[str, dict[str, str]]:
    body = (DEPLOY / "yinling.env.example").read_text(encoding="utf-8")
    values = dict(line.split("=", 1) for line in body.splitlines() if line and not line.startswith("#"))
    return body, values


def test_env_template_names_every_secret_and_loads() -> None:
    body, values = env_template()
    names = {name for name, key in ENV_MAP.items() if key in SECRET_KEYS}
    assert "YINLING_SECRET_KEY_OLD" in names
    for name in names:
        assert re.search(rf"^#?{name}=", body, re.M), name
    extra = {"YINLING_CONFIG", "YINLING_BACKUP_DB", "YINLING_BACKUP_DIR", "YINLING_BACKUP_KEEP"}
    assert set(values) - set(ENV_MAP) <= extra
    assert values["YINLING_CONFIG"] == "/etc/yinling/config.yaml"
    assert all(re.fullmatch(r"[A-Z0-9_]+", k) and " " not in v for k, v in values.items())  # systemd's syntax
    cfg = production_config({**values, "YINLING_SECRET_KEY": SECRET})
    assert cfg.app.env == "production" and cfg.old_secret_keys == []


def test_production_config_sends_no_sms_through_the_console() -> None:
    """Left at the defaults, SMS went through the development console provider: `doctor` failed on a fresh
    install and the worker printed every notice's text into the journal, counted as sent."""
    from types import SimpleNamespace

    from bot import doctor

    cfg = production_config()
    assert "console" not in (*cfg.sms.providers, cfg.sms.outbound)
    assert [c.status for c in doctor.check_sms(SimpleNamespace(config=cfg))] == [doctor.SKIP]


def test_production_config_differs_from_the_repository_only_where_marked() -> None:
    def flat(d: dict[str, Any], pre: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            out.update(flat(v, f"{pre}{k}.") if isinstance(v, dict) else {f"{pre}{k}": v})
        return out

    prod = flat(dataclasses.asdict(production_config()))
    repo = flat(dataclasses.asdict(load_config(env={"YINLING_SECRET_KEY": SECRET})))
    changed = {k for k in prod if prod[k] != repo[k]} - {"dialogs.sms_out"}  # follows sms.outbound, not a key
    marked = {"app.env", "app.var_dir", "app.public_url", "database.url", "redis.url", "admin.trusted_proxies",
              "admin.cookie_secure", "sms.providers", "sms.outbound"}
    assert changed == marked
    lines = (DEPLOY / "config.yaml").read_text(encoding="utf-8").splitlines()
    for key in marked:
        leaf = key.split(".")[-1]
        assert any(line.strip().startswith(f"{leaf}:") and "production" in line for line in lines), key


# -- PostgreSQL backup and restore ---------------------------------------------------------------------------
def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an md5 of every row, per table (the migration version table included)."""
    engine = create_engine(url)
    out: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for table in [*Base.metadata.sorted_tables, "alembic_version"]:
            name = getattr(table, "name", table)
            row = conn.execute(text(f'SELECT count(*), md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) '
                                    f'FROM "{name}" t')).one()
            out[str(name)] = (int(row[0]), str(row[1]))
    engine.dispose()
    return out


def script_env(url: str, backups: Path, keep: int = 2) -> dict[str, str]:
    u = make_url(url)
    return {**os.environ, "PGHOST": u.host or "127.0.0.1", "PGPORT": str(u.port or 5432),
            "PGUSER": u.username or "postgres", "YINLING_BACKUP_DB": str(u.database),
            "YINLING_BACKUP_DIR": str(backups), "YINLING_BACKUP_KEEP": str(keep)}


def test_backup_then_restore_gives_back_the_same_rows(tmp_path: Path, request: pytest.FixtureRequest,
                                                      seed_now: datetime) -> None:
    for name in ("pg_dump", "pg_restore", "psql", "createdb"):
        tool(name)
    url = new_database_url("postgres", tmp_path, request)
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as s:
            load_demo(s, seed_now, PhoneVault(SECRET))
            s.flush()
    engine.dispose()
    before = fingerprint(url)
    assert before["volunteers"][0] > 0 and before["alembic_version"][0] == 1

    backups = tmp_path / "backups"
    env = script_env(url, backups, keep=2)
    script = str(DEPLOY / "pg-backup.sh")
    for _ in range(3):
        result = run([script, "backup"], env=env)
        assert result.returncode == 0, result.stderr
    kept = sorted(backups.glob("*.dump"))
    assert len(kept) == 2 and not list(backups.glob("*.partial"))  # retention: the newest two
    assert all(p.stat().st_mode & 0o077 == 0 for p in kept)  # private to the service user

    target = f"yinling_r_{uuid.uuid4().hex[:10]}"
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    newest = run([script, "list"], env=env).stdout.split()[0]
    result = run([script, "restore", newest, target], env=env)
    assert result.returncode == 0, result.stderr
    assert fingerprint(make_url(url).set(database=target).render_as_string(hide_password=False)) == before

    again = run([script, "restore", newest, target], env=env)  # never over an existing database
    assert again.returncode != 0 and "exists already" in again.stderr

    broken = tmp_path / "broken.dump"
    broken.write_bytes(Path(newest).read_bytes()[:200])
    other = f"{target}_b"
    bad = run([script, "restore", str(broken), other], env=env)
    assert bad.returncode != 0
    with admin.connect() as conn:
        assert conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": other}).first() is None
