"""Typed configuration: config.yaml defaults, environment overrides, secrets only from the environment."""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dialogs import Settings

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = ROOT / "config.yaml"


class ConfigError(Exception):
    """Configuration is missing, unknown or malformed; the message names the key."""


@dataclass
class AppConfig:
    env: str = "development"  # development | production
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    max_body_bytes: int = 64 * 1024
    var_dir: str = "var"
    public_url: str = "http://127.0.0.1:8000"
    # YINLING_METRICS_TOKEN: /metrics asks for `Authorization: Bearer <token>`; unset = loopback only.
    metrics_token: str | None = None


@dataclass
class DatabaseConfig:
    url: str = "sqlite:///var/yinling.db"
    echo: bool = False


@dataclass
class RedisConfig:
    url: str | None = None
    prefix: str = "yinling:"  # every key of the deployment: store, rate limits, and RQ's under `<prefix>rq:`


@dataclass
class NluConfig:
    backend: str = "builtin"  # builtin | rasa
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = 1.5


@dataclass
class WechatConfig:
    token: str | None = None
    app_id: str | None = None
    app_secret: str | None = None
    aes_key: str | None = None
    api_base: str = "https://api.weixin.qq.com"
    reply_budget_seconds: float = 4.0
    dedup_ttl_seconds: int = 300  # >= signature_max_age_seconds: a replayed request is a duplicate
    menu: list[dict[str, Any]] = field(default_factory=list)
    templates: dict[str, str] = field(default_factory=dict)
    notice_template: str = "notice"  # name in `templates` used for notices outside the 48-hour window
    notice_fields: dict[str, str] = field(default_factory=lambda: {"title": "thing1", "body": "thing2"})
    max_reply_bytes: int = 2000  # WeChat cuts text messages at 2048 bytes
    cs_window_hours: int = 48  # customer-service messages only this long after the user's last action
    cs_quota: int = 5  # customer-service messages per user per window
    http_timeout_seconds: float = 5.0
    send_attempts: int = 3  # bounded delivery attempts for a late reply (RQ retries or the thread)
    worker_threads: int = 8  # turns run in these threads so the webhook can answer within the budget
    signature_max_age_seconds: int = 300  # refuse signed requests older than this (replays); 0 = off
    # Plaintext messages while WECHAT_AES_KEY is set (the account in 兼容/安全 mode always encrypts):
    # None = refused whenever the key is set; true only while switching the account's mode.
    accept_plaintext: bool | None = None
    # A turn holds its message (dedup) and its user (one turn at a time) on leases this long, renewed while
    # it runs: after a worker dies, WeChat's next retry (every 5 s) runs the turn instead of finding it busy.
    lease_seconds: float = 6.0
    reply_queue: str = "replies"  # RQ queue for replies that missed the window (ahead of bulk notices)


@dataclass
class PushConfig:
    """Notices, fan-out on RQ, reminders and review escalation."""

    batch_size: int = 200  # deliveries per RQ job
    job_timeout_seconds: int = 900
    wechat_per_second: int = 300  # per-channel send rates shared by every worker (Redis counters)
    sms_per_second: int = 20
    wecom_per_minute: int = 20  # WeCom group robot limit per webhook
    retry_backoff_seconds: list[int] = field(default_factory=lambda: [10, 60, 300, 1800])
    sending_lease_seconds: int = 120  # a claim older than this with no progress belongs to a dead worker
    reminder_day_before_hour: int = 18  # local hour of the day-before reminder
    reminder_hours_before: float = 2.0
    review_leader_after_hours: int = 24
    review_auto_confirm_after_hours: int = 48
    records_due_working_days: int = 10
    http_timeout_seconds: float = 5.0
    # Parallel sends per batch job. After a worker crash up to this many messages are reported
    # "uncertain" (maybe delivered, never re-sent); 1 gives strict one-at-a-time at a lower rate.
    send_threads: int = 16


