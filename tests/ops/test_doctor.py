"""`python -m bot doctor`: one line per dependency; each broken one fails clearly with a hint and exit 1.
Production refuses to start without Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from bot import cli, doctor
from bot.config import load_config
from bot.push.worker import _heartbeat
from bot.runtime import Runtime, build_runtime
from data.db import make_engine
from data.migrate import upgrade
from tests.conftest import REDIS_URL, RUN_PREFIX, TEST_SECRET, _missing
from tests.fakes.sms_android import FakeAndroidGateway
from tests.fakes.wechat_api import APP_ID, APP_SECRET, FakeWechatAPI
from tests.loopback import free_port as dead_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    """Everything the doctor looks at, healthy: a migrated database, Redis, WeChat, an Android gateway, Rasa."""

    db_url: str
    redis_url: str
    prefix: str
    wechat: FakeWechatAPI
    android: FakeAndroidGateway
    rasa: HTTPServer

    def overrides(self, **changes: Any) -> dict[str, Any]:
        base: dict[str, Any] = {
            "database.url": self.db_url, "redis.url": self.redis_url, "redis.prefix": self.prefix,
            "wechat.token": "doctor-token", "wechat.app_id": APP_ID, "wechat.app_secret": APP_SECRET,
            "wechat.api_base": self.wechat.url,
            "sms.providers": ["android"], "sms.outbound": "android", "sms.webhook_secret": "hook-secret",
            "sms.android.base_url": self.android.url, "sms.android.password": "pw-android",
            "sms.android.signing_key": "sign-key-1", "sms.android.timeout_seconds": 3.0,
            "nlu.backend": "rasa", "nlu.rasa_url": self.rasa.url_for("/").rstrip("/"),
        }
        base.update(changes)
        return base

    def runtime(self, **changes: Any) -> Runtime:
        return build_runtime(load_config(env={"YINLING_SECRET_KEY": TEST_SECRET}, overrides=self.overrides(**changes)))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('doctor') / 'doctor.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def world(migrated: str, httpserver: HTTPServer) -> Iterator[World]:
    if not REDIS_URL:
        _missing("Redis", "YINLING_TEST_REDIS_URL")
    httpserver.expect_request("/", method="GET").respond_with_data("Hello from Rasa: 3.6.20")
    wechat = FakeWechatAPI(APP_ID, APP_SECRET).start()
    android = FakeAndroidGateway()
    w = World(migrated, REDIS_URL or "", f"{RUN_PREFIX}{uuid.uuid4().hex[:8]}:", wechat, android, httpserver)
    yield w
    wechat.stop()
    android.close()
    import redis

    client = redis.Redis.from_url(w.redis_url)
    for key in client.scan_iter(match=w.prefix + "*"):
        client.delete(key)
    client.close()


@pytest.fixture
def beating(world: World) -> Iterator[None]:
    """A worker's heartbeat in Redis under the deployment's prefix (the thread `python -m bot worker` runs)."""
    rt = world.runtime()
    stop = threading.Event()
    thread = threading.Thread(target=_heartbeat, args=(rt.store, stop, 0.2), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)
    rt.engine.dispose()


def checks(rt: Runtime) -> dict[str, doctor.Check]:
    try:
        return {c.name: c for c in doctor.run_checks(rt)}
    finally:
        rt.engine.dispose()


def test_everything_healthy(world: World, beating: None, capsys: pytest.CaptureFixture[str]) -> None:
    rt = world.runtime()
    try:
        assert doctor.cmd_doctor(None, rt) == 0  # type: ignore[arg-type]
    finally:
        rt.engine.dispose()
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "全部正常。"
    names = ["配置", "数据库", "Redis", "微信公众号", "短信 android", "语音识别", "Rasa", "工作进程"]
    assert [line.split()[1] if not line.split()[1] == "短信" else "短信 android" for line in out[:-1]] == names
    assert all(line.startswith(("正常", "跳过")) for line in out[:-1])
    assert "AppID" in out[3] and "Hello from Rasa" in out[6] and "1 个在运行" in out[7]


BROKEN: dict[str, tuple[dict[str, Any], str, str]] = {
    # case: (config changes, the check that fails, words of its hint)
    "bad database URL": ({"database.url": f"postgresql+psycopg://postgres@127.0.0.1:{dead_port()}/nothing"},
                         "数据库", "YINLING_DATABASE_URL"),
    "database not migrated": ({"database.url": "sqlite://"}, "数据库", "python -m bot db upgrade"),
    "Redis down": ({"redis.url": f"redis://127.0.0.1:{dead_port()}/0"}, "Redis", "YINLING_REDIS_URL"),
    "Rasa dead": ({"nlu.rasa_url": f"http://127.0.0.1:{dead_port()}"}, "Rasa", "make rasa-serve"),
    "Android gateway down": ({"sms.android.base_url": f"http://127.0.0.1:{dead_port()}"}, "短信 android",
                             "SMS_ANDROID_URL"),
    "Android password wrong": ({"sms.android.password": "not-the-password"}, "短信 android",
                               "SMS_ANDROID_PASSWORD"),
    "production without Redis": ({"redis.url": None, "app.env": "production"}, "配置", "YINLING_REDIS_URL"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_dependency_fails_clearly(case: str, world: World, beating: None) -> None:
    changes, name, hint = BROKEN[case]
    found = checks(world.runtime(**changes))
    failed = {n for n, c in found.items() if c.status == doctor.FAIL}
    assert name in failed, found
    assert hint in found[name].line() and "→" in found[name].line()
    # Only what depends on the broken part fails with it.
    expected = {name} | ({"工作进程"} if name == "Redis" else set()) | (
        {"Redis"} if case == "production without Redis" else set())
    assert failed == expected, {n: found[n].line() for n in failed}


@pytest.mark.parametrize(("errcode", "words"), [(40013, "WECHAT_APP_ID"), (40125, "WECHAT_APP_SECRET")])
def test_wechat_credentials_refused(world: World, beating: None, errcode: int, words: str) -> None:
    world.wechat.fail("stable_token", errcode=errcode)
    found = checks(world.runtime())
    assert found["微信公众号"].status == doctor.FAIL
    assert f"errcode {errcode}" in found["微信公众号"].detail and words in found["微信公众号"].hint
    assert [c.name for c in found.values() if c.status == doctor.FAIL] == ["微信公众号"]


def test_wechat_api_unreachable(world: World, beating: None) -> None:
    found = checks(world.runtime(**{"wechat.api_base": f"http://127.0.0.1:{dead_port()}"}))
    assert found["微信公众号"].status == doctor.FAIL and "WECHAT_API_BASE" in found["微信公众号"].hint


def test_no_worker_heartbeat(world: World) -> None:
    found = checks(world.runtime())
    assert found["工作进程"].status == doctor.FAIL and "python -m bot worker" in found["工作进程"].hint


def test_the_command_exits_non_zero_and_names_the_config_error(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("YINLING_ENV", "production")
    monkeypatch.delenv("YINLING_SECRET_KEY", raising=False)
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("失败  配置") and "YINLING_SECRET_KEY" in out


def _rq_worker_idle(world: World) -> bool:
    """RQ has installed its signal handlers (it does so after registering, before it first waits for work): only
    then does SIGTERM end the worker through its clean-up. A stop during start-up kills it outright and the
    heartbeat stays a minute (noted on issue 16)."""
    import redis

    r = redis.Redis.from_url(world.redis_url)
    return any(r.hget(key, "state") in (b"idle", b"busy") for key in r.scan_iter(match=f"{world.prefix}rq:worker:*"))


@pytest.mark.wall_clock
def test_a_running_worker_is_seen(world: World) -> None:
    """`python -m bot worker` writes the heartbeat the doctor looks for; when it stops, the doctor says so."""
    env = {**os.environ, "YINLING_DATABASE_URL": world.db_url, "YINLING_REDIS_URL": world.redis_url,
           "YINLING_REDIS_PREFIX": world.prefix, "YINLING_SECRET_KEY": TEST_SECRET}
    worker = subprocess.Popen([sys.executable, "-m", "bot", "worker", "--no-tick"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            status = checks(world.runtime())["工作进程"]
            if (status.status == doctor.OK and _rq_worker_idle(world)) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status.status == doctor.OK, status.line()
    finally:
        worker.terminate()
        worker.wait(30)
    assert checks(world.runtime())["工作进程"].status == doctor.FAIL  # a stopped worker removes its heartbeat


@pytest.mark.wall_clock
@pytest.mark.parametrize("entry", [["-c", "import bot.wsgi"], ["-m", "bot", "serve", "--port", "1"]])
def test_production_refuses_to_start_without_redis(entry: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "YINLING_ENV": "production", "YINLING_SECRET_KEY": TEST_SECRET, "YINLING_REDIS_URL": "",
           "YINLING_DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    r = subprocess.run([sys.executable, *entry], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "redis.url" in r.stderr and "YINLING_REDIS_URL" in r.stderr


def test_recognizer_checked_when_configured(httpserver: HTTPServer) -> None:
    """`asr.url` (a recognizer the team runs) is checked when the configuration has one."""
    httpserver.expect_request("/v1/models", method="GET").respond_with_json({"data": [{"id": "whisper"}]})

    def rt_with(url: str | None) -> Any:
        return SimpleNamespace(config=SimpleNamespace(asr=SimpleNamespace(url=url)))

    assert [c.status for c in doctor.check_recognizer(rt_with(None))] == [doctor.SKIP]
    assert [c.status for c in doctor.check_recognizer(rt_with(httpserver.url_for("/v1/models")))] == [doctor.OK]
    dead = list(doctor.check_recognizer(rt_with(f"http://127.0.0.1:{dead_port()}/v1/models")))
    assert dead[0].status == doctor.FAIL and "asr.url" in dead[0].hint


SMS_CASES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    # case: (config changes, check name, status, words in its line)
    "tencent without keys": ({"sms.providers": ["tencent"], "sms.outbound": "tencent"}, "短信 tencent", doctor.FAIL,
                             "TENCENT_SECRET_ID"),
    "tencent without reply template": ({"sms.providers": ["tencent"], "sms.outbound": "tencent",
                                        "sms.tencent.secret_id": "id", "sms.tencent.secret_key": "key",
                                        "sms.tencent.sdk_app_id": "1400000000", "sms.tencent.sign_name": "银龄"},
                                       "短信 tencent", doctor.FAIL, "reply"),
    "aliyun configured": ({"sms.providers": ["aliyun"], "sms.outbound": "aliyun",
                           "sms.aliyun.access_key_id": "id", "sms.aliyun.access_key_secret": "secret",
                           "sms.aliyun.sign_name": "银龄", "sms.aliyun.templates": {"reply": {"id": "SMS_1"}}},
                          "短信 aliyun", doctor.OK, "凭据和模板已配置"),
    "gammu injector missing": ({"sms.providers": ["gammu"], "sms.outbound": "gammu",
                                "sms.gammu.inject_path": "/nonexistent/gammu-smsd-inject"}, "短信 gammu", doctor.FAIL,
                               "gammu-smsd"),
    "gammu database down": ({"sms.providers": ["gammu"], "sms.outbound": "gammu", "sms.gammu.outbound": "sql",
                             "sms.gammu.sql_url": f"postgresql+psycopg://postgres@127.0.0.1:{dead_port()}/smsd"},
                            "短信 gammu", doctor.FAIL, "SMS_GAMMU_SQL_URL"),
    "console in production": ({"sms.providers": ["console"], "sms.outbound": "console", "app.env": "production"},
                              "短信 console", doctor.FAIL, "sms.providers"),
    # the dataclass default, when a production config.yaml says nothing about sms (deploy/config.yaml did)
    "console outbound in production": ({"sms.providers": [], "sms.outbound": "console", "app.env": "production"},
                                       "短信 console", doctor.FAIL, "sms.outbound"),
    "no sms at all": ({"sms.providers": [], "sms.outbound": "", "app.env": "production"}, "短信", doctor.SKIP,
                      "只用微信"),
}


@pytest.mark.parametrize("case", list(SMS_CASES))
def test_each_sms_provider_is_checked(case: str, world: World, beating: None) -> None:
    changes, name, status, words = SMS_CASES[case]
    found = checks(world.runtime(**changes))
    assert found[name].status == status and words in found[name].line(), found[name].line()


def test_production_sends_nothing_through_the_console_sms_provider(world: World) -> None:
    """The console provider prints every text (a notice, a hand-off with the conversation) and calls it sent:
    in production no SMS sender is built from it, so deliveries are not counted as sent and no text reaches
    the journal; in development it stays the demo's outbound."""
    from bot.push.senders import build_senders

    production = world.runtime(**{"sms.providers": [], "sms.outbound": "console", "app.env": "production"})
    development = world.runtime(**{"sms.providers": [], "sms.outbound": "console"})
    try:
        assert "sms" not in build_senders(production) and "wechat" in build_senders(production)
        assert "sms" in build_senders(development)
    finally:
        production.engine.dispose()
        development.engine.dispose()
