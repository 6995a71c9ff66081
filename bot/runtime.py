"""Everything a process needs, built once: config, database, store, NLU. Importing opens nothing."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from data.crypto import PhoneVault
from data.db import make_engine, make_sessionmaker
from data.kv import MemoryStore, RedisStore, Store
from data.models import Place

from . import metrics
from .config import Config, ConfigError, load_config

log = logging.getLogger("yinling")


@dataclass
class Runtime:
    """The wired parts of one process (web worker, queue worker or CLI)."""

    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    store: Store
    vault: PhoneVault
    _nlu: Any = field(default=None, repr=False)

    @property
    def redis(self) -> Any | None:
        """The raw Redis client when configured (queues need it), else None."""
        return self.store.client if isinstance(self.store, RedisStore) else None

    @property
    def nlu(self) -> Any:
        """The NLU parser (built-in or Rasa over HTTP), loaded on first use or by `load_nlu`."""
        if self._nlu is None:
            self.load_nlu()
        return self._nlu

    def load_nlu(self) -> None:
        cfg = self.config.nlu
        builtin = self._builtin_parser()
        if cfg.backend == "rasa":
            from nlu.rasa_client import RasaHTTPParser

            # While the Rasa server cannot be asked, the built-in parser answers (logged and counted).
            self._nlu = RasaHTTPParser(cfg.rasa_url, timeout=cfg.rasa_timeout, fallback=builtin,
                                       on_fallback=metrics.nlu_fallback)
            return
        self._nlu = builtin

    def _builtin_parser(self) -> Any:
        from nlu import Parser

        try:
            with self.sessions() as s:
                names = list(s.scalars(select(Place.name)))
        except Exception:  # noqa: BLE001 - the database may not be migrated yet; the seed file still counts
            log.warning("place names not read from the database; using the seed gazetteer only")
            names = []
        return Parser.load(places=names)

    def health(self) -> dict[str, Any]:
        """Status of each dependency, for /healthz and `python -m bot` checks."""
        out: dict[str, Any] = {}
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            out["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            out["database"] = f"error: {type(exc).__name__}"
        if isinstance(self.store, RedisStore):
            try:
                self.store.ping()
                out["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                out["redis"] = f"error: {type(exc).__name__}"
        else:
            out["redis"] = "not configured (in-process store, single process only)"
        return out


def rq_key_prefix(redis_prefix: str) -> str:
    """RQ's key prefix for a deployment: `yinling:` gives `yinling:rq`, so its queues, jobs, registries,
    workers and scheduler locks are `yinling:rq:queue:notices`, `yinling:rq:job:<id>`, `yinling:rq:wip:…`."""
    return redis_prefix + "rq"


_RQ_BOUND: list[str] = []  # the RQ key prefix this process chose (bind_rq_prefix), once chosen


def bind_rq_prefix(redis_prefix: str) -> str:
    """Put every key RQ keeps in this process under the deployment's prefix; returns RQ's prefix in effect.

    RQ reads `RQ_KEY_PREFIX` once, when it is first imported, so it is one per process: `build_runtime` sets
    it before anything imports RQ. A later runtime with another prefix in the same process (tests,
    benchmarks) shares the first one's RQ keys. RQ imported before any runtime was built (with its own
    `rq:` keys, outside the deployment's prefix) is a start-up error.
    """
    wanted = rq_key_prefix(redis_prefix)
    loaded = sys.modules.get("rq.defaults")
    if loaded is None:
        os.environ["RQ_KEY_PREFIX"] = wanted
        _RQ_BOUND[:] = [wanted]
        return wanted
    current = str(loaded.RQ_KEY_PREFIX)
    if current != wanted and not _RQ_BOUND:
        raise ConfigError(f"redis.prefix: RQ was imported before the runtime was built and keeps its keys under "
                          f"{current}:, not {wanted}: (start workers with `python -m bot worker`, or set "
                          f"RQ_KEY_PREFIX={wanted})")
    if current != wanted:
        log.info("RQ keys of this process stay under %s: (bound first); this runtime's prefix is %s",
                 current, redis_prefix)
    return current


def build_runtime(config: Config | None = None, overrides: dict[str, Any] | None = None, *,
                  ping_when_idle: bool = False) -> Runtime:
    """`ping_when_idle`: the web app's pool pings a connection only after it sat idle (`data.db.make_engine`);
    workers and commands ping on every checkout."""
    cfg = config or load_config(overrides=overrides)
    engine = make_engine(cfg.database.url, echo=cfg.database.echo, ping_when_idle=ping_when_idle)
    store: Store
    if cfg.redis.url:
        bind_rq_prefix(cfg.redis.prefix)
        store = RedisStore.from_url(cfg.redis.url, prefix=cfg.redis.prefix)
    else:
        log.info("no Redis configured: using the in-process store (single process only)")
        store = MemoryStore()
    sessions = make_sessionmaker(engine)
    metrics.watch_sessions(sessions)
    return Runtime(cfg, engine, sessions, store, PhoneVault(cfg.secret_key, cfg.old_secret_keys))


def require_production_services(cfg: Config) -> None:
    """Production refuses to start without Redis: the in-process store holds one process's state only, so
    several web workers would lose dedup, turn locks and the queue between them."""
    if cfg.app.env == "production" and not cfg.redis.url:
        raise ConfigError("redis.url: production needs Redis (set YINLING_REDIS_URL); without it each web "
                          "worker would keep its own conversations, duplicates and queue")