@dataclass
class AdminConfig:
    """Coordinator pages under /admin."""

    session_hours: int = 12
    lockout_failures: int = 5
    lockout_minutes: int = 15
    cookie_secure: bool | None = None  # None: Secure in production, plain in development
    # Log-in limits (0 = off): attempts per client address per minute, and password checks
    # per 10 seconds for the whole deployment (each costs ~0.2 s of CPU; the webhook keeps its capacity).
    login_per_address_per_minute: int = 10
    login_checks_per_10s: int = 10
    login_checks_at_once: int = 1  # per process; more wait for nothing: they are refused at once
    # Reverse proxies in front that append X-Forwarded-For (nginx: 1); 0 = use the socket's address.
    trusted_proxies: int = 0
    # Hours from minutes: the whole hours count, the remaining minutes map through these steps
    # [up to minutes, hours]: ≤15 → 0, ≤45 → 0.5, ≤60 → 1.
    hours_rounding: list[list[float]] = field(default_factory=lambda: [[15, 0.0], [45, 0.5], [60, 1.0]])


@dataclass
class RecognitionConfig:
    """Star levels (星级志愿者) by total hours and the monthly summary."""

    star_thresholds: list[int] = field(default_factory=lambda: [100, 300, 600, 1000, 1500])
    monthly_summary: bool = True
    monthly_summary_day: int = 1


@dataclass
class SmsAndroidConfig:
    """SMS Gateway for Android in Local mode (a phone with the community centre's SIM)."""

    base_url: str = "http://192.168.1.10:8080"  # the phone's local server; the API is under /messages
    username: str = "sms"
    password: str | None = None  # SMS_ANDROID_PASSWORD
    signing_key: str | None = None  # SMS_ANDROID_SIGNING_KEY (app: Settings → Webhooks → Signing Key)
    max_skew_seconds: int = 300  # X-Timestamp older or newer than this is refused
    sim_number: int | None = None
    timeout_seconds: float = 10.0


@dataclass
class SmsGammuConfig:
    """A GSM/4G modem run by gammu-smsd; inbound via scripts/gammu_run_on_receive.py."""

    outbound: str = "inject"  # inject (gammu-smsd-inject) | sql (gammu's SQL backend, outbox table)
    inject_path: str = "gammu-smsd-inject"
    smsd_config: str | None = None  # -c path of the gammu-smsd config, when not the default
    sql_url: str | None = None  # SMS_GAMMU_SQL_URL (contains the password)
    creator_id: str = "yinling"
    timeout_seconds: float = 15.0


@dataclass
class SmsTencentConfig:
    """Tencent Cloud SMS (API 2021-01-11): templates outbound, reply callback inbound."""

    secret_id: str | None = None  # TENCENT_SECRET_ID
    secret_key: str | None = None  # TENCENT_SECRET_KEY
    sdk_app_id: str = ""
    sign_name: str = ""
    region: str = "ap-guangzhou"
    endpoint: str = "sms.tencentcloudapi.com"
    scheme: str = "https"
    timeout_seconds: float = 10.0
    # name → {id: template id, vars: {variable name: max characters, ...}} (Tencent: variables by position)
    templates: dict[str, Any] = field(default_factory=dict)


@dataclass
class SmsAliyunConfig:
    """Aliyun SMS (Dysmsapi 2017-05-25): templates outbound, HTTP batch push (SmsUp) inbound."""

    access_key_id: str | None = None  # ALIYUN_ACCESS_KEY_ID
    access_key_secret: str | None = None  # ALIYUN_ACCESS_KEY_SECRET
    sign_name: str = ""
    endpoint: str = "dysmsapi.aliyuncs.com"
    scheme: str = "https"
    timeout_seconds: float = 10.0
    templates: dict[str, Any] = field(default_factory=dict)  # name → {id: SMS_123, vars: {name: max chars}}


@dataclass
class SmsConfig:
    """The SMS channel: which providers are mounted at /sms/<provider>, and the shared limits."""

    providers: list[str] = field(default_factory=lambda: ["console"])
    outbound: str = "console"  # provider for notices and codes (replies go back the way they came)
    webhook_secret: str | None = None  # SMS_WEBHOOK_SECRET: gammu script HMAC; ?token= for Tencent/Aliyun
    queue: str = "replies"  # RQ queue for replies when Redis is configured (else a background thread)
    reply_threads: int = 4
    max_parts: int = 3  # a reply is at most this many SMS: 70 characters alone, 67 per part
    id_dedup_seconds: int = 86400  # a provider message id is processed once within this
    content_dedup_seconds: int = 10  # without an id: same number + same text within this is one message
    rate_per_minute: int = 15  # inbound messages per number; more are dropped (one polite notice)
    rate_per_hour: int = 120
    loop_limit: int = 20  # identical texts to one number within loop_window_seconds, then stop
    loop_window_seconds: int = 300
    send_attempts: int = 3  # bounded attempts per SMS when the provider says retry
    android: SmsAndroidConfig = field(default_factory=SmsAndroidConfig)
    gammu: SmsGammuConfig = field(default_factory=SmsGammuConfig)
    tencent: SmsTencentConfig = field(default_factory=SmsTencentConfig)
    aliyun: SmsAliyunConfig = field(default_factory=SmsAliyunConfig)


