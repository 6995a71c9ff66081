"""The typed loader: defaults, environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_repo_config_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_config(env={"YINLING_SECRET_KEY": "s" * 20})
    assert cfg.database.url.startswith("sqlite:///")
    assert cfg.redis.url is None
    assert cfg.dialogs.page_size == 4
    assert cfg.wechat.reply_budget_seconds == 4.0


def test_environment_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:///x.db\napp:\n  port: 8000\n")
    cfg = load_config(path, env={"YINLING_DATABASE_URL": "postgresql+psycopg://u@h/db", "YINLING_PORT": "9001",
                                 "YINLING_REDIS_URL": "redis://127.0.0.1:6379/0", "YINLING_SECRET_KEY": "s" * 20,
                                 "WECHAT_TOKEN": "tok"})
    assert cfg.database.url == "postgresql+psycopg://u@h/db"
    assert cfg.app.port == 9001
    assert cfg.redis.url == "redis://127.0.0.1:6379/0"
    assert cfg.wechat.token == "tok"


def test_overrides_argument_wins(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, ""), env={"YINLING_SECRET_KEY": "s" * 20},
                      overrides={"database.url": "sqlite:///y.db", "dialogs": {"page_size": 3}})
    assert cfg.database.url == "sqlite:///y.db" and cfg.dialogs.page_size == 3


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("databse:\n  url: x\n", {}, "databse"),
        ("database:\n  uri: x\n", {}, "database.uri"),
        ("app:\n  port: eighty\n", {}, "app.port"),
        ("app: 3\n", {}, "app"),
        ("wechat:\n  app_secret: leaked\n", {}, "WECHAT_APP_SECRET"),
        ("app:\n  env: production\n", {}, "YINLING_SECRET_KEY"),
        ("", {"YINLING_PORT": "x"}, "app.port"),
        ("", {"YINLING_SECRET_KEY": "short"}, "secret_key"),
        ("nlu:\n  backend: bert\n", {}, "nlu.backend"),
        ("- a\n- b\n", {}, "mapping"),
        ("app: [unclosed\n", {}, "YAML"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, text: str, env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config(write(tmp_path, text), env={"YINLING_SECRET_KEY": "s" * 20, **env}
                    if "YINLING_SECRET_KEY" not in env and "production" not in text else env)
    assert needle in str(exc.value)


def test_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", env={})


def test_development_secret_is_generated_once(tmp_path: Path) -> None:
    path = write(tmp_path, f"app:\n  var_dir: {tmp_path / 'var'}\n")
    first = load_config(path, env={}).secret_key
    assert len(first) >= 32
    assert load_config(path, env={}).secret_key == first
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o077 == 0


def test_the_dialogs_section_is_the_dialogs_own_settings(tmp_path: Path) -> None:
    """One type, owned by dialogs/: what config.yaml says is what a turn's budget uses, per channel."""
    from dialogs import Settings

    path = write(tmp_path, "dialogs:\n  wechat_budget_chars: 250\n  sms_budget_chars: 120\n")
    cfg = load_config(path, env={"YINLING_SECRET_KEY": "s" * 20})
    assert isinstance(cfg.dialogs, Settings)
    assert (cfg.dialogs.budget("wechat"), cfg.dialogs.budget("sms")) == (250, 120)
    with pytest.raises(ConfigError, match="dialogs.budget_chars"):
        load_config(write(tmp_path, "dialogs:\n  budget_chars: 250\n"), env={"YINLING_SECRET_KEY": "s" * 20})


def test_hand_offs_promise_sms_only_where_sms_goes_out() -> None:
    """dialogs.Settings.sms_out follows the SMS section: console in development yes, no outbound no, and the
    console in production no (bot.push.senders sends nothing through it there)."""
    secret = {"YINLING_SECRET_KEY": "s" * 24}
    assert load_config(env=secret).dialogs.sms_out is True
    assert load_config(env=secret, overrides={"sms.outbound": ""}).dialogs.sms_out is False
    prod = load_config(env={**secret, "YINLING_REDIS_URL": "redis://127.0.0.1:6379/0"},
                       overrides={"app.env": "production"})
    assert prod.sms.outbound == "console" and prod.dialogs.sms_out is False
