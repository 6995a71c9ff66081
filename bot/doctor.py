"""`python -m bot doctor`: one line per dependency with a hint when it fails; the exit status says if any did."""

from __future__ import annotations

import argparse
import base64
import logging
import shutil
import sys
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from data.kv import MemoryStore

from .channels.wechat_api import WechatAPI, WechatAPIError
from .config import Config
from .push.worker import HEARTBEAT_KEY
from .runtime import Runtime

OK, FAIL, SKIP = "正常", "失败", "跳过"
HTTP_TIMEOUT = 5.0


@dataclass
class Check:
    name: str
    status: str  # OK | FAIL | SKIP
    detail: str
    hint: str = ""

    def line(self) -> str:
        pad = 12 - sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in self.name)
        text = f"{self.status}  {self.name}{' ' * max(1, pad)} {self.detail}"
        return text + (f"  → {self.hint}" if self.hint and self.status == FAIL else "")


def hide_password(url: str) -> str:
    """`redis://:secret@host:6379/0` → `redis://:***@host:6379/0` (URLs go to the terminal, never secrets)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


# -- the checks: each takes the runtime and yields one or more results --------------------------------------
def check_config(rt: Runtime) -> Iterator[Check]:
    cfg = rt.config
    if cfg.app.env == "production" and not cfg.redis.url:
        yield Check("配置", FAIL, "生产模式没有 Redis（不会启动）", "设置 YINLING_REDIS_URL")
        return
    if cfg.app.env == "production" and not cfg.app.metrics_token:
        yield Check("配置", OK, "生产模式；/metrics 只许本机访问（未设 YINLING_METRICS_TOKEN）")
        return
    yield Check("配置", OK, f"{cfg.app.env} 模式")


def check_database(rt: Runtime) -> Iterator[Check]:
    from alembic.script import ScriptDirectory

    from data.migrate import alembic_config, current_revision

    shown = rt.engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(rt.engine)
    except Exception as exc:  # noqa: BLE001 - reported with a hint
        yield Check("数据库", FAIL, f"连不上 {shown}（{type(exc).__name__}）",
                    "检查 YINLING_DATABASE_URL，数据库服务是否在运行、用户和密码是否正确")
        return
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    if current in heads:
        yield Check("数据库", OK, f"{shown}，结构是最新版本（{current}）")
    else:
        yield Check("数据库", FAIL, f"{shown} 的结构版本是 {current or '空'}，最新是 {'/'.join(sorted(heads))}",
                    "运行 python -m bot db upgrade")


def check_redis(rt: Runtime) -> Iterator[Check]:
    url = rt.config.redis.url
    if not url:
        if rt.config.app.env == "production":
            yield Check("Redis", FAIL, "没有配置", "设置 YINLING_REDIS_URL（生产模式必须）")
        else:
            yield Check("Redis", SKIP, "没有配置：用进程内存储（只能单进程）")
        return
    try:
        rt.store.ping()  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001
        yield Check("Redis", FAIL, f"连不上 {hide_password(url)}（{type(exc).__name__}）",
                    "检查 YINLING_REDIS_URL，启动 redis-server")
        return
    yield Check("Redis", OK, f"{hide_password(url)}，键前缀 {rt.config.redis.prefix}")


WECHAT_HINTS = {
    40013: "WECHAT_APP_ID 不对：在公众号后台“设置与开发 → 基本配置”里复制 AppID",
    40125: "WECHAT_APP_SECRET 不对：在公众号后台重置 AppSecret 后填入",
    40164: "本机的出口 IP 不在公众号的 IP 白名单里：在“基本配置 → IP白名单”加上",
    89503: "本机的出口 IP 调用需要管理员确认：在公众号后台确认，或加入 IP 白名单",
}


def check_wechat(rt: Runtime) -> Iterator[Check]:
    cfg = rt.config.wechat
    if not (cfg.app_id or cfg.app_secret or cfg.token):
        yield Check("微信公众号", SKIP, "没有配置（WECHAT_APP_ID 等未设置）")
        return
    missing = [name for name, value in (("WECHAT_TOKEN", cfg.token), ("WECHAT_APP_ID", cfg.app_id),
                                        ("WECHAT_APP_SECRET", cfg.app_secret)) if not value]
    if missing:
        yield Check("微信公众号", FAIL, "缺少 " + "、".join(missing), "在环境变量里设置它们（公众号后台“基本配置”）")
        return
    try:
        WechatAPI(cfg, MemoryStore())._stable_token(force_refresh=False)  # the same call the service makes
    except WechatAPIError as exc:
        if exc.errcode is not None and exc.errcode != -1:
            hint = WECHAT_HINTS.get(exc.errcode, "检查 WECHAT_APP_ID 和 WECHAT_APP_SECRET")
            yield Check("微信公众号", FAIL, f"取 access_token 失败：errcode {exc.errcode}", hint)
        else:
            yield Check("微信公众号", FAIL, f"{cfg.api_base} 没有正常回答（{exc.reason}）",
                        "检查网络、代理和 WECHAT_API_BASE")
        return
    yield Check("微信公众号", OK, f"AppID {cfg.app_id} 取到了 access_token（{cfg.api_base}）")


def _http(url: str, headers: dict[str, str] | None = None, timeout: float = HTTP_TIMEOUT) -> tuple[int, bytes]:
    """(status, body) of a GET; an HTTP error status is an answer too. Raises OSError when nobody answers."""
    request = urllib.request.Request(url, headers=headers or {}, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (configured URL)
            return int(response.status), response.read(2048)
    except urllib.error.HTTPError as exc:
        return int(exc.code), b""


def _sms_android(config: Config) -> Check:
    cfg = config.sms.android
    base = cfg.base_url.rstrip("/")
    if not cfg.password:
        return Check("短信 android", FAIL, "没有密码", "设置 SMS_ANDROID_PASSWORD（手机应用里“本地服务器”的密码）")
    try:
        status, _ = _http(base + "/health", timeout=cfg.timeout_seconds)
        auth = base64.b64encode(f"{cfg.username}:{cfg.password}".encode()).decode()
        checked, _ = _http(base + "/messages/yinling-doctor", {"Authorization": "Basic " + auth},
                           timeout=cfg.timeout_seconds)
    except OSError as exc:
        return Check("短信 android", FAIL, f"{base} 连不上（{type(exc).__name__}）",
                     "手机开着吗？和服务器在同一网络吗？检查 SMS_ANDROID_URL 和应用的“本地服务器”开关")
    if status >= 500:
        return Check("短信 android", FAIL, f"{base}/health 回答 {status}", "在手机上重启短信网关应用")
    if checked == 401:
        return Check("短信 android", FAIL, "用户名或密码不对", "检查 SMS_ANDROID_USERNAME 和 SMS_ANDROID_PASSWORD")
    return Check("短信 android", OK, f"{base} 在线，用户名和密码正确")


def _sms_gammu(config: Config) -> Check:
    cfg = config.sms.gammu
    if cfg.outbound == "sql":
        if not cfg.sql_url:
            return Check("短信 gammu", FAIL, "没有 SQL 地址", "设置 SMS_GAMMU_SQL_URL")
        from sqlalchemy import create_engine, text

        engine = create_engine(cfg.sql_url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001
            return Check("短信 gammu", FAIL, f"gammu 的数据库连不上（{type(exc).__name__}）",
                         "检查 SMS_GAMMU_SQL_URL 和 gammu-smsd 的数据库")
        finally:
            engine.dispose()
        return Check("短信 gammu", OK, "gammu 的数据库可以连上")
    if shutil.which(cfg.inject_path) is None:
        return Check("短信 gammu", FAIL, f"找不到 {cfg.inject_path}", "apt-get install gammu-smsd，或改 sms.gammu.inject_path")
    return Check("短信 gammu", OK, f"{cfg.inject_path} 可用")


def _sms_cloud(name: str, fields: dict[str, Any], templates: dict[str, Any]) -> Check:
    missing = [key for key, value in fields.items() if not value]
    if missing:
        return Check(f"短信 {name}", FAIL, "缺少 " + "、".join(missing), "在环境变量或 config.yaml 的 sms: 里设置")
    if "reply" not in templates:
        return Check(f"短信 {name}", FAIL, "没有 reply 模板", f"在 config.yaml 的 sms.{name}.templates 里加上 reply")
    return Check(f"短信 {name}", OK, "凭据和模板已配置（不发短信，无法验证密钥本身）")


_NO_CONSOLE = "从 sms.providers 里去掉 console，sms.outbound 写在用的短信通道（不用短信就都留空）"


def check_sms(rt: Runtime) -> Iterator[Check]:
    cfg = rt.config
    if not cfg.sms.providers and not cfg.sms.outbound:
        yield Check("短信", SKIP, "没有配置（只用微信）")
    elif cfg.app.env == "production" and cfg.sms.outbound == "console" and "console" not in cfg.sms.providers:
        yield Check("短信 console", FAIL, "sms.outbound 是控制台短信：通知只打印，谁也收不到", _NO_CONSOLE)
    for provider in cfg.sms.providers:
        if provider == "console":
            if cfg.app.env == "production":
                yield Check("短信 console", FAIL, "控制台短信只用于开发", _NO_CONSOLE)
            else:
                yield Check("短信 console", OK, "开发用，只打印不发送")
        elif provider == "android":
            yield _sms_android(cfg)
        elif provider == "gammu":
            yield _sms_gammu(cfg)
        elif provider == "tencent":
            t = cfg.sms.tencent
            yield _sms_cloud("tencent", {"TENCENT_SECRET_ID": t.secret_id, "TENCENT_SECRET_KEY": t.secret_key,
                                         "sms.tencent.sdk_app_id": t.sdk_app_id,
                                         "sms.tencent.sign_name": t.sign_name}, t.templates)
        elif provider == "aliyun":
            a = cfg.sms.aliyun
            yield _sms_cloud("aliyun", {"ALIYUN_ACCESS_KEY_ID": a.access_key_id,
                                        "ALIYUN_ACCESS_KEY_SECRET": a.access_key_secret,
                                        "sms.aliyun.sign_name": a.sign_name}, a.templates)
        else:
            yield Check(f"短信 {provider}", FAIL, "不认识的短信通道", "sms.providers 只能是 console android gammu tencent aliyun")


def check_recognizer(rt: Runtime) -> Iterator[Check]:
    url = getattr(getattr(rt.config, "asr", None), "url", None)
    if not url:
        yield Check("语音识别", SKIP, "没有配置（语音消息用微信自带的识别结果）")
        return
    try:
        status, _ = _http(str(url))
    except OSError as exc:
        yield Check("语音识别", FAIL, f"{url} 连不上（{type(exc).__name__}）", "启动识别服务，或检查 asr.url")
        return
    if status >= 500:
        yield Check("语音识别", FAIL, f"{url} 回答 {status}", "查看识别服务的日志")
        return
    yield Check("语音识别", OK, f"{url} 在线")


def check_rasa(rt: Runtime) -> Iterator[Check]:
    cfg = rt.config.nlu
    if cfg.backend != "rasa":
        yield Check("Rasa", SKIP, "用内置的理解程序（nlu.backend: builtin）")
        return
    base = cfg.rasa_url.rstrip("/")
    try:
        status, body = _http(base + "/", timeout=max(cfg.rasa_timeout, 2.0))
    except OSError as exc:
        yield Check("Rasa", FAIL, f"{base} 连不上（{type(exc).__name__}）；现在由内置程序代替理解",
                    "启动 Rasa（make rasa-serve），或检查 YINLING_RASA_URL")
        return
    if status != 200:
        yield Check("Rasa", FAIL, f"{base} 回答 {status}", "查看 Rasa 服务的日志，模型是否已加载")
        return
    yield Check("Rasa", OK, f"{base}：{body.decode('utf-8', 'replace').strip()[:40]}")


def check_worker(rt: Runtime) -> Iterator[Check]:
    client = rt.redis
    if client is None:
        yield Check("工作进程", SKIP, "没有 Redis：通知和提醒在网页进程里发送")
        return
    pattern = rt.config.redis.prefix + HEARTBEAT_KEY + "*"
    try:
        alive = [k for k in client.scan_iter(match=pattern, count=200)]
    except Exception as exc:  # noqa: BLE001
        yield Check("工作进程", FAIL, f"无法从 Redis 读心跳（{type(exc).__name__}）", "先修好 Redis")
        return
    if not alive:
        yield Check("工作进程", FAIL, "没有在运行的工作进程（一分钟内没有心跳）",
                    "启动 python -m bot worker（通知、迟到的回复和提醒都靠它）")
        return
    yield Check("工作进程", OK, f"{len(alive)} 个在运行")


CHECKS: list[Callable[[Runtime], Iterator[Check]]] = [
    check_config, check_database, check_redis, check_wechat, check_sms, check_recognizer, check_rasa, check_worker,
]


def run_checks(rt: Runtime) -> list[Check]:
    out: list[Check] = []
    for check in CHECKS:
        try:
            out.extend(check(rt))
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            out.append(Check(check.__name__.removeprefix("check_"), FAIL, f"检查本身出错（{type(exc).__name__}）",
                             "请把这一行报告给开发者"))
    return out


def _say(line: str) -> None:
    print(line, file=sys.stdout)  # noqa: T201 - a command's output for the person at the terminal


def cmd_doctor(args: argparse.Namespace, rt: Runtime | None, config_error: str | None = None) -> int:
    """Check everything the service depends on; exit 1 if anything failed."""
    if rt is None:
        _say(Check("配置", FAIL, config_error or "读不出配置", "按提示改 config.yaml 或环境变量").line())
        return 1
    logging.getLogger().setLevel(logging.WARNING)  # the lines below are the output; library chatter is not
    results = run_checks(rt)
    for result in results:
        _say(result.line())
    failed = [r for r in results if r.status == FAIL]
    _say(f"{len(failed)} 项失败。" if failed else "全部正常。")
    return 1 if failed else 0


CLI_COMMANDS: list[tuple[tuple[str, ...], str, Any, Any]] = [
    (("doctor",), "检查配置、数据库、Redis、微信、短信、Rasa 和工作进程，每项一行", lambda p: None, cmd_doctor),
]