@dataclass
class AsrTencentConfig:
    """Tencent Cloud 一句话识别 (SentenceRecognition, API 2019-06-14): audio up to 60 s, sent inline."""

    secret_id: str | None = None  # TENCENT_ASR_SECRET_ID (falls back to TENCENT_SECRET_ID of sms.tencent)
    secret_key: str | None = None  # TENCENT_ASR_SECRET_KEY (falls back to TENCENT_SECRET_KEY)
    region: str = "ap-guangzhou"
    endpoint: str = "asr.tencentcloudapi.com"
    scheme: str = "https"
    engine: str = "16k_zh"  # EngSerViceType: 16k_zh (Mandarin), 16k_zh_dialect (many dialects), 8k_zh


@dataclass
class AsrConfig:
    """Speech recognition for WeChat voice messages that arrive without WeChat's own transcript."""

    # auto: openai when `url` is set, else none | openai | tencent | none
    provider: str = "auto"
    url: str | None = None  # YINLING_ASR_URL: an OpenAI-compatible server (POST {url}/v1/audio/transcriptions)
    model: str = "whisper-1"
    api_key: str | None = None  # YINLING_ASR_API_KEY, sent as a Bearer token when set
    language: str = "zh"
    timeout_seconds: float = 3.0  # one recognition; the turn's 5-second window covers download + decode too
    max_seconds: float = 60.0  # longer audio is cut (WeChat voice messages are at most 60 s)
    tencent: AsrTencentConfig = field(default_factory=AsrTencentConfig)


@dataclass
class TtsTencentConfig:
    """Tencent Cloud 语音合成 (TextToVoice, API 2019-08-23)."""

    secret_id: str | None = None  # TENCENT_TTS_SECRET_ID
    secret_key: str | None = None  # TENCENT_TTS_SECRET_KEY
    region: str = "ap-guangzhou"
    endpoint: str = "tts.tencentcloudapi.com"
    scheme: str = "https"
    voice_type: int = 101001
    speed: float = -1.0  # -2 (0.6x) .. 6; a little slower than normal for older listeners


@dataclass
class TtsConfig:
    """Replies read aloud (念给我听): which speech synthesizer, and how much of a reply becomes voice."""

    backend: str = "espeak"  # espeak | openai | tencent | off
    fallback: str = "espeak"  # takes over when the backend fails; off = none
    url: str = ""  # YINLING_TTS_URL: an OpenAI-compatible server (POST {url}/v1/audio/speech)
    model: str = "tts-1"  # YINLING_TTS_MODEL
    voice: str = "alloy"  # YINLING_TTS_VOICE
    api_key: str | None = None  # YINLING_TTS_API_KEY
    timeout_seconds: float = 10.0
    espeak_path: str = "espeak-ng"
    espeak_voice: str = "cmn"
    espeak_speed: int = 140  # words per minute (espeak's default is 175)
    max_chars: int = 120  # characters per voice message (WeChat plays at most 60 s; espeak: ~2.5 a second)
    max_messages: int = 2  # voice messages per reading (each counts against the customer-service quota)
    tencent: TtsTencentConfig = field(default_factory=TtsTencentConfig)


@dataclass
class Config:
    app: AppConfig = field(default_factory=AppConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    nlu: NluConfig = field(default_factory=NluConfig)
    dialogs: Settings = field(default_factory=Settings)  # the dialogs own their settings' type
    wechat: WechatConfig = field(default_factory=WechatConfig)
    push: PushConfig = field(default_factory=PushConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    sms: SmsConfig = field(default_factory=SmsConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    secret_key: str = ""
    secret_key_old: str = ""  # YINLING_SECRET_KEY_OLD: previous keys, comma-separated, during a key rotation

    @property
    def old_secret_keys(self) -> list[str]:
        """The previous secrets still read (never written) while `python -m bot keys rotate` moves rows."""
        return [k.strip() for k in self.secret_key_old.split(",") if k.strip()]

    @property
    def var_path(self) -> Path:
        p = Path(self.app.var_dir)
        return p if p.is_absolute() else ROOT / p


# Environment variable -> dotted key. Secrets are only ever read from here.
ENV_MAP: dict[str, str] = {
    "YINLING_ENV": "app.env",
    "YINLING_HOST": "app.host",
    "YINLING_PORT": "app.port",
    "YINLING_LOG_LEVEL": "app.log_level",
    "YINLING_PUBLIC_URL": "app.public_url",
    "YINLING_METRICS_TOKEN": "app.metrics_token",
    "YINLING_DATABASE_URL": "database.url",
    "YINLING_REDIS_URL": "redis.url",
    "YINLING_REDIS_PREFIX": "redis.prefix",
    "YINLING_NLU_BACKEND": "nlu.backend",
    "YINLING_RASA_URL": "nlu.rasa_url",
    "WECHAT_TOKEN": "wechat.token",
    "WECHAT_APP_ID": "wechat.app_id",
    "WECHAT_APP_SECRET": "wechat.app_secret",
    "WECHAT_AES_KEY": "wechat.aes_key",
    "WECHAT_API_BASE": "wechat.api_base",
    "YINLING_TTS_BACKEND": "tts.backend",
    "YINLING_TTS_URL": "tts.url",
    "YINLING_TTS_MODEL": "tts.model",
    "YINLING_TTS_VOICE": "tts.voice",
    "YINLING_TTS_API_KEY": "tts.api_key",
    "TENCENT_TTS_SECRET_ID": "tts.tencent.secret_id",
    "TENCENT_TTS_SECRET_KEY": "tts.tencent.secret_key",
    "YINLING_SECRET_KEY": "secret_key",
    "YINLING_SECRET_KEY_OLD": "secret_key_old",
    "SMS_WEBHOOK_SECRET": "sms.webhook_secret",
    "SMS_ANDROID_URL": "sms.android.base_url",
    "SMS_ANDROID_USERNAME": "sms.android.username",
    "SMS_ANDROID_PASSWORD": "sms.android.password",
    "SMS_ANDROID_SIGNING_KEY": "sms.android.signing_key",
    "SMS_GAMMU_SQL_URL": "sms.gammu.sql_url",
    "TENCENT_SECRET_ID": "sms.tencent.secret_id",
    "TENCENT_SECRET_KEY": "sms.tencent.secret_key",
    "ALIYUN_ACCESS_KEY_ID": "sms.aliyun.access_key_id",
    "ALIYUN_ACCESS_KEY_SECRET": "sms.aliyun.access_key_secret",
    "YINLING_ASR_URL": "asr.url",
    "YINLING_ASR_PROVIDER": "asr.provider",
    "YINLING_ASR_MODEL": "asr.model",
    "YINLING_ASR_API_KEY": "asr.api_key",
    "TENCENT_ASR_SECRET_ID": "asr.tencent.secret_id",
    "TENCENT_ASR_SECRET_KEY": "asr.tencent.secret_key",
}
SECRET_KEYS = {"app.metrics_token", "wechat.app_secret", "wechat.aes_key", "wechat.token",
               "secret_key", "secret_key_old",
               "sms.webhook_secret", "sms.android.password", "sms.android.signing_key", "sms.gammu.sql_url",
               "sms.tencent.secret_id", "sms.tencent.secret_key",
               "sms.aliyun.access_key_id", "sms.aliyun.access_key_secret",
               "asr.api_key", "asr.tencent.secret_id", "asr.tencent.secret_key",
               "tts.api_key", "tts.tencent.secret_id", "tts.tencent.secret_key"}


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or value == "":
            return None
        return _coerce(value, args[0], key)
    if value is None:
        raise ConfigError(f"{key}: a value is required")
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if tp is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            if isinstance(value, dict | list):
                raise ValueError(value)
            return str(value)
        if origin is list:
            if not isinstance(value, list):
                raise ValueError(value)
            return value
        if origin is dict:
            if not isinstance(value, dict):
                raise ValueError(value)
            return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{key}: {value!r} is not a valid {getattr(tp, '__name__', tp)}") from exc
    return value


def _build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown configuration key: {prefix}{unknown[0]}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        tp = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(f"{key}: expected a section (a mapping)")
            kwargs[name] = _build(tp, value, key + ".")
        else:
            kwargs[name] = _coerce(value, tp, key)
    return cls(**kwargs)


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: cannot override inside a non-section")
    node[parts[-1]] = value


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict) and prefix + k not in ("wechat.templates",):
            out.update(_flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def load_config(
    path: Path | str | None = None,
    env: typing.Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Load config.yaml, apply environment variables, then `overrides` (dotted keys or sections).

    Raises ConfigError naming the offending key: unknown keys, wrong types, secrets in the file,
    and a missing YINLING_SECRET_KEY in production.
    """
    env = os.environ if env is None else env
    file_path = Path(path) if path is not None else Path(env.get("YINLING_CONFIG", DEFAULT_CONFIG))
    data: dict[str, Any] = {}
    if file_path.exists():
        try:
            loaded = yaml.safe_load(file_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file_path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file_path}: the top level must be a mapping")
        data = loaded
    elif path is not None:
        raise ConfigError(f"configuration file not found: {file_path}")
    for key, value in _flatten(data).items():
        if key in SECRET_KEYS and value not in (None, ""):
            env_name = next(n for n, k in ENV_MAP.items() if k == key)
            raise ConfigError(f"{key}: secrets belong in the environment ({env_name}), not in {file_path.name}")
    for name, dotted in ENV_MAP.items():
        if name in env:
            _set_dotted(data, dotted, env[name])
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and "." not in key and key in data and isinstance(data[key], dict):
            data[key] = {**data[key], **value}
        else:
            _set_dotted(data, key, value)
    cfg: Config = _build(Config, data, "")
    if cfg.app.env not in ("development", "production"):
        raise ConfigError(f"app.env: {cfg.app.env!r} must be development or production")
    if not re.fullmatch(r"[A-Za-z0-9_.:{}-]*", cfg.redis.prefix):
        raise ConfigError(f"redis.prefix: {cfg.redis.prefix!r} may hold only letters, digits and _ . : - {{ }}"
                          " (it starts every Redis key of the deployment, RQ's included)")
    if cfg.nlu.backend not in ("builtin", "rasa"):
        raise ConfigError(f"nlu.backend: {cfg.nlu.backend!r} must be builtin or rasa")
    if not (cfg.tts.tencent.secret_id or cfg.tts.tencent.secret_key):  # one Tencent Cloud account for all
        cfg.tts.tencent.secret_id, cfg.tts.tencent.secret_key = cfg.sms.tencent.secret_id, cfg.sms.tencent.secret_key
    for name, value in (("tts.backend", cfg.tts.backend), ("tts.fallback", cfg.tts.fallback)):
        if value not in ("espeak", "openai", "tencent", "off", ""):
            raise ConfigError(f"{name}: {value!r} must be espeak, openai, tencent or off")
    if not cfg.secret_key:
        if cfg.app.env == "production":
            raise ConfigError("secret_key: set YINLING_SECRET_KEY in the environment (production)")
        cfg.secret_key = _dev_secret(cfg.var_path)
    elif len(cfg.secret_key) < 16:
        raise ConfigError("secret_key: YINLING_SECRET_KEY must be at least 16 characters")
    # A hand-off promises a call by SMS only where one can be sent (bot.push.senders: no console in production).
    cfg.dialogs.sms_out = bool(cfg.sms.outbound) and not (cfg.app.env == "production" and cfg.sms.outbound == "console")
    if any(len(k) < 16 for k in cfg.old_secret_keys):
        raise ConfigError("secret_key_old: each key in YINLING_SECRET_KEY_OLD must be at least 16 characters")
    return cfg


def _dev_secret(var: Path) -> str:
    """Development only: a random key kept in var/secret.key so encrypted phones survive restarts."""
    var.mkdir(parents=True, exist_ok=True)
    key_file = var / "secret.key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()
